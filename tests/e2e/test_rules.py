"""Rules: an analyst sees level, state, last run, hits and errors, disables a rule and manages its
exceptions; a sysadmin reads the same list without the controls."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from core.auditing import Actor, MemoryAuditor
from detections import repository as repo
from detections import service as rules_service
from tests.e2e.conftest import Console, login, open_page, shot, wait_ready


def test_analyst_disables_a_rule_and_manages_exceptions(page: Page, console: Console) -> None:
    imported = rules_service.import_own_rules(console.store, console.prefix, actor=Actor("e2e-setup", "cli"),
                                              auditor=MemoryAuditor())
    stored = imported["summary"]["loaded"]
    assert stored > 5
    # One rule failing (as the runner records it): the run status column says so, with the retry.
    failing = sorted(d["id"] for d in repo.list_rule_docs(console.store, console.prefix))[0]
    repo.update_stats(console.store, console.prefix, {failing: {
        "status": "failing", "failures": 2, "next_retry": "2030-01-01T00:00:00.000Z", "last_error": "boom"}})
    console.store.refresh(repo.rules_index(console.prefix))
    login(page, console, "ana", expect="overview")
    open_page(page, console, "alerts")
    page.get_by_test_id("nav-rules").click()
    wait_ready(page, "rules")
    rows = page.get_by_test_id("rule-row")
    expect(rows).to_have_count(stored)
    expect(page.get_by_test_id("rules-inventory")).to_contain_text(str(stored))
    expect(page.get_by_test_id("rules-import-last")).to_contain_text(str(stored))
    status = page.locator(f"[data-testid=rule-row][data-rule='{failing}'] [data-testid=rule-run-status]")
    expect(status).to_have_attribute("data-status", "failing")
    expect(status).to_contain_text("2")

    first = rows.first
    rule_id = first.get_attribute("data-rule")
    assert rule_id
    expect(first).to_have_attribute("data-enabled", "true")
    first.get_by_test_id("rule-toggle").click()
    row = page.locator(f"[data-testid=rule-row][data-rule='{rule_id}']")
    expect(row).to_have_attribute("data-enabled", "false")
    token = console.api_token("ana")
    doc = httpx.get(f"{console.url}/api/v1/rules/{rule_id}", headers={"Authorization": f"Bearer {token}"}).json()
    assert doc["enabled"] is False

    row.click()
    panel = page.get_by_test_id("rule-exceptions")
    expect(panel).to_be_visible()
    panel.get_by_test_id("exception-add").click()
    page.get_by_test_id("exception-dialog-field").fill("user.name")
    page.get_by_test_id("exception-dialog-op").select_option("equals")
    page.get_by_test_id("exception-dialog-values").fill("backup-svc, nagios")
    page.get_by_test_id("exception-dialog-comment").fill("Service accounts that log in by design")
    page.get_by_test_id("exception-dialog-ok").click()
    exception_row = page.get_by_test_id("exception-row")
    expect(exception_row).to_have_count(1)
    expect(exception_row).to_contain_text("backup-svc")
    shot(page, "15-rules")
    exceptions = httpx.get(f"{console.url}/api/v1/rules/{rule_id}/exceptions",
                           headers={"Authorization": f"Bearer {token}"}).json()["exceptions"]
    assert exceptions[0]["values"] == ["backup-svc", "nagios"]
    exception_row.get_by_test_id("exception-delete").click()
    expect(page.get_by_test_id("exception-row")).to_have_count(0)


def test_sysadmin_reads_rules_without_controls(page: Page, console: Console) -> None:
    login(page, console, "sam", expect="overview")
    open_page(page, console, "rules")
    expect(page.get_by_test_id("rule-row").first).to_be_visible()
    expect(page.get_by_test_id("rule-toggle")).to_have_count(0)
    page.get_by_test_id("rule-row").first.click()
    expect(page.get_by_test_id("rule-exceptions")).to_be_visible()
    expect(page.get_by_test_id("exception-add")).to_have_count(0)
