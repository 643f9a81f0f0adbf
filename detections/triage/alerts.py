"""Alert triage: list with filters, facets and deep pagination; one alert with its events and
history; lifecycle new → acknowledged → in_progress → closed (with a reason); assignment,
comments, bulk actions with per-item results. Every change is appended to ``alert.history``."""

from __future__ import annotations

import re
import secrets
from typing import Any

from core.alerting import ALERTS_MAPPING, CLOSE_REASONS, LEVELS, STATUSES, alerts_index, audience_filter
from core.auditing import Actor, Auditor
from core.errors import InvalidInput, NotFound, SocError
from core.es import Store
from core.permissions import requires
from core.pii.display import mask_for_display
from core.settings import Settings
from core.timeutil import iso, utcnow
from detections import attack
from detections.triage.common import (
    decode_cursor,
    encode_cursor,
    optimistic_update,
    page_size,
    time_range,
)
from detections.triage.context import rule_context

TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "in_progress", "closed"}),
    "acknowledged": frozenset({"in_progress", "closed", "new"}),
    "in_progress": frozenset({"acknowledged", "closed"}),
    "closed": frozenset({"in_progress"}),  # reopen
}
SORTABLE = {"@timestamp": "@timestamp", "risk": "alert.risk_score", "updated": "alert.updated",
            "status": "alert.status", "rule": "rule.name", "host": "host.name", "level": "alert.risk_score"}
FACETS = {"status": "alert.status", "level": "alert.level", "rule": "rule.name", "host": "host.name",
          "user": "user.name", "assignee": "alert.assignee"}
TEXT_FIELDS = ["alert.reason", "rule.name", "host.name", "user.name", "process.name", "process.command_line",
               "alert.assignee", "rule.tags"]
MAX_BULK = 500
MAX_COMMENT = 10_000
LIST_SOURCE_EXCLUDES = ["event_copy", "alert.history", "alert.comments"]


def _ensure(store: Store, settings: Settings) -> str:
    index = alerts_index(settings.index_prefix)
    store.ensure_index(index, mappings=ALERTS_MAPPING)
    return index


def _terms(field: str, values: list[str] | None) -> dict[str, Any] | None:
    vals = [v for v in (values or []) if v]
    if not vals:
        return None
    return {"terms": {field: vals}}


def build_alert_query(*, status: list[str] | None = None, level: list[str] | None = None,
                      rule: list[str] | None = None, host: list[str] | None = None, user: list[str] | None = None,
                      address: str | None = None, assignee: str | None = None, case_id: str | None = None,
                      start: str | None = None, end: str | None = None, text: str | None = None,
                      technique: str | None = None, tactic: str | None = None) -> dict[str, Any]:
    """The Elasticsearch query for a filter set (also used by the load benchmark)."""
    for value in status or []:
        if value not in STATUSES:
            raise InvalidInput(f"Unknown status {value!r}; use {', '.join(STATUSES)}.",
                               detail=[{"field": "status", "message": "unknown status"}])
    for value in level or []:
        if value not in LEVELS:
            raise InvalidInput(f"Unknown level {value!r}; use {', '.join(LEVELS)}.",
                               detail=[{"field": "level", "message": "unknown level"}])
    filters: list[dict[str, Any]] = [f for f in (
        _terms("alert.status", status), _terms("alert.level", level), _terms("host.name", host),
        _terms("user.name", user), time_range("@timestamp", start, end),
    ) if f]
    if rule:
        filters.append({"bool": {"should": [{"terms": {"rule.id": rule}}, {"terms": {"rule.name": rule}}],
                                 "minimum_should_match": 1}})
    if technique or tactic:
        if technique and not re.match(r"^[Tt]\d{4}(\.\d{3})?$", technique):
            raise InvalidInput(f"{technique!r} is not an ATT&CK technique id (T1110 or T1110.001).",
                               detail=[{"field": "technique", "message": "not a technique id"}])
        if tactic and attack.tactic(tactic) is None:
            raise InvalidInput(f"{tactic!r} is not an ATT&CK tactic.", detail=[{"field": "tactic", "message": "unknown"}])
        filters.append(attack.tag_filter(technique_id=technique, tactic_name=tactic))
    if assignee:
        filters.append({"term": {"alert.assignee": assignee}})
    if case_id:
        filters.append({"term": {"alert.case_id": case_id}})
    if address:
        filters.append({"bool": {"should": [{"term": {f: address}} for f in ("source.ip", "destination.ip", "host.ip")],
                                 "minimum_should_match": 1}})
    must: list[dict[str, Any]] = []
    if text:
        must.append({"simple_query_string": {"query": text, "fields": TEXT_FIELDS, "lenient": True,
                                             "default_operator": "and"}})
    return {"bool": {"filter": filters, "must": must}}


