"""The demo's own attack is caught: the SSH brute force from 203.0.113.50 that ends in a successful
root login fires the chained correlation "login after brute force" at level critical — and no office
user who mistyped a password does."""

from __future__ import annotations

from core.auditing import Actor, MemoryAuditor
from detections.runner import run_cycle
from detections.service import import_own_rules
from soc.demo import ATTACKER_SSH, demo_events
from tests.integration.detections.conftest import alerts, write_events

CHAIN = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a17"
BRUTE = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a02"
SUCCESS_BASE = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a16"


def test_demo_brute_force_then_login_is_critical(store, prefix, runner_cfg) -> None:
    summary = import_own_rules(store, prefix, actor=Actor("cli:t", "cli"), auditor=MemoryAuditor())["summary"]
    assert summary["rejected"] == 0, summary
    auth = [{"_id": e.id, **e.doc} for e in demo_events() if e.dataset == "system.auth"]
    write_events(store, prefix, auth)
    run_cycle(store, runner_cfg, force=True)   # the brute force fires
    run_cycle(store, runner_cfg, force=True)   # its alert is the first step of the chain
    chain = alerts(store, prefix, CHAIN)
    assert len(chain) == 1, [a["alert"].get("group_key") for a in chain]
    assert chain[0]["alert"]["level"] == "critical" and chain[0]["alert"]["group_key"] == ATTACKER_SSH
    assert chain[0]["user"]["name"] == "root" and chain[0]["source"]["ip"] == ATTACKER_SSH
    assert [a["alert"]["group_key"] for a in alerts(store, prefix, BRUTE)] == [ATTACKER_SSH]
    assert alerts(store, prefix, SUCCESS_BASE) == []  # 240 ordinary logins raise nothing
    run_cycle(store, runner_cfg, force=True)
    assert len(alerts(store, prefix, CHAIN)) == 1  # reruns add nothing
