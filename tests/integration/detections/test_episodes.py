"""One open alert per (rule, group) episode: repeated brute-force bursts from one source update
one alert (count, windows, last seen) instead of raising one per window; a closed alert, or a
burst after the re-alert interval, starts a new episode; reruns count nothing twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.auditing import Actor, MemoryAuditor
from core.timeutil import utcnow
from detections.runner import run_cycle
from detections.service import import_own_rules
from detections.triage.alerts import set_status
from tests.integration.detections.conftest import alerts, write_events
from tests.integration.detections.test_correlation import BRUTE, failures


def test_bursts_of_one_attack_update_one_alert(store, prefix, runner_cfg, settings) -> None:
    import_own_rules(store, prefix, actor=Actor("cli:t", "cli"), auditor=MemoryAuditor())
    start = utcnow() - timedelta(minutes=50)
    # Three bursts of 12 failures from one source, 10 minutes apart (each its own 5-minute window).
    for burst in range(3):
        write_events(store, prefix, failures("198.51.100.7", start + timedelta(minutes=10 * burst), 12, 2))
        run_cycle(store, runner_cfg, force=True)
    run_cycle(store, runner_cfg, force=True)  # a rerun adds nothing
    fired = alerts(store, prefix, BRUTE)
    assert len(fired) == 1, [a["alert"]["windows"] for a in fired]
    al = fired[0]["alert"]
    assert len(al["windows"]) == 3 and al["event_count"] == 36 and al["suppressed_count"] == 35
    assert al["first_seen"] < al["last_seen"] and al["last_seen"] == al["windows"][-1]["end"]
    assert fired[0]["@timestamp"] == al["windows"][0]["start"]  # the alert's time is when it happened

    # Closed by the analyst: the next burst is a new episode.
    set_status(store, settings, MemoryAuditor(), al["id"], "closed", actor=Actor("li", "analyst"),
               close_reason="true_positive")
    write_events(store, prefix, failures("198.51.100.7", start + timedelta(minutes=35), 12, 2))
    run_cycle(store, runner_cfg, force=True)
    assert len(alerts(store, prefix, BRUTE)) == 2

    # With re-alerting switched off every window is its own alert again.
    no_realert = replace(runner_cfg, realert_seconds=0)
    write_events(store, prefix, failures("198.51.100.8", start, 12, 2))
    write_events(store, prefix, failures("198.51.100.8", start + timedelta(minutes=20), 12, 2))
    run_cycle(store, no_realert, force=True)
    by_source = [a for a in alerts(store, prefix, BRUTE) if a["alert"]["group_key"] == "198.51.100.8"]
    assert len(by_source) == 1 and len(by_source[0]["alert"]["windows"]) == 2  # one run: one episode
    write_events(store, prefix, failures("198.51.100.8", start + timedelta(minutes=40), 12, 2))
    run_cycle(store, no_realert, force=True)
    assert len([a for a in alerts(store, prefix, BRUTE) if a["alert"]["group_key"] == "198.51.100.8"]) == 2