def _address_ok(address: str | None) -> str | None:
    if not address:
        return None
    import ipaddress

    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError as exc:
        raise InvalidInput(f"{address!r} is not an IP address.",
                           detail=[{"field": "address", "message": "not an IP address"}]) from exc


def build_list_body(query: dict[str, Any], *, sort: str = "@timestamp", order: str = "desc", size: int = 50,
                    after: list[Any] | None = None, facets: bool = False) -> dict[str, Any]:
    if sort not in SORTABLE:
        raise InvalidInput(f"Cannot sort by {sort!r}; use one of {', '.join(SORTABLE)}.",
                           detail=[{"field": "sort", "message": "not sortable"}])
    if order not in ("asc", "desc"):
        raise InvalidInput("order is asc or desc.", detail=[{"field": "order", "message": "asc or desc"}])
    body: dict[str, Any] = {
        "size": page_size(size), "query": query, "track_total_hits": True,
        "sort": [{SORTABLE[sort]: {"order": order, "missing": "_last"}}, {"alert.id": order}],
        "_source": {"excludes": LIST_SOURCE_EXCLUDES},
    }
    if after is not None:
        if len(after) != 2:
            raise InvalidInput("The page cursor does not match this sort; start again without `after`.",
                               detail=[{"field": "after", "message": "cursor/sort mismatch"}])
        body["search_after"] = after
    if facets:
        body["aggs"] = {name: {"terms": {"field": field, "size": 10}} for name, field in FACETS.items()}
    return body


@requires("alerts.read")
def list_alerts(store: Store, settings: Settings, *, actor: Actor, status: list[str] | None = None,
                level: list[str] | None = None, rule: list[str] | None = None, host: list[str] | None = None,
                user: list[str] | None = None, address: str | None = None, assignee: str | None = None,
                case_id: str | None = None, start: str | None = None, end: str | None = None,
                text: str | None = None, sort: str = "@timestamp", order: str = "desc", size: int = 50,
                after: str | None = None, facets: bool = False, technique: str | None = None,
                tactic: str | None = None) -> dict[str, Any]:
    """A page of alerts; ``next`` is the cursor for the following page (None at the end)."""
    query = build_alert_query(status=status, level=level, rule=rule, host=host, user=user,
                              address=_address_ok(address), assignee=assignee, case_id=case_id, start=start,
                              end=end, text=text, technique=technique, tactic=tactic)
    _scope(query, actor)
    body = build_list_body(query, sort=sort, order=order, size=size, after=decode_cursor(after), facets=facets)
    resp = store.search(alerts_index(settings.index_prefix), body)
    hits = resp["hits"]["hits"]
    out: dict[str, Any] = {
        "total": resp["hits"]["total"]["value"],
        "items": [mask_for_display(h["_source"]) for h in hits],
        "next": encode_cursor(hits[-1]["sort"]) if len(hits) == body["size"] else None,
    }
    if facets:
        out["facets"] = {name: [{"value": b["key"], "count": b["doc_count"]} for b in agg["buckets"]]
                         for name, agg in resp.get("aggregations", {}).items()}
    return out


MIN_PREFIX = 6


