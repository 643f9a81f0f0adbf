"""Sharing a case in the console: an analyst of 教委 shares a case with an analyst of 卫健委 through
the dialog on the case page; the grantee finds it under "shared with me", reads it read-only;
the owner revokes it and the grantee's next look is refused."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from core.auditing import Actor
from tests.e2e.conftest import INITIAL_PASSWORD, PASSWORD, Console, login, shot, wait_ready
from tests.e2e.seed import seed_alerts


def _setup(console: Console) -> str:
    from api.identity.service import IdentityService
    from audit.trail import AuditTrail

    console.ensure_departments()
    identity = IdentityService(console.settings, console.store, AuditTrail(console.settings, console.store))
    for name, org in (("jw-owner", "jiaowei"), ("wj-guest", "weijianwei")):
        identity.create_user(name, "analyst", actor=Actor(name="e2e-setup", role="cli"), password=INITIAL_PASSWORD,
                             organization=org)
        result = identity.login(name, INITIAL_PASSWORD)
        identity.change_password(identity.authenticate_token(result.token), INITIAL_PASSWORD, PASSWORD)
    alert_ids = seed_alerts(console.store, console.prefix, "Shared sudo jiaowei", 1,
                            event={"organization": {"id": "jiaowei"}})
    owner = {"authorization": f"Bearer {console.api_token('jw-owner')}"}
    case = httpx.post(f"{console.url}/api/v1/cases", headers=owner,
                      json={"title": "E2E shared incident", "alert_ids": alert_ids})
    assert case.status_code == 201 and case.json()["case"]["alert_ids"] == alert_ids, case.text
    return str(case.json()["case"]["case_id"])


def _open_case(page: Page, console: Console, case_id: str) -> None:
    page.goto(f"{console.url}/console/#/cases/{case_id}")
    wait_ready(page, "case")


def test_share_dialog_shared_with_me_and_revoke(page: Page, console: Console) -> None:
    case_id = _setup(console)
    login(page, console, "jw-owner")  # the console's default language, Chinese
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    _open_case(page, console, case_id)
    page.get_by_test_id("case-share-open").click()
    page.get_by_test_id("case-share-grantees").fill("wj-guest")
    page.get_by_test_id("case-share-expires").select_option("3d")
    page.get_by_test_id("case-share-reason").fill("Joint investigation with the Health Commission")
    page.get_by_test_id("case-share-ok").click()
    wait_ready(page, "case")
    row = page.get_by_test_id("case-share-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("wj-guest")
    expect(row).to_have_attribute("data-state", "active")
    shot(page, "23-case-share")
    page.get_by_test_id("logout").click()
    wait_ready(page, "login")

    login(page, console, "wj-guest")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    page.get_by_test_id("nav-cases").click()
    wait_ready(page, "cases")
    shared = page.get_by_test_id("shared-row")
    expect(shared).to_have_count(1)
    expect(shared).to_contain_text("E2E shared incident")
    expect(shared).to_contain_text("jw-owner")
    expect(shared).to_contain_text("教委")
    shot(page, "24-shared-with-me")
    shared.get_by_role("link").click()
    wait_ready(page, "case")
    expect(page.get_by_test_id("case-shared-notice")).to_contain_text("由教委（jw-owner）共享给您")
    expect(page.get_by_test_id("case-alerts")).to_contain_text("Shared sudo jiaowei")
    # Read-only: no status, note or share controls for the grantee.
    for testid in ("case-status", "case-note", "case-share-open"):
        expect(page.get_by_test_id(testid)).to_have_count(0)
    page.get_by_test_id("logout").click()
    wait_ready(page, "login")

    login(page, console, "jw-owner")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    _open_case(page, console, case_id)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("case-share-revoke").click()
    wait_ready(page, "case")
    expect(page.get_by_test_id("case-share-row")).to_have_attribute("data-state", "revoked")
    guest = {"authorization": f"Bearer {console.api_token('wj-guest')}"}
    assert httpx.get(f"{console.url}/api/v1/cases/{case_id}", headers=guest).status_code == 404
