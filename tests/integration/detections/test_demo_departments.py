"""The demo network spreads over its three departments through the collectors' maps (as a
deployment's would): its attacks raise alerts in each department, and the story still holds."""

from __future__ import annotations

from collectors.service import ship_events, unassigned_events
from core.auditing import Actor, MemoryAuditor
from core.departments import Departments
from detections.runner import run_cycle
from detections.service import import_own_rules
from soc.demo import ATTACKER_SSH, DEPARTMENTS, demo_events, with_demo_departments
from tests.integration.detections.conftest import alerts

CHAIN = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a17"


def test_demo_alerts_spread_over_departments(settings, store, prefix, runner_cfg) -> None:
    demo = with_demo_departments(settings)
    assert set(demo.collect.org_hosts.values()) == set(DEPARTMENTS)
    import_own_rules(store, prefix, actor=Actor("cli:t", "cli"), auditor=MemoryAuditor())
    summary = ship_events(demo, store, demo_events(), source="demo")
    assert summary.failed == 0 and summary.shipped > 1000
    # The DNS tunnel and the clear-text leak come from shared addresses no map covers.
    assert 0 < summary.unassigned < summary.shipped // 4
    store.refresh(f"{prefix}-events-*")
    assert unassigned_events(store, demo) == summary.unassigned
    run_cycle(store, runner_cfg, force=True)
    run_cycle(store, runner_cfg, force=True)
    raised = alerts(store, prefix)
    by_org: dict[str, int] = {}
    for a in raised:
        by_org[a["organization"]["id"]] = by_org.get(a["organization"]["id"], 0) + 1
    assert set(DEPARTMENTS) <= set(by_org), by_org
    chain = alerts(store, prefix, CHAIN)
    assert [(a["organization"]["id"], a["alert"]["group_key"]) for a in chain] == [("jiaowei", ATTACKER_SSH)]
    # The operator's own maps win over the demo's.
    own = settings.model_copy(update={"collect": settings.collect.model_copy(update={"org_hosts": {"x*": "jiaowei"}})})
    assert with_demo_departments(own).collect.org_hosts == {"x*": "jiaowei"}


def test_demo_departments_exist_as_data(settings, store, prefix, tmp_path) -> None:
    from soc.serve import load_demo_data

    logged: list[str] = []
    assert load_demo_data(settings, store, logged.append) > 1000
    tree = Departments(settings, store).all()
    assert {d.id: (d.name_zh, d.name_en, d.parent) for d in tree if d.id != "district"} == {
        dept_id: (zh, en, "district") for dept_id, (zh, en) in DEPARTMENTS.items()}
    store.refresh(f"{prefix}-events-*")
    orgs = store.search(f"{prefix}-events-*", {"size": 0, "aggs": {"o": {"terms": {"field": "organization.id"}}}})
    assert {b["key"] for b in orgs["aggregations"]["o"]["buckets"]} == {*DEPARTMENTS, "district"}
