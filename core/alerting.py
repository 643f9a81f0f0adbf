"""The alert document shared by every producer (detections, backups, compliance).

Alerts live in ``<prefix>-alerts`` with deterministic ids, written with ``op_type=create`` so
a rerun never duplicates. The detection engine owns the alert lifecycle; other domains only
raise alerts through ``raise_alert``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import Conflict
from core.ids import stable_id
from core.timeutil import iso, utcnow

LEVELS = ("informational", "low", "medium", "high", "critical")
RISK_BY_LEVEL = {"informational": 10, "low": 21, "medium": 47, "high": 73, "critical": 99}
STATUSES = ("new", "acknowledged", "in_progress", "closed")
CLOSE_REASONS = ("true_positive", "false_positive", "benign", "duplicate")

_KW = {"type": "keyword"}
_DATE = {"type": "date"}

ALERTS_MAPPING: dict[str, Any] = {
    "dynamic": True,
    "dynamic_templates": [{"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword",
                                                                                     "ignore_above": 8191}}}],
    "properties": {
        "@timestamp": _DATE,
        "alert": {"properties": {
            "id": _KW, "status": _KW, "level": _KW, "risk_score": {"type": "float"},
            "reason": {"type": "text"}, "assignee": _KW, "close_reason": _KW, "case_id": _KW,
            "suppressed_count": {"type": "long"}, "first_seen": _DATE, "last_seen": _DATE,
            "updated": _DATE, "source": _KW, "group_key": _KW, "audience": _KW,
            "history": {"type": "object", "enabled": False},
            "comments": {"type": "object", "enabled": False},
        }},
        "rule": {"properties": {"id": _KW, "name": _KW, "level": _KW, "tags": _KW, "version": _KW,
                                "type": _KW}},
        "threat": {"properties": {"technique": {"properties": {"id": _KW}},
                                  "tactic": {"properties": {"name": _KW}}}},
        "host": {"properties": {"name": _KW, "ip": {"type": "ip"}}},
        "user": {"properties": {"name": _KW}},
        "source": {"properties": {"ip": {"type": "ip"}, "port": {"type": "long"}}},
        "destination": {"properties": {"ip": {"type": "ip"}, "port": {"type": "long"}}},
        "process": {"properties": {"name": _KW, "pid": {"type": "long"}, "command_line": _KW}},
        "source_event": {"properties": {"id": _KW, "index": _KW, "ingested": _DATE}},
        # A copy of the matching event, kept for display only (not indexed).
        "event_copy": {"type": "object", "enabled": False},
    },
}


def alerts_index(prefix: str) -> str:
    return f"{prefix}-alerts"


def build_alert(*, rule_id: str, rule_name: str, level: str, reason: str, key: str,
                source: str = "detection", tags: list[str] | None = None,
                entities: Mapping[str, Any] | None = None, event: Mapping[str, Any] | None = None,
                event_ref: Mapping[str, Any] | None = None, timestamp: str | None = None,
                audience: str | None = None) -> tuple[str, dict[str, Any]]:
    """Return ``(alert_id, document)``; the id is a hash of (rule id, key). ``audience`` names
    the role the alert is routed to (e.g. ``auditor`` for changes to privileged accounts)."""
    if level not in LEVELS:
        level = "medium"
    alert_id = stable_id("alert", rule_id, key)
    now = timestamp or iso(utcnow())
    doc: dict[str, Any] = {
        "@timestamp": now,
        "alert": {
            "id": alert_id, "status": "new", "level": level, "risk_score": RISK_BY_LEVEL[level],
            "reason": reason, "source": source, "suppressed_count": 0, "first_seen": now,
            "last_seen": now, "updated": now, "history": [], "comments": [],
        },
        "rule": {"id": rule_id, "name": rule_name, "level": level, "tags": list(tags or [])},
    }
    if audience:
        doc["alert"]["audience"] = audience
    for k, v in (entities or {}).items():
        if v is not None:
            doc[k] = v
    if event is not None:
        doc["event_copy"] = dict(event)
    if event_ref is not None:
        doc["source_event"] = dict(event_ref)
    return alert_id, doc


def raise_alert(store: Any, prefix: str, alert_id: str, doc: Mapping[str, Any]) -> bool:
    """Create the alert; returns False when an alert with that id already exists."""
    store.ensure_index(alerts_index(prefix), mappings=ALERTS_MAPPING)
    try:
        store.put(alerts_index(prefix), alert_id, doc, create=True, refresh="wait_for")
        return True
    except Conflict:
        return False
