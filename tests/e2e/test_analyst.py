"""An analyst triages alerts: queue filters and facets, keyboard selection, bulk acknowledge,
detail with the matching event and pivots, comment, close with a reason, send to a case, hunt."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, login, open_page, shot, wait_ready
from tests.e2e.seed import seed_alerts, seed_events

RULE = "E2E SSH brute force"


def _alert(console: Console, token: str, alert_id: str) -> dict:
    resp = httpx.get(f"{console.url}/api/v1/alerts/{alert_id}", headers={"Authorization": f"Bearer {token}"})
    resp.raise_for_status()
    return resp.json()


def test_analyst_triages_and_closes_an_alert(page: Page, console: Console) -> None:
    events = seed_events(console.store, console.prefix, host="web-01", user="root", address="203.0.113.7")
    ids = seed_alerts(console.store, console.prefix, RULE, 4, event=events[0])
    login(page, console, "ana", expect="overview")
    open_page(page, console, "alerts")

    # Facet counts: the rule facet lists our rule with its count; clicking it filters the queue.
    rule_facet = page.get_by_test_id("facet-rule").locator(f"button[data-key='{RULE}']")
    expect(rule_facet.locator(".n")).to_have_text("4")
    rule_facet.click()
    wait_ready(page, "alerts")
    rows = page.get_by_test_id("alert-row")
    expect(rows).to_have_count(4)
    expect(page.get_by_test_id("alerts-total")).to_contain_text("4")
    # Severity colours: each level has its own class.
    assert set(page.locator("tbody .sev").evaluate_all("els => els.map(e => e.dataset.level)")) <= {"medium", "high", "critical"}
    shot(page, "10-alert-queue")

    # Keyboard: j moves down, x selects, k moves up, x selects again -> two selected; bulk acknowledge.
    page.locator("body").press("x")
    page.locator("body").press("j")
    page.locator("body").press("x")
    expect(page.get_by_test_id("alerts-selected")).to_contain_text("2")
    selected = page.locator("tr.selected").evaluate_all("els => els.map(e => e.dataset.id)")
    assert len(selected) == 2
    page.get_by_test_id("bulk-ack").click()
    expect(page.get_by_test_id("flash-success")).to_be_visible()
    for alert_id in selected:
        expect(page.locator(f"tr[data-id='{alert_id}'] .status")).to_have_attribute("data-status", "acknowledged")

    # The selection is cleared after an action; select the same two again and assign them.
    expect(page.get_by_test_id("alerts-selected")).to_contain_text("0")
    page.locator("body").press("k")
    page.locator("body").press("x")
    page.locator("body").press("j")
    page.locator("body").press("x")
    page.get_by_test_id("bulk-assign").click()
    page.get_by_test_id("assign-dialog-assignee").fill("newbie")
    page.get_by_test_id("assign-dialog-ok").click()
    for alert_id in selected:
        expect(page.locator(f"tr[data-id='{alert_id}'] td").last).to_have_text("newbie")

    # Bulk close asks for a reason; cancelling changes nothing.
    page.locator("body").press("x")
    page.get_by_test_id("bulk-close").click()
    expect(page.get_by_test_id("close-dialog")).to_be_visible()
    page.get_by_test_id("close-dialog-cancel").click()

    # Enter opens the alert under the cursor.
    page.locator("body").press("k")
    target = page.locator("tr.cursor").get_attribute("data-id")
    assert target is not None
    page.locator("body").press("Enter")
    wait_ready(page, "alert")
    detail = page.get_by_test_id("alert-detail")
    expect(detail.get_by_test_id("alert-event")).to_contain_text("Failed password for root")
    expect(detail.get_by_test_id("pivot-user.name")).to_have_text("root")
    page.get_by_test_id("comment-text").fill("Brute force from a scanner; blocked at the edge.")
    page.get_by_test_id("comment-submit").click()
    wait_ready(page, "alert")
    expect(page.get_by_test_id("alert-comments")).to_contain_text("blocked at the edge")

    page.get_by_test_id("alert-close").click()
    page.get_by_test_id("close-dialog-reason").select_option("false_positive")
    page.get_by_test_id("close-dialog-comment").fill("Known scanner")
    page.get_by_test_id("close-dialog-ok").click()
    wait_ready(page, "alert")
    expect(page.locator("[data-testid=alert-detail] .status").first).to_have_attribute("data-status", "closed")
    expect(page.get_by_test_id("alert-history")).to_contain_text("closed")
    shot(page, "11-alert-detail")

    # The API agrees: closed with the reason, by the analyst, history recorded.
    token = console.api_token("ana")
    stored = _alert(console, token, target)
    assert stored["alert"]["alert"]["status"] == "closed"
    assert stored["alert"]["alert"]["close_reason"] == "false_positive"
    assert any(h.get("to") == "closed" and h.get("actor") == "ana" for h in stored["history"])
    assert target in ids

    # Pivot to hunt from the entity.
    page.get_by_test_id("pivot-source.ip").click()
    wait_ready(page, "hunt")
    expect(page.get_by_test_id("hunt-q")).to_have_value('source.ip:"203.0.113.7"')
    expect(page.get_by_test_id("hunt-row").first).to_be_visible()
    # The pivot keeps the alert's time window (15 minutes either side), not the last 24 hours.
    expect(page.get_by_test_id("hunt-range")).to_contain_text("–")
    shown = int("".join(ch for ch in page.get_by_test_id("hunt-total").inner_text() if ch.isdigit()))
    assert 1 <= shown < 30
    assert page.locator("[data-testid=hunt-histogram] span").count() > 0
    # The histogram has bars where the events are (the last 2.5 hours of the day shown).
    heights = page.locator("[data-testid=hunt-histogram] span").evaluate_all("els => els.map(e => parseFloat(e.style.height))")
    assert max(heights) == 100 and min(heights) == 0
    # Field picker: add event.outcome as a column, drop message.
    page.locator("details").filter(has=page.get_by_test_id("hunt-fields")).locator("summary").click()
    page.get_by_test_id("hunt-fields").get_by_label("event.outcome", exact=True).check()
    page.get_by_test_id("hunt-fields").get_by_label("message", exact=True).uncheck()
    headers = page.locator("[data-testid=hunt-table] th")
    expect(headers.filter(has_text="event.outcome")).to_have_count(1)
    expect(headers.filter(has_text="message")).to_have_count(0)
    expect(page.get_by_test_id("hunt-row").first).to_contain_text("failure")
    shot(page, "12-hunt")


def test_analyst_sends_an_alert_to_a_case(page: Page, console: Console) -> None:
    ids = seed_alerts(console.store, console.prefix, "E2E case rule", 1, host="db-02", user="alice")
    login(page, console, "ana", expect="overview")
    open_page(page, console, "alerts")
    page.goto(f"{console.url}/console/#/alerts/{ids[0]}")
    wait_ready(page, "alert")
    page.get_by_test_id("alert-to-case").click()
    page.get_by_test_id("case-dialog-title").fill("E2E investigation db-02")
    page.get_by_test_id("case-dialog-ok").click()
    wait_ready(page, "case")
    expect(page.get_by_test_id("case-title")).to_have_text("E2E investigation db-02")
    expect(page.get_by_test_id("case-alerts")).to_contain_text("E2E case rule")
    page.get_by_test_id("case-note").fill("Asked the DBA about the logins.")
    page.get_by_test_id("case-note-submit").click()
    wait_ready(page, "case")
    expect(page.get_by_test_id("case-timeline")).to_contain_text("Asked the DBA")
    page.get_by_test_id("case-status").select_option("in_progress")
    wait_ready(page, "case")
    expect(page.locator("[data-testid=case-timeline] li[data-action=status]:not(.alert-entry)")).to_have_count(1)
    # The alert's own history is part of the case timeline: raised, then linked to this case.
    expect(page.locator("[data-testid=case-timeline] li.alert-entry[data-action=alert_raised]")).to_have_count(1)
    expect(page.locator("[data-testid=case-timeline] li.alert-entry[data-action=case]")).to_contain_text("E2E case rule")
    shot(page, "13-case-detail")
    page.get_by_test_id("nav-cases").click()
    wait_ready(page, "cases")
    expect(page.get_by_test_id("case-row").filter(has_text="E2E investigation db-02")).to_have_count(1)
    shot(page, "14-cases")
