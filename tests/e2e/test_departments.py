"""The department switcher: a district user narrows the whole console to one department (kept
across a reload), a department user sees only their own department's name and data."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from core.auditing import Actor
from tests.e2e.conftest import INITIAL_PASSWORD, PASSWORD, Console, login, shot, wait_ready
from tests.e2e.seed import seed_alerts


def _setup(console: Console) -> None:
    from api.identity.service import IdentityService
    from audit.trail import AuditTrail

    console.ensure_departments()
    identity = IdentityService(console.settings, console.store, AuditTrail(console.settings, console.store))
    identity.create_user("jw-ana", "analyst", actor=Actor(name="e2e-setup", role="cli"), password=INITIAL_PASSWORD,
                         organization="jiaowei")
    result = identity.login("jw-ana", INITIAL_PASSWORD)
    identity.change_password(identity.authenticate_token(result.token), INITIAL_PASSWORD, PASSWORD)
    seed_alerts(console.store, console.prefix, "DeptSwitch jiaowei", 1, event={"organization": {"id": "jiaowei"}})
    seed_alerts(console.store, console.prefix, "DeptSwitch weijianwei", 1,
                event={"organization": {"id": "weijianwei"}})


def _search(page: Page) -> None:
    page.get_by_test_id("alerts-q").fill("DeptSwitch")
    page.get_by_test_id("alerts-apply").click()
    wait_ready(page, "alerts")


def test_district_switches_departments_and_departments_see_their_own(page: Page, console: Console) -> None:
    _setup(console)
    rows = page.get_by_test_id("alert-row")
    login(page, console, "ana")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    page.get_by_test_id("lang-switch").select_option("zh-CN")
    switch = page.get_by_test_id("org-switch")
    expect(switch.locator("option")).to_have_text(["全区（全部部门）", "教委", "卫健委"])
    page.get_by_test_id("nav-alerts").click()
    wait_ready(page, "alerts")
    _search(page)
    expect(rows.filter(has_text="DeptSwitch jiaowei")).to_have_count(1)
    expect(rows.filter(has_text="DeptSwitch weijianwei")).to_have_count(1)

    switch.select_option("weijianwei")
    wait_ready(page, "alerts")
    _search(page)
    expect(rows.filter(has_text="DeptSwitch weijianwei")).to_have_count(1)
    expect(rows.filter(has_text="DeptSwitch jiaowei")).to_have_count(0)
    shot(page, "22-department-switcher")
    page.reload()
    wait_ready(page, "alerts")
    expect(page.get_by_test_id("org-switch")).to_have_value("weijianwei")
    _search(page)
    expect(rows.filter(has_text="DeptSwitch jiaowei")).to_have_count(0)
    page.get_by_test_id("lang-switch").select_option("en")
    expect(page.get_by_test_id("org-switch").locator("option")).to_have_text(
        ["District (all departments)", "Education Commission", "Health Commission"])
    page.get_by_test_id("org-switch").select_option("")
    wait_ready(page, "alerts")
    _search(page)
    expect(rows.filter(has_text="DeptSwitch jiaowei")).to_have_count(1)
    page.get_by_test_id("logout").click()
    wait_ready(page, "login")

    login(page, console, "jw-ana")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    expect(page.get_by_test_id("org-name")).to_have_text("Education Commission")
    expect(page.get_by_test_id("org-switch")).to_have_count(0)
    page.get_by_test_id("nav-alerts").click()
    wait_ready(page, "alerts")
    _search(page)
    expect(rows.filter(has_text="DeptSwitch jiaowei")).to_have_count(1)
    expect(rows.filter(has_text="DeptSwitch weijianwei")).to_have_count(0)
