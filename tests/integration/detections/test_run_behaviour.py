"""Run-time behaviour on the real node: exceptions (versioned) silence matching events,
suppression groups alerts per entity and window, a failing rule doesn't block its batch,
and matches past the per-run alert cap become grouped alerts (nothing dropped)."""

from __future__ import annotations

from dataclasses import replace

from core.auditing import Actor, MemoryAuditor
from detections import repository as repo
from detections.loader import load_sources
from detections.runner import run_cycle
from detections.service import add_exception, import_own_rules, list_exceptions, remove_exception
from tests.integration.detections.conftest import alerts, ts, write_events

CLI = Actor("cli:t", "cli")
SU = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a05"
SUDO = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a04"


def su_fail(user: str, i: int) -> dict:
    return {"@timestamp": ts(30 - i), "message": f"FAILED SU (to root) {user} on pts/{i}", "process": {"name": "su"},
            "event": {"dataset": "system.auth"}, "user": {"name": user}, "host": {"hostname": "db1"}}


def test_exceptions_are_versioned_and_silence_matches(store, prefix, runner_cfg):
    auditor = MemoryAuditor()
    import_own_rules(store, prefix, actor=CLI, auditor=auditor)
    added = add_exception(store, prefix, SU, "user.name", "equals", ["ALICE"], actor=CLI, auditor=auditor,
                          comment="break-glass account")
    assert added["exceptions_version"] == 1
    write_events(store, prefix, [su_fail("alice", 1), su_fail("bob", 2)])
    run_cycle(store, runner_cfg, force=True)
    fired = alerts(store, prefix, SU)
    assert [a["user"]["name"] for a in fired] == ["bob"], "exception (case-insensitive) must silence alice"
    removed = remove_exception(store, prefix, SU, added["exception"]["id"], actor=CLI, auditor=auditor)
    assert removed["exceptions_version"] == 2
    assert list_exceptions(store, prefix, SU, actor=CLI)["exceptions"] == []
    assert [r["action"] for r in auditor.records][-2:] == ["rules.exception.add", "rules.exception.remove"]


def test_suppression_groups_by_entity_within_window(store, prefix, runner_cfg):
    import_own_rules(store, prefix, actor=CLI, auditor=MemoryAuditor())
    sudo = [{"@timestamp": ts(60 - i), "message": "carol : user NOT in sudoers ; COMMAND=/bin/sh",
             "process": {"name": "sudo"}, "event": {"dataset": "system.auth"}, "user": {"name": "carol"},
             "host": {"hostname": "app1"}, "system": {"auth": {"sudo": {"error": "user NOT in sudoers"}}}}
            for i in range(5)]
    write_events(store, prefix, sudo[:3])
    run_cycle(store, runner_cfg, force=True)
    write_events(store, prefix, sudo[3:])
    run_cycle(store, runner_cfg, force=True)
    run_cycle(store, runner_cfg, force=True)
    fired = alerts(store, prefix, SUDO)
    # One window of 10 minutes may split at a clock boundary: at most two groups, 5 events in all.
    assert 1 <= len(fired) <= 2
    assert sum(a["alert"]["suppressed_count"] + 1 for a in fired) == 5
    assert all(a["alert"]["first_seen"] <= a["alert"]["last_seen"] for a in fired)


def test_failing_rule_does_not_block_batch_and_cap_groups_overflow(store, prefix, runner_cfg):
    good_text = ("title: good\nid: 33333333-0000-4000-8000-000000000001\nstatus: test\n"
                 "logsource:\n    product: linux\n    service: auth\n"
                 "detection:\n    sel:\n        labels.k: hit\n    condition: sel\nlevel: low\n")
    good = load_sources([("good.yml", good_text)]).rules[0]
    # A query only the shards reject (run-time failure), stored without validation.
    bad = replace(good, id="33333333-0000-4000-8000-000000000002", title="bad",
                  query={"regexp": {"message": {"value": "((", "flags": "NONE"}}})
    repo.save_rules(store, prefix, [bad, good])
    write_events(store, prefix, [{"@timestamp": ts(5 + i), "event": {"dataset": "system.auth"},
                                  "labels": {"k": "hit"}, "message": f"m{i}"} for i in range(8)])
    result = run_cycle(store, replace(runner_cfg, max_alerts_per_run=5), force=True)
    by_rule = {r.rule_id: r for r in result.results}
    assert by_rule[bad.id].error and not by_rule[good.id].error
    # 8 matches, cap 5: one grouped alert (no entity fields → one group) that counts all 8.
    assert by_rule[good.id].hits == 8 and by_rule[good.id].grouped == 8 and by_rule[good.id].alerts_created == 1
    fired = alerts(store, prefix, good.id)
    assert [a["alert"]["event_count"] for a in fired] == [8] and fired[0]["alert"]["grouped"] is True
    stats = repo.get_rule_doc(store, prefix, good.id)["_source"]["stats"]
    assert stats["grouped"] == 8 and stats["last_alerts"] == 1 and stats["status"] == "ok"
    bad_stats = repo.get_rule_doc(store, prefix, bad.id)["_source"]["stats"]
    assert bad_stats["errors"] == 1 and bad_stats["status"] == "failing" and bad_stats["next_retry"]
