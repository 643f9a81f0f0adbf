"""Login, first-login password change, lockout, language switch, role-shaped navigation, idle timeout."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import INITIAL_PASSWORD, Console, login, shot, wait_ready


def test_first_login_requires_a_password_change(page: Page, console: Console) -> None:
    login(page, console, "newbie", INITIAL_PASSWORD, expect="password")
    shot(page, "01-password-change")
    expect(page.get_by_test_id("pw-required")).to_be_visible()
    # No other page is reachable before the change.
    page.goto(f"{console.url}/console/#/alerts")
    wait_ready(page, "password")
    page.get_by_test_id("pw-current").fill(INITIAL_PASSWORD)
    page.get_by_test_id("pw-new").fill("short")
    page.get_by_test_id("pw-again").fill("short")
    page.get_by_test_id("pw-submit").click()
    expect(page.get_by_test_id("pw-error")).not_to_be_empty()
    page.get_by_test_id("pw-new").fill("Fresh#Console2026z")
    page.get_by_test_id("pw-again").fill("Fresh#Console2026z")
    page.get_by_test_id("pw-submit").click()
    wait_ready(page, "overview")
    expect(page.get_by_test_id("user-name")).to_have_text("newbie")


def test_five_wrong_passwords_lock_the_account(page: Page, console: Console) -> None:
    page.goto(f"{console.url}/console/")
    wait_ready(page, "login")
    shot(page, "00-login")
    for attempt in range(5):
        page.get_by_test_id("login-username").fill("victim")
        page.get_by_test_id("login-password").fill(f"Wrong#Password{attempt}")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("login-error")).to_have_attribute("data-kind", "failed")
        page.get_by_test_id("login-error").evaluate("el => { el.textContent = ''; el.removeAttribute('data-kind'); }")
    # The right password no longer works: the account is locked.
    login(page, console, "victim")
    error = page.get_by_test_id("login-error")
    expect(error).to_have_attribute("data-kind", "locked")
    expect(error).to_contain_text(re.compile("lock|锁定", re.I))
    shot(page, "02-login-locked")
    assert page.evaluate("sessionStorage.getItem('qinglang.token')") is None


NAV_BY_ROLE = {
    "ana": ["overview", "alerts", "attack", "cases", "hunt", "rules", "compliance", "privacy"],
    "aud": ["overview", "alerts", "attack", "cases", "hunt", "rules", "compliance", "backups", "audit", "privacy"],
    "sam": ["overview", "alerts", "attack", "rules", "compliance", "backups", "notifications", "privacy"],  # the platform alerts routed to the sysadmin
    # users and roles, and the personal-information policy and unmasking (security administrator)
    "adm": ["users", "privacy"],
}


def test_each_role_sees_only_its_pages(context, console: Console) -> None:
    for username, pages in NAV_BY_ROLE.items():
        page = context.new_page()
        login(page, console, username, expect=pages[0])
        ids = page.locator("#nav a").evaluate_all("els => els.map(e => e.dataset.testid)")
        assert ids == [f"nav-{p}" for p in pages], (username, ids)
        if "audit" not in pages:
            page.goto(f"{console.url}/console/#/audit")
            wait_ready(page, "denied")
        page.get_by_test_id("logout").click()
        wait_ready(page, "login")
        page.close()


def test_admin_unlocks_the_locked_account(page: Page, console: Console) -> None:
    # Runs after the lockout test above (file order): "victim" is locked.
    login(page, console, "adm", expect="users")
    row = page.locator("[data-testid=user-row][data-user=victim]")
    expect(row).to_have_attribute("data-locked", "true")
    shot(page, "50-users")
    row.get_by_test_id("user-unlock").click()
    expect(page.locator("[data-testid=user-row][data-user=victim]")).to_have_attribute("data-locked", "false")
    page.get_by_test_id("logout").click()
    login(page, console, "victim", expect="overview")


def test_language_switch(page: Page, console: Console) -> None:
    login(page, console, "ana", expect="overview")
    expect(page.get_by_test_id("nav-alerts")).to_have_text("告警")
    page.get_by_test_id("lang-switch").select_option("en")
    wait_ready(page, "overview")
    expect(page.get_by_test_id("nav-alerts")).to_have_text("Alerts")
    expect(page.get_by_test_id("user-role")).to_have_text("Analyst")
    shot(page, "03-alerts-english")
    # The choice survives a reload.
    page.reload()
    wait_ready(page, "overview")
    expect(page.get_by_test_id("nav-cases")).to_have_text("Cases")
    page.get_by_test_id("lang-switch").select_option("zh-CN")
    expect(page.get_by_test_id("nav-cases")).to_have_text("事件工单")


def test_idle_timeout_returns_to_login(page: Page, console: Console) -> None:
    login(page, console, "ana", expect="overview")
    idle_ms = console.settings.api.idle_timeout_minutes * 60_000 + 1000
    page.evaluate(f"sessionStorage.setItem('qinglang.lastActivity', String(Date.now() - {idle_ms}))")
    page.reload()
    wait_ready(page, "login")
    expect(page.get_by_test_id("login-notice")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('qinglang.token')") is None
