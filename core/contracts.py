"""Published document contracts: the fields other parts of the platform may read from the
documents a domain writes.

Domains do not import each other (README, Architecture), so the model of a document that one
domain writes and another reads lives here, in ``core``, the one place both may import. The
producing domain's ``models.py`` re-exports its contracts (``audit.models.AuditRecord``,
``backup_orchestrator.models.BackupRun``/``DrillRun``, ``collectors.models.CollectorStatus``,
``detections.models.RuleDoc``; alerts are built in ``core.alerting``).

A contract is a class whose lower-case attributes are the promised field names (dotted for
nested objects) and whose upper-case attributes are promised values. Readers (compliance's
platform probes) name fields only through these attributes, so mypy refuses a read of a field
that is not promised; ``tests/integration/contracts`` has each producer write a real document and
fails when one of the promised fields is missing or renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class Contract:
    """Base of every contract: ``fields()`` lists the promised field names."""

    INDEX: ClassVar[str | None] = None  # the index (after the prefix), None for a file

    @classmethod
    def fields(cls) -> dict[str, str]:
        """Attribute name → field name, for every promised field."""
        out: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if not name.startswith("_") and name.islower() and isinstance(value, str):
                    out[name] = value
        return out

    @classmethod
    def missing(cls, doc: Mapping[str, Any]) -> list[str]:
        """Promised fields ``doc`` lacks (a nested field is looked up by its dotted path)."""
        return [f for f in cls.fields().values() if not _has(doc, f)]


def _has(doc: Mapping[str, Any], dotted: str) -> bool:
    cur: Any = doc
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return False
        cur = cur[part]
    return True


def get(doc: Mapping[str, Any], dotted: str) -> Any:
    """The value at a (dotted) field of a document read from Elasticsearch, or None."""
    cur: Any = doc
    for part in dotted.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


class AuditRecord(Contract):
    """One record of the hash-chained audit trail, written by ``audit.trail.AuditTrail.append``."""

    INDEX = "audit"
    seq = "seq"
    time = "time"
    actor = "actor"
    role = "role"
    address = "address"
    action = "action"
    target = "target"
    outcome = "outcome"
    detail = "detail"
    prev_hash = "prev_hash"
    hash = "hash"
    SUCCESS = "success"
    VERIFY_ACTION = "audit.verify"  # the trail records each of its own verifications


class BackupRun(Contract):
    """One backup run, written by ``backup_orchestrator.backup.run``."""

    INDEX = "backups-runs"
    run_id = "run_id"
    plan_id = "plan_id"
    status = "status"
    started = "started"
    ended = "ended"
    recovery_point_time = "recovery_point_time"
    offsite_status = "offsite.status"
    SUCCESS = "success"


class DrillRun(Contract):
    """One restore drill, written by ``backup_orchestrator.drills.run``."""

    INDEX = "backups-drills"
    drill_id = "drill_id"
    plan_id = "plan_id"
    run_id = "run_id"
    status = "status"
    started = "started"
    ended = "ended"
    rpo_seconds = "rpo_seconds"
    rto_seconds = "rto_seconds"
    objectives = "objectives"
    rpo_objective = "objectives.rpo_seconds"
    rto_objective = "objectives.rto_seconds"
    PASSED = "passed"
    FAILED = "failed"


class RuleDoc(Contract):
    """A stored detection rule (``detections.repository``); ``stats`` appear after its first run."""

    INDEX = "rules"
    id = "id"
    enabled = "enabled"
    last_run = "stats.last_run"


class CollectorStatus(Contract):
    """The collector daemon's status file (``collectors.counters.write_status``)."""

    pid = "pid"
    state = "state"
    started = "started"
    updated = "updated"
    spool_pending_bytes = "spool_pending_bytes"
    inputs = "inputs"
    RUNNING = "running"


class AlertDoc(Contract):
    """An alert, detection or platform, as ``core.alerting.build_alert`` makes it."""

    INDEX = "alerts"
    timestamp = "@timestamp"
    id = "alert.id"
    status = "alert.status"
    level = "alert.level"
    source = "alert.source"
    audience = "alert.audience"
    reason = "alert.reason"
    rule_id = "rule.id"
    rule_name = "rule.name"
