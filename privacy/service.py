"""Personal-information inventory (数据资产), the policy in force, and unmasking on need.

The inventory is read from the ``pii.*`` tags the collectors wrote at ingest (one composite
aggregation over ``event.dataset`` × ``pii.locations``), so it covers every dataset, host and
endpoint without keeping any value. Unmasking shows values the policy *keeps* (tagged, masked
for display); values masked, hashed or dropped at ingest were never stored and cannot be shown.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

from core.auditing import Actor, Auditor
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.es import Store
from core.permissions import requires
from core.pii.config import policy_from_settings
from core.pii.detectors import DETECTORS
from core.schema import events_pattern, get_field
from core.settings import Settings
from core.timeutil import iso, parse_iso, utcnow
from privacy.models import CSV_COLUMNS, InventoryRow, UnmaskGrant

MAX_ROWS = 5000
_GRANTS_MAPPINGS = {"dynamic": "strict", "properties": {
    "id": {"type": "keyword"}, "user": {"type": "keyword"}, "case_id": {"type": "keyword"},
    "reason": {"type": "text"}, "created_at": {"type": "date"}, "expires_at": {"type": "date"}}}


def grants_index(settings: Settings) -> str:
    return settings.index("privacy-grants")


def _rows(store: Store, settings: Settings, since: str | None) -> list[InventoryRow]:
    policy = policy_from_settings(settings)
    filters: list[dict[str, Any]] = [{"exists": {"field": "pii.locations"}}]
    if since:
        filters.append({"range": {"@timestamp": {"gte": since}}})
    rows: list[InventoryRow] = []
    after: dict[str, Any] | None = None
    while len(rows) < MAX_ROWS:
        composite: dict[str, Any] = {"size": 500, "sources": [
            {"dataset": {"terms": {"field": "event.dataset"}}},
            {"location": {"terms": {"field": "pii.locations"}}}]}
        if after:
            composite["after"] = after
        body = {"size": 0, "query": {"bool": {"filter": filters}}, "aggs": {"rows": {
            "composite": composite, "aggs": {
                "first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}},
                "hosts": {"terms": {"field": "host.name", "size": 5}},
                "sources": {"terms": {"field": "source.ip", "size": 5}},
                "endpoints": {"terms": {"field": "url.path", "size": 5}}}}}}
        resp = store.search(events_pattern(settings.index_prefix), body)
        agg = (resp.get("aggregations") or {}).get("rows") or {}
        for b in agg.get("buckets", []):
            dataset = str(b["key"]["dataset"])
            field, _, kind = str(b["key"]["location"]).rpartition("|")
            hosts = [str(h["key"]) for h in b["hosts"]["buckets"]] or [str(h["key"]) for h in b["sources"]["buckets"]]
            rows.append(InventoryRow(
                dataset=dataset, field=field, type=kind, events=int(b["doc_count"]),
                first_seen=b["first"].get("value_as_string"), last_seen=b["last"].get("value_as_string"),
                action=policy.action(dataset, field, kind), hosts=tuple(hosts),
                endpoints=tuple(str(e["key"]) for e in b["endpoints"]["buckets"])))
        after = agg.get("after_key")
        if not after or not agg.get("buckets"):
            break
    return rows


@requires("privacy.read")
def inventory(store: Store, settings: Settings, *, actor: Actor, since: str | None = None) -> dict[str, Any]:
    """Where personal information is processed: dataset, field, kind, how much, since when."""
    if since:
        try:
            parse_iso(since)
        except ValueError as exc:
            raise InvalidInput(f"since={since!r} is not an ISO 8601 time (e.g. 2026-12-01T00:00:00Z).") from exc
    rows = _rows(store, settings, since)
    rows.sort(key=lambda r: (r.dataset, r.field, r.type))
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.type] = totals.get(r.type, 0) + r.events
    return {"rows": [r.to_dict() for r in rows], "totals": totals,
            "datasets": sorted({r.dataset for r in rows}), "generated_at": iso(utcnow())}


def inventory_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in report["rows"]:
        writer.writerow([";".join(row[c]) if isinstance(row[c], list) else row[c] for c in CSV_COLUMNS])
    return out.getvalue()


@requires("privacy.read")
def policy_view(settings: Settings, *, actor: Actor) -> dict[str, Any]:
    """The policy in force: the ordered rules, the datasets that must carry none, the detectors."""
    policy = policy_from_settings(settings)
    return {**policy.to_dict(), "enabled": settings.pii.enabled, "unmask_minutes": settings.pii.unmask_minutes,
            "detectors": [{"type": d.name, "sensitive": d.sensitive} for d in DETECTORS]}


@requires("privacy.unmask")
def create_grant(store: Store, settings: Settings, auditor: Auditor, *, actor: Actor, case_id: str, reason: str,
                 minutes: int | None = None) -> dict[str, Any]:
    """A time-limited unmask grant for one case, with the reason; audited."""
    case_id, reason = case_id.strip(), reason.strip()
    if not case_id or len(case_id) > 100:
        raise InvalidInput("case_id is required (the case this unmasking serves), at most 100 characters.")
    if len(reason) < 10 or len(reason) > 1000:
        raise InvalidInput("reason is required: say why the clear values are needed (10 to 1000 characters).")
    limit = settings.pii.unmask_minutes
    minutes = limit if minutes is None else minutes
    if not 1 <= minutes <= limit:
        raise InvalidInput(f"minutes must be between 1 and {limit} (SOC_PII_UNMASK_MINUTES).")
    now = utcnow()
    grant = UnmaskGrant(id=uuid.uuid4().hex, user=actor.name, case_id=case_id, reason=reason, created_at=iso(now),
                        expires_at=iso(now + timedelta(minutes=minutes)))
    store.ensure_index(grants_index(settings), mappings=_GRANTS_MAPPINGS)
    store.put(grants_index(settings), grant.id, grant.to_dict(), create=True, refresh="wait_for")
    auditor.record(actor, "privacy.grant", f"case:{case_id}", detail={"grant": grant.id, "reason": reason,
                                                                    "expires_at": grant.expires_at})
    return grant.to_dict()


def _live_grant(store: Store, settings: Settings, actor: Actor, grant_id: str) -> dict[str, Any]:
    doc = store.get(grants_index(settings), grant_id) if store.index_exists(grants_index(settings)) else None
    if doc is None:
        raise NotFound(f"No unmask grant {grant_id!r}; create one with POST /api/v1/privacy/grants.")
    grant = doc["_source"]
    if grant["user"] != actor.name:
        raise PermissionDenied("This unmask grant belongs to another user; create your own with a reason.")
    if parse_iso(grant["expires_at"]) <= utcnow():
        raise PermissionDenied("This unmask grant has expired; create a new one with a reason and a case id.")
    return dict(grant)


@requires("privacy.unmask")
def unmask_event(store: Store, settings: Settings, auditor: Auditor, *, actor: Actor, grant_id: str, index: str,
                 event_id: str) -> dict[str, Any]:
    """One event as stored (kept values in clear) under a live grant; every call is audited."""
    grant = _live_grant(store, settings, actor, grant_id)
    if not index.startswith(f"{settings.index_prefix}-events-") or any(c in index for c in ",*/ "):
        raise InvalidInput("index must be one events index (the _index of a hunt result).")
    doc = store.get(index, event_id)
    if doc is None:
        raise NotFound(f"No event {event_id!r} in {index}.")
    src = doc["_source"]
    pii = src.get("pii") or {}
    auditor.record(actor, "privacy.unmask", f"{index}/{event_id}",
                   detail={"grant": grant["id"], "case_id": grant["case_id"], "reason": grant["reason"],
                           "fields": pii.get("fields", []), "types": pii.get("types", [])})
    policy = policy_from_settings(settings)
    dataset = str(get_field(src, "event.dataset") or "")
    irreversible = sorted({loc for loc in pii.get("locations", [])
                           if policy.action(dataset, *loc.rsplit("|", 1)) != "keep"})
    return {"event": {"_id": event_id, "_index": index, **src}, "grant": grant,
            "not_recoverable": irreversible}
