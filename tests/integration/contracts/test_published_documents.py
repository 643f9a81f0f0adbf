"""Published document contracts (``core.contracts``): each producing domain writes a real
document and every field it promises must be there, with the type readers rely on. Renaming a
field in the producer (or in its mapping) fails here, not silently in compliance's probes."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from audit.models import AuditRecord
from audit.trail import AuditTrail
from backup_orchestrator import service as backups
from backup_orchestrator.models import BackupRun, DrillRun
from collectors.counters import Counters, read_status, write_status
from collectors.models import CollectorStatus
from core import contracts
from core.alerting import build_alert, raise_alert
from core.auditing import Actor
from core.es import Store
from core.settings import Settings
from core.timeutil import utcnow
from detections.models import AlertDoc, RuleDoc
from tests.integration.compliance.seed import _rules as seed_rules
from tests.integration.compliance.seed import seed_events

ROOT = Path(__file__).resolve().parents[3]


def _stored(store: Store, index: str) -> list[dict[str, Any]]:
    store.refresh(index)
    return [h["_source"] for h in store.search(index, {"size": 100})["hits"]["hits"]]


def _types(store: Store, index: str) -> dict[str, str]:
    """Dotted field → mapped type, over every index behind ``index``."""
    out: dict[str, str] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            if "type" in spec:
                out[prefix + name] = spec["type"]
            walk(spec.get("properties", {}), f"{prefix}{name}.")

    for body in store.get_mapping(index).values():
        walk(body.get("mappings", {}).get("properties", {}), "")
    return out


def test_audit_records_keep_their_promised_fields(settings: Settings, store: Store) -> None:
    trail = AuditTrail(settings, store)
    written = trail.append(Actor("ann", "auditor", address="10.0.0.1"), "login", "user-1", detail={"k": "v"})
    assert AuditRecord.missing(written) == []
    (stored,) = _stored(store, trail.index)
    assert AuditRecord.missing(stored) == []
    types = _types(store, trail.index)
    assert types[AuditRecord.seq] == "long" and types[AuditRecord.time] == "date"
    assert types[AuditRecord.action] == types[AuditRecord.outcome] == "keyword"


def test_backup_runs_and_drills_keep_their_promised_fields(settings: Settings, store: Store, tmp_path: Path) -> None:
    from tests.integration.compliance.seed import _backups

    s = _backups(settings, store, utcnow(), tmp_path, healthy=True)
    runs_index, drills_index = s.index(str(BackupRun.INDEX)), s.index(str(DrillRun.INDEX))
    (run,) = _stored(store, runs_index)
    (drill,) = _stored(store, drills_index)
    assert BackupRun.missing(run) == [] and run[BackupRun.status] == BackupRun.SUCCESS
    assert contracts.get(run, BackupRun.offsite_status) == BackupRun.SUCCESS
    assert DrillRun.missing(drill) == [] and drill[DrillRun.status] == DrillRun.PASSED
    runs, drills = _types(store, runs_index), _types(store, drills_index)
    assert runs[BackupRun.ended] == drills[DrillRun.ended] == drills[DrillRun.started] == "date"
    assert runs[BackupRun.status] == runs[BackupRun.offsite_status] == drills[DrillRun.status] == "keyword"
    # What the API's own listing returns is the same document.
    listed = backups.list_runs(backups.context(s, store), Actor("bob", "sysadmin"), "seed")
    assert BackupRun.missing(listed[0]) == []


def test_rules_alerts_and_collector_status_keep_their_promised_fields(settings: Settings, store: Store,
                                                                      tmp_path: Path) -> None:
    prefix = settings.index_prefix
    seed_events(store, prefix, utcnow(), healthy=True)
    seed_rules(store, prefix, utcnow(), tmp_path, healthy=True)
    (rule,) = _stored(store, settings.index(str(RuleDoc.INDEX)))
    assert RuleDoc.missing(rule) == [] and rule[RuleDoc.enabled] is True
    assert _types(store, settings.index(str(RuleDoc.INDEX)))[RuleDoc.last_run] == "date"

    alert_id, doc = build_alert(rule_id="platform.test", rule_name="Test", level="high", reason="r", key="k",
                                source="backup")
    assert AlertDoc.missing(doc) == []
    assert raise_alert(store, prefix, alert_id, doc)
    alerts = _stored(store, settings.index(str(AlertDoc.INDEX)))
    assert alerts and all(AlertDoc.missing(a) == [] for a in alerts)

    counters = Counters()
    counters.declare("syslog", "syslog")
    write_status(settings, counters, spool_pending_bytes=0, state=CollectorStatus.RUNNING, started=1.0)
    status = read_status(settings)
    assert status is not None and CollectorStatus.missing(status) == []


def test_compliance_reads_other_domains_only_through_contracts() -> None:
    """The probes name no field of another domain's index as a bare string: every search on an
    index of a published contract goes through the contract's attributes."""
    published = {c.INDEX for c in (AuditRecord, BackupRun, DrillRun, RuleDoc, AlertDoc) if c.INDEX}
    for path in (ROOT / "compliance" / "platform.py", ROOT / "compliance" / "pii_probes.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            # settings.index("audit") and friends: the index must come from the contract.
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "index"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                assert node.args[0].value not in published, f"{path.name}:{node.lineno} names {node.args[0].value!r}"
    # and the contract classes promise what the readers use (mypy checks the attribute names)
    assert {"seq", "time", "prev_hash", "hash", "action", "outcome"} <= set(AuditRecord.fields().values())

