"""The sysadmin sets up a notification channel in the console and sends a test that a real local
HTTP receiver gets; a robot that refuses is reported with its own words; an analyst has no page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, login, open_page, shot, wait_ready
from tests.integration.notifications.receivers import http_receiver


def test_sysadmin_configures_and_tests_a_channel(page: Page, console: Console) -> None:
    with http_receiver() as http:
        login(page, console, "sam", expect="overview")
        open_page(page, console, "notifications")
        page.get_by_test_id("channel-new").click()
        page.get_by_test_id("channel-dialog-name").fill("值班群")
        page.get_by_test_id("channel-dialog-type").select_option("wecom")
        page.get_by_test_id("channel-dialog-min_level").select_option("high")
        page.get_by_test_id("channel-dialog-url").fill(f"{http.url}/cgi-bin/webhook/send?key=e2e")
        page.get_by_test_id("channel-dialog-ok").click()
        row = page.locator("[data-testid=channel-row][data-name='值班群']")
        expect(row).to_contain_text("企业微信机器人")
        row.get_by_test_id("channel-test").click()
        expect(page.get_by_test_id("flash-success").last).to_contain_text("已通过 值班群 发送测试消息")
        assert http.requests[-1]["body"]["msgtype"] == "markdown"
        assert "测试通知" in http.requests[-1]["body"]["markdown"]["content"]
        shot(page, "24-notifications")
        http.answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
        row.get_by_test_id("channel-test").click()
        expect(page.get_by_test_id("flash-error").last).to_contain_text("invalid webhook url")
        page.get_by_test_id("flash-error").last.get_by_role("button").click()  # error notices stay until closed
        # A dialog left open is closed by navigating away.
        page.get_by_test_id("channel-new").click()
        expect(page.get_by_test_id("channel-dialog")).to_be_visible()
        page.evaluate("location.hash = '#/rules'")
        wait_ready(page, "rules")
        expect(page.get_by_test_id("channel-dialog")).to_have_count(0)
        open_page(page, console, "notifications")
        page.locator("[data-testid=channel-row][data-name='值班群']").get_by_test_id("channel-delete").click()
        expect(page.locator("[data-testid=channel-row][data-name='值班群']")).to_have_count(0)
        page.get_by_test_id("logout").click()
        login(page, console, "ana", expect="overview")
        page.goto(f"{console.url}/console/#/notifications")
        wait_ready(page, "denied")
