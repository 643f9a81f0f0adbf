"""A sysadmin backs up a plan and starts a restore drill from the console, following its
progress, and sees the result with RPO/RTO against the objectives."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, login, shot, wait_ready


def _declare_plan(console: Console, plan_id: str) -> None:
    index = f"{console.prefix}-bkdata-1"
    console.store.ensure_index(index)
    docs = [(index, f"d{i}", {"@timestamp": "2026-11-20T00:00:00.000Z", "host": {"name": f"h{i % 4}"},
                              "message": f"backup me {i}"}) for i in range(200)]
    assert console.store.bulk_create(docs, refresh="wait_for").all_stored
    token = console.api_token("sam")
    plan = {"description": "E2E platform indices", "assets": {"elasticsearch": {"indices": [f"{console.prefix}-bkdata-*"]}},
            "objectives": {"rpo": "1h", "rto": "10m"},
            "drill": {"queries": [{"name": "host h1", "query": {"term": {"host.name": "h1"}}, "min_hits": 1}]}}
    resp = httpx.put(f"{console.url}/api/v1/backups/plans/{plan_id}", json=plan,
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 200, resp.text


def test_sysadmin_runs_a_backup_and_a_drill(page: Page, console: Console) -> None:
    _declare_plan(console, "e2e-es")
    login(page, console, "sam")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    page.get_by_test_id("nav-backups").click()
    wait_ready(page, "backups")
    row = page.locator("[data-testid=plan-row][data-plan='e2e-es']")
    expect(row).to_contain_text("1.0 h")

    row.get_by_test_id("run-backup").click()
    live = page.get_by_test_id("backup-live")
    expect(live).to_be_visible()
    expect(live).to_have_attribute("data-state", "ok", timeout=120_000)
    expect(page.locator("[data-testid=run-row] [data-status=success]")).to_have_count(1)

    page.locator("[data-testid=plan-row][data-plan='e2e-es']").get_by_test_id("run-drill").click()
    expect(live).to_have_attribute("data-state", "running")
    expect(live).to_have_attribute("data-state", "ok", timeout=180_000)
    expect(live.get_by_test_id("verdict")).to_have_attribute("data-status", "passed")
    expect(live.get_by_test_id("live-objectives")).to_contain_text("RTO")
    drill = page.locator("[data-testid=drill-row][data-status=passed]")
    expect(drill).to_have_count(1)
    expect(drill.get_by_test_id("drill-rpo")).to_contain_text("/ 1.0 h")
    expect(drill.get_by_test_id("drill-rto")).to_contain_text("/ 10.0 min")
    expect(page.locator("[data-testid=plan-row][data-plan='e2e-es'] [data-status=passed]")).to_have_count(1)
    assert page.locator("[data-testid=drill-chart] rect").count() == 2
    shot(page, "40-backups-drill")


def test_auditor_reads_backups_but_cannot_start_them(page: Page, console: Console) -> None:
    login(page, console, "aud")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    page.goto(f"{console.url}/console/#/backups")
    wait_ready(page, "backups")
    expect(page.get_by_test_id("plans-table")).to_be_visible()
    expect(page.get_by_test_id("run-backup")).to_have_count(0)
    expect(page.get_by_test_id("run-drill")).to_have_count(0)
