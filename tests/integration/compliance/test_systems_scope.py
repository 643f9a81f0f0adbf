"""A department auditor (under the store's department scope) sees, runs and registers only
their own department's graded systems; the district sees all of them in the roll-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compliance import reporting, rollup, service, systems
from core.auditing import Actor, MemoryAuditor
from core.errors import Conflict, NotFound, PermissionDenied
from core.es import Store
from core.scope import Scope, acting
from core.settings import Settings
from tests.integration.compliance.test_systems import DISTRICT_AUDITOR, register

JW_AUDITOR = Actor("jin", "auditor", organization="jiaowei")


def _jiaowei() -> Any:
    return acting(Scope(organizations=frozenset({"jiaowei"}), home="jiaowei", user="jin"))


def test_department_auditor_sees_and_runs_only_own_systems(settings: Settings, store: Store, tmp_path: Path) -> None:
    audit = MemoryAuditor()
    register(store, settings, audit, tmp_path)
    district_run = service.run_assessment(store, settings, audit, DISTRICT_AUDITOR, system_id="wj-his", platform=False)
    theirs = service.record_manual(store, settings, audit, DISTRICT_AUDITOR, district_run["id"], "L3-PES1-01", "符合",
                                   attachments=[("wj.txt", b"weijianwei machine room")])["item"]["evidence"][0]["sha256"]
    with _jiaowei():
        run = service.run_assessment(store, settings, audit, JW_AUDITOR, system_id="jw-portal", platform=False)
        assert run["organization"] == {"id": "jiaowei"}
        ours = service.record_manual(store, settings, audit, JW_AUDITOR, run["id"], "L2-PES1-01", "符合",
                                     attachments=[("jw.txt", b"jiaowei machine room")])["item"]["evidence"][0]["sha256"]
        # evidence files: the own department's download, another's is unknown
        assert service.get_evidence(settings, JW_AUDITOR, ours, store) == b"jiaowei machine room"
        with pytest.raises(NotFound):
            service.get_evidence(settings, JW_AUDITOR, theirs, store)
        with pytest.raises(NotFound):
            service.get_evidence(settings, JW_AUDITOR, theirs)
        data = rollup.rollup(store, settings, JW_AUDITOR, lang="zh-CN")
        assert {r["system"]["id"] for r in data["rows"]} == {"jw-portal", "jw-xueji"}
        assert {r["organization"]["id"] for r in data["rows"]} == {"jiaowei"}
        assert [d["organization"]["id"] for d in data["departments"]] == ["jiaowei"]
        assert {s["id"] for s in systems.list_systems(store, settings, JW_AUDITOR)} == {"jw-portal", "jw-xueji"}
        # another department's system, run and report are unknown here
        with pytest.raises(NotFound):
            systems.get_system(store, settings, JW_AUDITOR, "wj-his")
        with pytest.raises(NotFound):
            service.run_assessment(store, settings, audit, JW_AUDITOR, system_id="wj-his", platform=False)
        with pytest.raises(NotFound):
            reporting.build_report(store, settings, JW_AUDITOR, district_run["id"], "json")
        with pytest.raises(NotFound):
            systems.update_system(store, settings, audit, JW_AUDITOR, "wj-his", {"level": 2})
        # registering: the own department by default, never another's, and no id taken elsewhere
        own = systems.register_system(store, settings, audit, JW_AUDITOR, {"id": "jw-oa", "name": "办公", "level": 2})
        assert own["organization"] == {"id": "jiaowei"}
        with pytest.raises(PermissionDenied):
            systems.register_system(store, settings, audit, JW_AUDITOR,
                                    {"id": "jw-x", "name": "x", "level": 2, "organization": "weijianwei"})
        with pytest.raises(Conflict):
            systems.register_system(store, settings, audit, JW_AUDITOR, {"id": "wj-his", "name": "x", "level": 2})
        with pytest.raises(PermissionDenied):
            systems.update_system(store, settings, audit, JW_AUDITOR, "jw-oa", {"organization": "weijianwei"})
    # the other department's system was not touched
    assert systems.get_system(store, settings, DISTRICT_AUDITOR, "wj-his")["level"] == 3
    district = rollup.rollup(store, settings, DISTRICT_AUDITOR)
    assert {r["system"]["id"] for r in district["rows"]} == {"jw-oa", "jw-portal", "jw-xueji", "wj-his", "wj-never"}
    assert json.dumps(district, ensure_ascii=False)
    assert service.get_evidence(settings, DISTRICT_AUDITOR, theirs, store) == b"weijianwei machine room"


def test_platform_checks_of_a_department_system_read_that_department(settings: Settings, store: Store) -> None:
    """Whoever starts it, a department system's run reads that department's events into its
    evidence (never another's), while the audit chain is checked whole (a department's slice of it
    has gaps by design)."""
    from audit.trail import AuditTrail
    from compliance.models import COMPLIANT
    from core.event_layout import EventWriter, events_alias
    from core.schema import install_templates
    from core.timeutil import iso, utcnow

    install_templates(store, settings.index_prefix)
    now = iso(utcnow())
    alias = events_alias(settings.index_prefix, "system.auth")
    docs = [(alias, f"{org}-{n}", {"@timestamp": now, "host": {"name": host}, "organization": {"id": org},
                                   "event": {"dataset": "system.auth", "action": "ssh_login", "outcome": "success"},
                                   "user": {"name": "alice"}, "message": "login"})
            for org, host in (("jiaowei", "jw-host"), ("weijianwei", "wj-secret-host")) for n in range(3)]
    assert EventWriter(store).create(docs, refresh=True).all_stored
    trail = AuditTrail(settings, store)
    for n in range(6):
        trail.record(Actor(f"u{n}", "analyst", organization=("jiaowei", "weijianwei")[n % 2]), "login", f"u{n}")
    store.refresh(trail.index)  # records are written without a refresh
    audit = MemoryAuditor()
    systems.register_system(store, settings, audit, DISTRICT_AUDITOR,
                            {"id": "jw-only-platform", "name": "平台", "level": 3, "organization": "jiaowei"})
    for actor, scope in ((DISTRICT_AUDITOR, None), (JW_AUDITOR, _jiaowei())):
        with scope or acting(None):
            run = service.run_assessment(store, settings, audit, actor, system_id="jw-only-platform")
        checks = {c["check_id"]: c for c in service.get_results(store, settings, DISTRICT_AUDITOR, run["id"], kind="check")}
        stored = json.dumps(list(checks.values()), ensure_ascii=False)
        # the three events of the department, not the six of both
        assert checks["plat-event-fields"]["evidence"][0]["source"].endswith("latest 3")
        assert "wj-secret-host" not in stored and "weijianwei" not in stored
        assert checks["plat-audit-trail"]["result"] == COMPLIANT, checks["plat-audit-trail"]["detail"]
