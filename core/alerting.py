"""The alert document shared by every producer (detections, backups, compliance).

Alerts live in ``<prefix>-alerts`` with deterministic ids, written with ``op_type=create`` so
a rerun never duplicates. The detection engine owns the alert lifecycle; other domains only
raise alerts through ``raise_alert``.

Routing: every alert names the roles that can act on it (``alert.audience``): detections go to
analysts, backup and collector failures to the sysadmin, audit-trail failures and changes to
privileged accounts to the auditor. Platform alerts about a *condition* (a plan's backups failing,
a collector down) carry ``alert.condition`` and are closed by ``resolve_condition`` when the
condition clears, so a later successful backup ends the alert instead of leaving it open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import Conflict
from core.es import Store
from core.ids import stable_id
from core.scope import DISTRICT, organization_of
from core.timeutil import iso, utcnow

LEVELS = ("informational", "low", "medium", "high", "critical")
RISK_BY_LEVEL = {"informational": 10, "low": 21, "medium": 47, "high": 73, "critical": 99}
STATUSES = ("new", "acknowledged", "in_progress", "closed")
CLOSE_REASONS = ("true_positive", "false_positive", "benign", "duplicate")
# Set by the platform only, when the condition behind a platform alert has cleared.
RESOLVED = "resolved"
ROLES_ACTING = ("analyst", "sysadmin", "auditor")
AUDIENCE_BY_SOURCE: dict[str, tuple[str, ...]] = {
    "detection": ("analyst",), "backup": ("sysadmin",), "collector": ("sysadmin",), "platform": ("sysadmin",),
    "storage": ("sysadmin",), "audit": ("auditor",), "identity": ("auditor",), "privacy": ("analyst",),
}

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
            "updated": _DATE, "source": _KW, "group_key": _KW, "audience": _KW, "condition": _KW,
            "created": _DATE,
            "history": {"type": "object", "enabled": False},
            "comments": {"type": "object", "enabled": False},
        }},
        "rule": {"properties": {"id": _KW, "name": _KW, "level": _KW, "tags": _KW, "version": _KW,
                                "type": _KW}},
        "threat": {"properties": {"technique": {"properties": {"id": _KW}},
                                  "tactic": {"properties": {"name": _KW}}}},
        "organization": {"properties": {"id": _KW}},
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
                audience: tuple[str, ...] | None = None, condition: str | None = None,
                organization: str | None = None) -> tuple[str, dict[str, Any]]:
    """Return ``(alert_id, document)``; the id is a hash of (rule id, key).

    ``audience`` defaults by ``source`` (see ``AUDIENCE_BY_SOURCE``); ``condition`` names what a
    platform alert is about, for ``resolve_condition``. ``organization`` (``organization.id``)
    defaults to the event's department, and to the district for alerts about no event (platform
    alerts: backups, collectors, rule health)."""
    if level not in LEVELS:
        level = "medium"
    alert_id = stable_id("alert", rule_id, key)
    created = iso(utcnow())
    now = timestamp or created
    doc: dict[str, Any] = {
        "@timestamp": now,
        "alert": {
            "id": alert_id, "status": "new", "level": level, "risk_score": RISK_BY_LEVEL[level],
            "reason": reason, "source": source, "suppressed_count": 0, "first_seen": now,
            "last_seen": now, "updated": created, "created": created, "history": [], "comments": [],
            "audience": list(audience or AUDIENCE_BY_SOURCE.get(source, ("analyst",))),
        },
        "rule": {"id": rule_id, "name": rule_name, "level": level, "tags": list(tags or [])},
        "organization": {"id": organization or organization_of(event) or DISTRICT},
    }
    for k, v in (entities or {}).items():
        if v is not None and k != "organization":
            doc[k] = v
    if event is not None:
        doc["event_copy"] = dict(event)
    if event_ref is not None:
        doc["source_event"] = dict(event_ref)
    if condition is not None:
        doc["alert"]["condition"] = condition
    return alert_id, doc


def audience_filter(role: str) -> dict[str, Any] | None:
    """The alerts a role sees: its own audience (alerts without one are the analysts'); auditors
    oversee every alert; trusted local callers (scheduler, CLI operator) see all."""
    if role not in ("analyst", "sysadmin"):
        return None
    if role == "analyst":
        return {"bool": {"should": [{"term": {"alert.audience": "analyst"}},
                                    {"bool": {"must_not": {"exists": {"field": "alert.audience"}}}}],
                         "minimum_should_match": 1}}
    return {"term": {"alert.audience": role}}


def resolve_condition(store: Store, prefix: str, condition: str, note: str) -> int:
    """Close every open alert raised for ``condition`` (reason ``resolved``); returns how many."""
    index = alerts_index(prefix)
    if not store.index_exists(index):
        return 0
    resp = store.search(index, {"size": 100, "query": {"bool": {
        "filter": [{"term": {"alert.condition": condition}}],
        "must_not": [{"term": {"alert.status": "closed"}}]}}, "_source": ["alert.history", "alert.status"]})
    now = iso(utcnow())
    closed = 0
    for hit in resp["hits"]["hits"]:
        alert = hit["_source"].get("alert", {})
        history = list(alert.get("history") or [])
        history.append({"time": now, "actor": "system:platform", "role": "system", "action": "status",
                        "field": "status", "from": alert.get("status"), "to": "closed", "note": note})
        store.update(index, hit["_id"], {"alert": {"status": "closed", "close_reason": RESOLVED, "updated": now,
                                                   "history": history}}, refresh="wait_for")
        closed += 1
    return closed


def raise_alert(store: Store, prefix: str, alert_id: str, doc: Mapping[str, Any]) -> bool:
    """Create the alert; returns False when an alert with that id already exists."""
    store.ensure_index(alerts_index(prefix), mappings=ALERTS_MAPPING)
    try:
        store.put(alerts_index(prefix), alert_id, doc, create=True, refresh="wait_for")
        return True
    except Conflict:
        return False
