"""Alerts are their events' department (``organization.id``) and never mix departments: single
events, suppression groups, matches grouped past the cap, correlations and chained correlations.
District alerts keep the ids they had before departments existed; platform alerts are the district's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.alerting import build_alert
from core.auditing import Actor, MemoryAuditor
from core.ids import stable_id
from core.timeutil import iso, utcnow
from detections import repository as repo
from detections.runner import run_cycle
from detections.service import import_own_rules
from tests.integration.detections.conftest import alerts, ts, write_events
from tests.integration.detections.test_correlation import BRUTE, failures
from tests.integration.detections.test_fanout import rule

CLI = Actor("cli:t", "cli")
CHAIN = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a17"
SUDO = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a04"


def _in(org: str | None, docs: list[dict]) -> list[dict]:
    return [{**d, "organization": {"id": org}} if org else d for d in docs]


def _success(ip: str, at: datetime, org: str) -> dict:
    return {"@timestamp": iso(at), "organization": {"id": org}, "message": "Accepted password for root",
            "event": {"dataset": "system.auth", "action": "ssh_login", "outcome": "success",
                      "category": ["authentication"], "type": ["start"]},
            "source": {"ip": ip}, "user": {"name": "root"}, "process": {"name": "sshd"}}


def test_correlation_over_two_departments_yields_two_alerts_and_the_chain_keeps_its_department(
        store, prefix, runner_cfg) -> None:
    import_own_rules(store, prefix, actor=CLI, auditor=MemoryAuditor())
    start = datetime.now(UTC) - timedelta(minutes=20)
    ip = "192.0.2.30"
    # The same attacker against two departments: 6 failures in each, 12 in all within 5 minutes.
    # Together they would cross the threshold of 10; per department they must not.
    write_events(store, prefix, _in("jiaowei", failures(ip, start, 6, 2))
                 + _in("weijianwei", failures(ip, start + timedelta(seconds=1), 6, 2)))
    # And 10 more in each department a little later: one alert per department.
    later = start + timedelta(minutes=8)
    write_events(store, prefix, _in("jiaowei", failures(ip, later, 10, 1))
                 + _in("weijianwei", failures(ip, later + timedelta(milliseconds=500), 10, 1))
                 + [_success(ip, later + timedelta(seconds=15), "jiaowei")])
    # Events of no department (the district's) keep the alert id they always had.
    district_ip = "192.0.2.31"
    write_events(store, prefix, failures(district_ip, start, 10, 1))
    for _ in range(3):
        run_cycle(store, runner_cfg, force=True)
    brute = alerts(store, prefix, BRUTE)
    by_org = {(a["alert"]["group_key"], a["organization"]["id"]): a for a in brute}
    assert sorted(by_org) == [(ip, "jiaowei"), (ip, "weijianwei"), (district_ip, "district")], sorted(by_org)
    for org in ("jiaowei", "weijianwei"):
        assert by_org[(ip, org)]["alert"]["event_count"] == 10, "the early 6+6 never fired"
        assert by_org[(ip, org)]["alert"]["first_seen"] >= iso(later)
    district = by_org[(district_ip, "district")]
    assert district["alert"]["id"] == stable_id("alert", BRUTE, f"{district_ip}|{district['alert']['first_seen']}")
    # Chained: only the department with a success after its brute force gets the critical alert.
    chain = alerts(store, prefix, CHAIN)
    assert [(a["organization"]["id"], a["alert"]["group_key"]) for a in chain] == [("jiaowei", ip)]
    run_cycle(store, runner_cfg, force=True)
    assert len(alerts(store, prefix, BRUTE)) == 3 and len(alerts(store, prefix, CHAIN)) == 1


def test_event_suppressed_and_grouped_alerts_carry_their_department(store, prefix, runner_cfg) -> None:
    import_own_rules(store, prefix, actor=CLI, auditor=MemoryAuditor())
    sudo = [{"@timestamp": ts(60 - i), "message": "carol : user NOT in sudoers ; COMMAND=/bin/sh",
             "process": {"name": "sudo"}, "event": {"dataset": "system.auth"}, "user": {"name": "carol"},
             "host": {"hostname": "app1"}, "system": {"auth": {"sudo": {"error": "user NOT in sudoers"}}}}
            for i in range(5)]
    # Same user, same host, same window: grouped per department, never across.
    write_events(store, prefix, _in("minzhengju", sudo[:3]) + _in("jiaowei", sudo[3:4]) + sudo[4:])
    single, noisy = rule(1, value="once"), rule(2)
    repo.save_rules(store, prefix, [single, noisy])
    base = utcnow() - timedelta(minutes=30)
    noise = [{"@timestamp": iso(base + timedelta(seconds=i)), "event": {"dataset": "system.auth"},
              "labels": {"k": "hit"}, "host": {"name": f"h{i % 4 if i < 12 else 0}"}, "message": f"m{i}",
              "_id": f"n{i}"} for i in range(30)]
    write_events(store, prefix, _in("weijianwei", noise[:12]) + _in("jiaowei", noise[12:20]) + noise[20:25]
                 + _in("district", noise[25:])
                 + [{"@timestamp": ts(5), "event": {"dataset": "system.auth"}, "labels": {"k": "once"},
                     "organization": {"id": "weijianwei"}, "message": "m", "_id": "once"}])
    # 7 entity groups, a cap of 5: the composite page holds 5, the rest is counted per department.
    run_cycle(store, replace(runner_cfg, partitions=1, max_alerts_per_run=5, page_size=10), force=True)
    assert [a["organization"]["id"] for a in alerts(store, prefix, single.id)] == ["weijianwei"]
    suppressed = alerts(store, prefix, SUDO)
    counts: dict[str, int] = {}
    for a in suppressed:
        counts[a["organization"]["id"]] = counts.get(a["organization"]["id"], 0) + a["alert"]["suppressed_count"] + 1
    assert counts == {"minzhengju": 3, "jiaowei": 1, "district": 1}
    grouped = alerts(store, prefix, noisy.id)
    per_org: dict[str, int] = {}
    for a in grouped:
        per_org[a["organization"]["id"]] = per_org.get(a["organization"]["id"], 0) + a["alert"]["event_count"]
    # Events naming no department and those naming the district are one district group.
    assert per_org == {"weijianwei": 12, "jiaowei": 8, "district": 10}, per_org
    district = [a for a in grouped if a["organization"]["id"] == "district"]
    assert len(district) == 1 and "org=" not in district[0]["alert"]["group_key"]
    rest = [a for a in grouped if "other=more entities" in a["alert"]["group_key"]]
    assert rest and all(a["organization"]["id"] == "weijianwei" for a in rest), [a["alert"]["group_key"] for a in rest]
    # Platform alerts (about no event) are the district's.
    _aid, doc = build_alert(rule_id="platform.backup.failed", rule_name="Backups failing", level="high",
                            reason="plan x failed", key="x", source="backup")
    assert doc["organization"] == {"id": "district"}
