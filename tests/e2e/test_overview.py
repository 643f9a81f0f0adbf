"""The analyst lands on the overview: KPI cards, alerts over time (ECharts canvas), top lists that
filter the queue, events per dataset, health; the ATT&CK matrix shows coverage and opens alerts
of a technique; both pages in Chinese and English without script errors."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from core.auditing import Actor, MemoryAuditor
from detections.service import import_own_rules
from tests.e2e.conftest import Console, login, open_page, shot, wait_ready
from tests.e2e.seed import seed_alerts, seed_events

RULE = "E2E overview brute force"


def test_overview_and_attack_matrix(page: Page, console: Console) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    import_own_rules(console.store, console.prefix, actor=Actor("cli:e2e", "cli"), auditor=MemoryAuditor())
    seed_events(console.store, console.prefix, host="web-09", user="root", address="198.51.100.99")
    seed_alerts(console.store, console.prefix, RULE, 3, host="web-09", address="198.51.100.99")

    login(page, console, "ana", expect="overview")
    total = int(page.get_by_test_id("kpi-total").locator(".kpi-value").inner_text())
    assert total >= 3
    # ECharts drew on a canvas with a real size.
    size = page.get_by_test_id("chart-alerts").locator("canvas").first.bounding_box()
    assert size and size["width"] > 200 and size["height"] > 100
    expect(page.get_by_test_id("top-hosts")).to_contain_text("web-09")
    expect(page.get_by_test_id("overview-health")).to_be_visible()
    shot(page, "20-overview-zh")
    page.get_by_test_id("lang-switch").select_option("en")
    wait_ready(page, "overview")
    expect(page.get_by_test_id("overview")).to_contain_text("Alerts over time by level")
    shot(page, "21-overview-en")

    # A top host opens the alert queue filtered to it.
    page.get_by_test_id("top-hosts").get_by_role("link", name="web-09").click()
    wait_ready(page, "alerts")
    expect(page.get_by_test_id("alert-row")).to_have_count(3)

    open_page(page, console, "attack")
    brute = page.get_by_test_id("technique-T1110")
    expect(brute).to_have_class("cell covered")
    expect(page.get_by_test_id("tactic-credential-access")).to_contain_text("Credential Access")
    shot(page, "22-attack-matrix-en")
    page.get_by_test_id("lang-switch").select_option("zh-CN")
    wait_ready(page, "attack")
    expect(page.get_by_test_id("tactic-credential-access")).to_contain_text("凭据访问")
    expect(page.get_by_test_id("attack-summary")).to_contain_text("ATT&CK v17.0")
    page.get_by_test_id("technique-T1110").click()
    wait_ready(page, "alerts")
    assert "technique=T1110" in page.url
    assert not errors, errors