def _scope(query: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Restrict a query to the alerts routed to the actor's role (see core.alerting)."""
    scope = audience_filter(actor.role)
    if scope is not None:
        query["bool"]["filter"].append(scope)
    return query


def visible_to(actor: Actor, alert: dict[str, Any]) -> bool:
    if audience_filter(actor.role) is None:
        return True
    audience = alert.get("alert", {}).get("audience")
    if not audience:
        return actor.role == "analyst"
    return actor.role in audience


def resolve_alert_id(store: Store, settings: Settings, ref: str) -> str:
    """The full id for ``ref``: the id itself or a unique prefix of it (as ``soc alerts list`` prints)."""
    index = alerts_index(settings.index_prefix)
    ref = (ref or "").strip()
    if not ref:
        raise InvalidInput("Give an alert id.", detail=[{"field": "alert_id", "message": "empty"}])
    if store.get(index, ref) is not None or len(ref) < MIN_PREFIX:
        return ref
    try:
        resp = store.search(index, {"size": 2, "_source": False, "query": {"prefix": {"alert.id": ref}}})
    except NotFound:
        return ref
    ids = [h["_id"] for h in resp["hits"]["hits"]]
    if len(ids) > 1:
        raise InvalidInput(f"More than one alert id starts with {ref!r}; give more characters.",
                           detail=[{"field": "alert_id", "message": "ambiguous prefix"}])
    return ids[0] if ids else ref


def _source_event(store: Store, settings: Settings, ref: dict[str, Any]) -> dict[str, Any] | None:
    """The event an alert cites; found by id across the event indices when its index is gone
    (events migrated or rolled into another backing index)."""
    if not ref.get("id"):
        return None
    hits: list[dict[str, Any]] = []
    try:
        if ref.get("index"):
            found = store.get(str(ref["index"]), str(ref["id"]))
            if found is not None:
                hits = [found]
        if not hits:
            resp = store.search(settings.index("events-*"),
                                {"size": 1, "query": {"ids": {"values": [str(ref["id"])]}}})
            hits = resp["hits"]["hits"]
    except SocError:
        return None
    if not hits:
        return None
    return {"_id": hits[0]["_id"], "_index": hits[0]["_index"], **hits[0]["_source"]}


@requires("alerts.read")
def get_alert(store: Store, settings: Settings, alert_id: str, *, actor: Actor) -> dict[str, Any]:
    """One alert with its history, comments and the source event(s)."""
    alert_id = resolve_alert_id(store, settings, alert_id)
    doc = store.get(alerts_index(settings.index_prefix), alert_id)
    if doc is None or not visible_to(actor, doc["_source"]):
        raise NotFound(f"No alert {alert_id!r}; list alerts with GET /api/v1/alerts.")
    alert = doc["_source"]
    events: list[dict[str, Any]] = []
    found = _source_event(store, settings, alert.get("source_event") or {})
    if found is not None:
        events.append(found)
    if not events and alert.get("event_copy"):
        events.append(dict(alert["event_copy"]))
    # personal information kept at ingest is masked for display (unmasking is a privacy grant)
    alert = mask_for_display(alert)
    return {"alert": alert, "events": [mask_for_display(e) for e in events],
            "history": alert.get("alert", {}).get("history", []),
            "comments": alert.get("alert", {}).get("comments", []),
            **rule_context(store, settings, str(alert.get("rule", {}).get("id", "")),
                           list(alert.get("rule", {}).get("tags") or []))}


def _entry(actor: Actor, action: str, now: str, **extra: Any) -> dict[str, Any]:
    return {"time": now, "actor": actor.name, "role": actor.role, "action": action, **extra}


def _status_change(alert: dict[str, Any], actor: Actor, status: str, reason: str | None, now: str) -> dict[str, Any] | None:
    if status not in STATUSES:
        raise InvalidInput(f"Unknown status {status!r}; use {', '.join(STATUSES)}.",
                           detail=[{"field": "status", "message": "unknown status"}])
    current = alert["alert"].get("status", "new")
    if status == current:
        return None
    if status not in TRANSITIONS.get(current, frozenset()):
        raise InvalidInput(f"An alert cannot go from {current} to {status}; allowed: "
                           f"{', '.join(sorted(TRANSITIONS.get(current, ()))) or 'none'}.",
                           detail=[{"field": "status", "message": f"not allowed from {current}"}])
    history = list(alert["alert"].get("history") or [])
    change: dict[str, Any] = {"status": status, "updated": now}
    if status == "closed":
        if reason not in CLOSE_REASONS:
            raise InvalidInput(f"Closing needs a reason: one of {', '.join(CLOSE_REASONS)}.",
                               detail=[{"field": "close_reason", "message": "required to close"}])
        change["close_reason"] = reason
    elif current == "closed":
        change["close_reason"] = None
    history.append(_entry(actor, "status", now, field="status", **{"from": current, "to": status},
                          **({"close_reason": reason} if status == "closed" else {})))
    change["history"] = history
    return {"alert": change}


def _assign_change(alert: dict[str, Any], actor: Actor, assignee: str | None, now: str) -> dict[str, Any] | None:
    current = alert["alert"].get("assignee")
    target = (assignee or "").strip() or None
    if target is not None and len(target) > 64:
        raise InvalidInput("assignee is a user name (at most 64 characters).",
                           detail=[{"field": "assignee", "message": "too long"}])
    if target == current:
        return None
    history = list(alert["alert"].get("history") or [])
    history.append(_entry(actor, "assign", now, field="assignee", **{"from": current, "to": target}))
    return {"alert": {"assignee": target, "updated": now, "history": history}}


def _comment_change(alert: dict[str, Any], actor: Actor, text: str, now: str) -> dict[str, Any]:
    body = (text or "").strip()
    if not body or len(body) > MAX_COMMENT:
        raise InvalidInput(f"A comment has 1-{MAX_COMMENT} characters.",
                           detail=[{"field": "text", "message": "empty or too long"}])
    comments = list(alert["alert"].get("comments") or [])
    comment = {"id": secrets.token_hex(6), "time": now, "author": actor.name, "text": body}
    comments.append(comment)
    history = list(alert["alert"].get("history") or [])
    history.append(_entry(actor, "comment", now, field="comments", **{"from": None, "to": comment["id"]}))
    return {"alert": {"comments": comments, "history": history, "updated": now}}


def _apply(store: Store, settings: Settings, auditor: Auditor, actor: Actor, alert_id: str, action: str,
           make: Any, detail: dict[str, Any]) -> dict[str, Any]:
    index = alerts_index(settings.index_prefix)
    alert_id = resolve_alert_id(store, settings, alert_id)

    def scoped(alert: dict[str, Any]) -> dict[str, Any] | None:
        if not visible_to(actor, alert):
            raise NotFound(f"No alert {alert_id!r}; list alerts with GET /api/v1/alerts.")
        return make(alert)  # type: ignore[no-any-return]

    try:
        result = optimistic_update(store, index, alert_id, scoped, "alert")
    except SocError as exc:
        auditor.record(actor, f"alerts.{action}", alert_id, outcome="failure", detail={**detail, "error": exc.message})
        raise
    auditor.record(actor, f"alerts.{action}", alert_id, detail=detail)
    return result


@requires("alerts.update")
def set_status(store: Store, settings: Settings, auditor: Auditor, alert_id: str, status: str, *, actor: Actor,
               close_reason: str | None = None) -> dict[str, Any]:
    now = iso(utcnow())
    return _apply(store, settings, auditor, actor, alert_id, "status",
                  lambda a: _status_change(a, actor, status, close_reason, now),
                  {"to": status, "close_reason": close_reason})


@requires("alerts.update")
def assign(store: Store, settings: Settings, auditor: Auditor, alert_id: str, assignee: str | None, *,
           actor: Actor) -> dict[str, Any]:
    now = iso(utcnow())
    return _apply(store, settings, auditor, actor, alert_id, "assign",
                  lambda a: _assign_change(a, actor, assignee, now), {"assignee": assignee})


@requires("alerts.update")
def add_comment(store: Store, settings: Settings, auditor: Auditor, alert_id: str, text: str, *,
                actor: Actor) -> dict[str, Any]:
    now = iso(utcnow())
    return _apply(store, settings, auditor, actor, alert_id, "comment",
                  lambda a: _comment_change(a, actor, text, now), {"length": len(text or "")})


@requires("alerts.update")
def bulk_update(store: Store, settings: Settings, auditor: Auditor, alert_ids: list[str], *, actor: Actor,
                status: str | None = None, close_reason: str | None = None, assignee: str | None = None,
                set_assignee: bool = False, comment: str | None = None) -> dict[str, Any]:
    """Apply one change to many alerts; each alert reports its own success or error."""
    ids = list(dict.fromkeys(a for a in alert_ids if a))
    if not ids or len(ids) > MAX_BULK:
        raise InvalidInput(f"Give 1-{MAX_BULK} alert ids.", detail=[{"field": "ids", "message": "count"}])
    if status is None and not set_assignee and comment is None:
        raise InvalidInput("Say what to change: status, assignee or comment.",
                           detail=[{"field": "status", "message": "nothing to change"}])
    if status == "closed" and close_reason not in CLOSE_REASONS:
        raise InvalidInput(f"Closing needs a reason: one of {', '.join(CLOSE_REASONS)}.",
                           detail=[{"field": "close_reason", "message": "required to close"}])
    results: list[dict[str, Any]] = []
    for alert_id in ids:
        try:
            if status is not None:
                set_status(store, settings, auditor, alert_id, status, actor=actor, close_reason=close_reason)
            if set_assignee:
                assign(store, settings, auditor, alert_id, assignee, actor=actor)
            if comment is not None:
                add_comment(store, settings, auditor, alert_id, comment, actor=actor)
            results.append({"id": alert_id, "ok": True, "error": None})
        except SocError as exc:
            results.append({"id": alert_id, "ok": False, "error": exc.message})
    ok = sum(1 for r in results if r["ok"])
    return {"succeeded": ok, "failed": len(results) - ok, "results": results}


@requires("alerts.read")
def export_alerts(store: Store, settings: Settings, auditor: Auditor, *, actor: Actor,
                  max_items: int = 10_000, **filters: Any) -> list[dict[str, Any]]:
    """Every alert matching the filters (up to ``max_items``); the export itself is audited."""
    query = _scope(build_alert_query(**{k: v for k, v in filters.items() if v is not None}), actor)
    items: list[dict[str, Any]] = []
    for hit in store.scan(alerts_index(settings.index_prefix), query,
                          sort=[{"@timestamp": "desc"}, {"alert.id": "desc"}],
                          source={"excludes": ["event_copy"]}):
        items.append(mask_for_display(hit["_source"]))
        if len(items) >= max_items:
            break
    auditor.record(actor, "alerts.export", alerts_index(settings.index_prefix),
                   detail={"count": len(items), "filters": {k: v for k, v in filters.items() if v}})
    return items
