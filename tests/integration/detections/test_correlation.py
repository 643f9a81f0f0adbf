"""Correlation rules on the real node: a burst straddling two clock-aligned 5-minute buckets
fires, a burst split across two runs (late events) fires once, reruns add nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.auditing import Actor, MemoryAuditor
from core.timeutil import iso
from detections.runner import run_cycle
from detections.service import import_own_rules
from tests.integration.detections.conftest import alerts, write_events

BRUTE = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a02"


def failures(ip: str, start: datetime, n: int, step: float) -> list[dict]:
    return [{"@timestamp": iso(start + timedelta(seconds=i * step)),
             "event": {"dataset": "system.auth", "action": "ssh_login", "outcome": "failure",
                       "category": ["authentication"]},
             "source": {"ip": ip}, "user": {"name": "root"}, "message": f"Failed password {i}"} for i in range(n)]


def test_straddling_burst_and_split_burst_fire_once(store, prefix, runner_cfg):
    import_own_rules(store, prefix, actor=Actor("cli:t", "cli"), auditor=MemoryAuditor())
    now = datetime.now(UTC)
    boundary = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    # 5 failures before a 5-minute boundary and 5 after: no fixed bucket holds 10.
    write_events(store, prefix, failures("192.0.2.10", boundary - timedelta(seconds=10), 10, 2))
    # Second source: 6 failures now, 6 more arrive after the first run (late); one alert in total.
    split = failures("192.0.2.11", boundary - timedelta(minutes=20), 12, 5)
    write_events(store, prefix, split[:6])
    run_cycle(store, runner_cfg, force=True)
    write_events(store, prefix, split[6:])
    run_cycle(store, runner_cfg, force=True)
    # A slow trickle (1 failure per 40 s) never reaches 10 within 5 minutes.
    write_events(store, prefix, failures("192.0.2.12", boundary - timedelta(minutes=40), 12, 40))
    for _ in range(3):
        run_cycle(store, runner_cfg, force=True)
    fired = alerts(store, prefix, BRUTE)
    by_source = {a["alert"]["group_key"]: a for a in fired}
    assert len(fired) == 2, [a["alert"]["group_key"] for a in fired]
    assert sorted(by_source) == ["192.0.2.10", "192.0.2.11"]
    straddle = by_source["192.0.2.10"]
    assert straddle["alert"]["suppressed_count"] == 9
    assert straddle["alert"]["first_seen"] < iso(boundary) < straddle["alert"]["last_seen"]
