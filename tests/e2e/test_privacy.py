"""Personal information in the console: an analyst sees the inventory (masked and tagged kinds)
and exports it as CSV; the security administrator unmasks one event with a case id and reason."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from collectors.models import Event
from collectors.service import ship_events
from core.timeutil import iso, utcnow
from tests.e2e.conftest import Console, login, shot, wait_ready

RIC = "11010519491231002X"
MOBILE = "13912345678"


def _seed(console: Console) -> tuple[str, str]:
    now = iso(utcnow())
    events = [Event(f"pii-e2e-{i}", "nginx.access", {
        "@timestamp": now, "message": f"GET /zwfw/verify?idcard={RIC}&mobile={MOBILE} 200",
        "url": {"path": "/zwfw/verify", "query": f"idcard={RIC}&mobile={MOBILE}"}, "host": {"name": "app01"}})
        for i in range(3)]
    ship_events(console.settings, console.store, events, source="e2e")
    console.store.refresh(f"{console.prefix}-events-*")
    hit = console.store.search(f"{console.prefix}-events-*", {"query": {"term": {"_id": "pii-e2e-0"}}})["hits"]["hits"][0]
    return hit["_index"], hit["_id"]


def test_inventory_and_unmask(page: Page, console: Console, tmp_path: Path) -> None:
    index, event_id = _seed(console)
    login(page, console, "ana")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    page.get_by_test_id("nav-privacy").click()
    wait_ready(page, "privacy")
    ric_rows = page.locator("[data-testid='privacy-row'][data-type='cn_ric']")
    expect(ric_rows.filter(has_text="url.query")).to_have_count(1)
    expect(ric_rows.filter(has_text="message").first).to_contain_text("app01")
    expect(page.get_by_test_id("privacy-policy-rows")).to_contain_text("*")
    assert page.get_by_test_id("privacy-unmask").count() == 0        # analysts cannot unmask
    with page.expect_download() as dl:
        page.get_by_test_id("privacy-csv").click()
    saved = tmp_path / "inv.csv"
    dl.value.save_as(saved)
    assert saved.read_text().startswith("dataset,field,type,events")
    shot(page, "40-privacy-inventory")
    page.get_by_test_id("logout").click()
    wait_ready(page, "login")

    login(page, console, "adm")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    page.get_by_test_id("nav-privacy").click()
    wait_ready(page, "privacy")
    page.get_by_test_id("privacy-case").fill("C-2026-17")
    page.get_by_test_id("privacy-reason").fill("核实泄露账户的真实手机号")
    page.get_by_test_id("privacy-index").fill(index)
    page.get_by_test_id("privacy-event").fill(event_id)
    page.get_by_test_id("privacy-unmask").click()
    result = page.get_by_test_id("privacy-unmask-result")
    expect(result).to_contain_text(MOBILE)
    expect(result).to_contain_text("C-2026-17")
    assert RIC not in result.inner_text()                             # masked at ingest: never stored
    shot(page, "41-privacy-unmask")
