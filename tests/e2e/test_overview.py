"""The analyst lands on the overview: KPI cards, alerts over time (ECharts canvas), top lists that
filter the queue, events per dataset, health; the ATT&CK matrix shows coverage and opens alerts
of a technique; both pages in Chinese and English without script errors."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from collectors.models import Event
from collectors.service import ship_events
from core.auditing import Actor, MemoryAuditor
from core.timeutil import iso, utcnow
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
    # Through the collectors, from a host no department map covers.
    ship_events(console.settings, console.store, [Event("e2e-unassigned-1", "system.syslog", {
        "@timestamp": iso(utcnow()), "host": {"name": "unmapped-host"}, "message": "hello"})], source="e2e")
    console.store.refresh(f"{console.prefix}-events-*")  # searchable now, not within the next second

    login(page, console, "ana", expect="overview")
    total = int(page.get_by_test_id("kpi-total").locator(".kpi-value").inner_text())
    assert total >= 3
    # ECharts drew on a canvas with a real size.
    size = page.get_by_test_id("chart-alerts").locator("canvas").first.bounding_box()
    assert size and size["width"] > 200 and size["height"] > 100
    expect(page.get_by_test_id("top-hosts")).to_contain_text("web-09")
    expect(page.get_by_test_id("overview-health")).to_be_visible()
    # Events the collectors could not assign to a department: a card with the count.
    expect(page.get_by_test_id("health-unassigned")).to_contain_text("未归属部门的事件")
    expect(page.get_by_test_id("health-unassigned").locator(".kpi-value")).to_have_text(re.compile(r"^[1-9]\d*$"))
    shot(page, "20-overview-zh")
    page.get_by_test_id("lang-switch").select_option("en")
    wait_ready(page, "overview")
    expect(page.get_by_test_id("overview")).to_contain_text("Alerts over time by level")
    expect(page.get_by_test_id("health-unassigned")).to_contain_text("Events without a department")
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


def test_alert_detail_shows_rule_context_attack_and_contributing_events(page: Page, console: Console) -> None:
    from datetime import timedelta

    from core.event_layout import EventWriter, events_alias
    from core.timeutil import iso, utcnow
    from detections.runner import RunnerConfig, run_cycle

    import_own_rules(console.store, console.prefix, actor=Actor("cli:e2e", "cli"), auditor=MemoryAuditor())
    start = utcnow() - timedelta(minutes=20)
    docs = [(events_alias(console.prefix, "system.auth"), f"bf-{i}", {
        "@timestamp": iso(start + timedelta(seconds=5 * i)), "message": f"Failed password for root from 198.51.100.77 #{i}",
        "event": {"dataset": "system.auth", "action": "ssh_login", "outcome": "failure", "ingested": iso(utcnow())},
        "host": {"name": "web-77"}, "user": {"name": "root"}, "source": {"ip": "198.51.100.77"}}) for i in range(14)]
    assert EventWriter(console.store).create(docs, refresh="wait_for").all_stored
    run_cycle(console.store, RunnerConfig(prefix=console.prefix, worker_id="e2e", settle_seconds=0, partitions=2,
                                          initial_lookback_seconds=3600), force=True)
    console.store.refresh(f"{console.prefix}-alerts")
    hits = console.store.search(f"{console.prefix}-alerts", {"query": {"bool": {"filter": [
        {"term": {"rule.name": "SSH Brute Force From One Source"}}, {"term": {"alert.group_key": "198.51.100.77"}}]}}})
    alert_id = hits["hits"]["hits"][0]["_id"]

    login(page, console, "ana", expect="overview")
    page.goto(f"{console.url}/console/#/alerts/{alert_id}")
    wait_ready(page, "alert")
    expect(page.get_by_test_id("rule-title")).to_have_text("SSH Brute Force From One Source")
    expect(page.get_by_test_id("rule-description")).to_contain_text("Ten or more failed SSH logins")
    expect(page.get_by_test_id("attack-technique")).to_contain_text("T1110.001 Brute Force: Password Guessing")
    expect(page.get_by_test_id("attack-tactic")).to_contain_text("凭据访问")
    expect(page.get_by_test_id("alert-events-row")).to_have_count(14)
    expect(page.get_by_test_id("alert-event-time")).to_contain_text("–")
    href = page.get_by_test_id("pivot-source.ip").get_attribute("href") or ""
    assert "start=" in href and "end=" in href
    page.get_by_test_id("rule-sigma").locator("summary").click()
    expect(page.get_by_test_id("rule-sigma")).to_contain_text("timespan: 5m")
    shot(page, "23-alert-detail-correlation")
    page.get_by_test_id("pivot-source.ip").click()
    wait_ready(page, "hunt")
    expect(page.get_by_test_id("hunt-row")).to_have_count(14)
    expect(page.get_by_test_id("hunt-range")).to_contain_text("–")
