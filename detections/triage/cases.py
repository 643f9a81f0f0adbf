"""Cases: group alerts, track status, assignee, severity, notes and a timeline; merge cases.

Cases live in ``<prefix>-cases``; an alert in a case carries ``alert.case_id``."""

from __future__ import annotations

import secrets
from typing import Any

from core import scope as scopes
from core.alerting import alerts_index
from core.auditing import Actor, Auditor
from core.errors import Conflict, InvalidInput, NotFound, SocError
from core.es import Store
from core.permissions import requires
from core.settings import Settings
from core.timeutil import iso, utcnow
from detections.triage.alerts import resolve_alert_id
from detections.triage.common import (
    check_writable,
    decode_cursor,
    encode_cursor,
    optimistic_update,
    page_size,
)
from detections.triage.share_records import refresh_case_shares

CASE_STATUSES = ("open", "in_progress", "closed", "merged")
SEVERITIES = ("low", "medium", "high", "critical")
MAX_ALERTS_PER_CALL = 500

_KW = {"type": "keyword"}
CASES_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "case_id": _KW, "title": {"type": "text", "fields": {"raw": _KW}}, "status": _KW, "severity": _KW,
        "assignee": _KW, "alert_ids": _KW, "created": {"type": "date"}, "updated": {"type": "date"},
        "created_by": _KW, "merged_into": _KW,
    },
}


def cases_index(settings: Settings) -> str:
    return settings.index("cases")


def _ensure(store: Store, settings: Settings) -> str:
    index = cases_index(settings)
    store.ensure_index(index, mappings=CASES_MAPPING)
    return index


def _check_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise InvalidInput(f"Unknown severity {severity!r}; use {', '.join(SEVERITIES)}.",
                           detail=[{"field": "severity", "message": "unknown severity"}])
    return severity


def _check_ids(alert_ids: list[str], *, allow_empty: bool = True) -> list[str]:
    ids = list(dict.fromkeys(a for a in alert_ids if a))
    if len(ids) > MAX_ALERTS_PER_CALL or (not ids and not allow_empty):
        raise InvalidInput(f"Give 1-{MAX_ALERTS_PER_CALL} alert ids.", detail=[{"field": "alert_ids", "message": "count"}])
    return ids


def _event(actor: Actor, action: str, now: str, **extra: Any) -> dict[str, Any]:
    return {"time": now, "actor": actor.name, "action": action, **extra}


def _link_alerts(store: Store, settings: Settings, alert_ids: list[str], case_id: str | None,
                 actor: Actor, now: str) -> list[dict[str, Any]]:
    """Set (or clear) ``alert.case_id`` on each alert; per-item results."""
    results = []
    for ref in alert_ids:
        try:
            alert_id = resolve_alert_id(store, settings, ref)
        except SocError as exc:
            results.append({"id": ref, "ok": False, "error": exc.message})
            continue

        def change(alert: dict[str, Any], alert_id: str = alert_id) -> dict[str, Any] | None:
            current = alert.get("alert", {}).get("case_id")
            if current == case_id:
                return None
            history = list(alert["alert"].get("history") or [])
            history.append({"time": now, "actor": actor.name, "role": actor.role, "action": "case",
                            "field": "case_id", "from": current, "to": case_id})
            return {"alert": {"case_id": case_id, "history": history, "updated": now}}
        try:
            optimistic_update(store, alerts_index(settings.index_prefix), alert_id, change, "alert")
            results.append({"id": alert_id, "ok": True, "error": None})
        except SocError as exc:
            results.append({"id": alert_id, "ok": False, "error": exc.message})
    return results


def _department(store: Store, settings: Settings, alert_ids: list[str]) -> str:
    """The department a new case belongs to: the creator's; for a district-wide creator, the
    department of its alerts when they all have the same one (else the district's)."""
    scope = scopes.current()
    if scope is not None and scope.restricted:
        return scope.home
    orgs = {scopes.organization_of((d or {}).get("_source")) or scopes.DISTRICT
            for d in (store.mget(alerts_index(settings.index_prefix), alert_ids) if alert_ids else [])}
    return orgs.pop() if len(orgs) == 1 else scopes.DISTRICT


@requires("cases.manage")
def create_case(store: Store, settings: Settings, auditor: Auditor, title: str, *, actor: Actor,
                alert_ids: list[str] | None = None, severity: str = "medium", description: str = "",
                assignee: str | None = None) -> dict[str, Any]:
    label = (title or "").strip()
    if not label or len(label) > 300:
        raise InvalidInput("A case needs a title of 1-300 characters.", detail=[{"field": "title", "message": "required"}])
    ids = _check_ids(alert_ids or [])
    index = _ensure(store, settings)
    now = iso(utcnow())
    case_id = "case-" + secrets.token_hex(6)
    linked = _link_alerts(store, settings, ids, case_id, actor, now)
    good = [r["id"] for r in linked if r["ok"]]
    doc = {
        "organization": {"id": _department(store, settings, good)}, "case_id": case_id, "title": label, "description": description[:20_000], "status": "open",
        "severity": _check_severity(severity), "assignee": assignee, "alert_ids": good, "notes": [],
        "timeline": [_event(actor, "created", now, alerts=good)], "created": now, "updated": now,
        "created_by": actor.name, "merged_into": None,
    }
    store.put(index, case_id, doc, create=True, refresh=True)
    auditor.record(actor, "cases.create", case_id, detail={"alerts": len(good)})
    return {"case": doc, "results": linked}


@requires("cases.read")
def list_cases(store: Store, settings: Settings, *, actor: Actor, status: list[str] | None = None,
               assignee: str | None = None, severity: list[str] | None = None, size: int = 50,
               after: str | None = None) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if status:
        filters.append({"terms": {"status": status}})
    if severity:
        filters.append({"terms": {"severity": severity}})
    if assignee:
        filters.append({"term": {"assignee": assignee}})
    body: dict[str, Any] = {"size": page_size(size), "query": {"bool": {"filter": filters}},
                            "sort": [{"updated": "desc"}, {"case_id": "desc"}], "track_total_hits": True,
                            "_source": {"excludes": ["timeline", "notes"]}}
    cursor = decode_cursor(after)
    if cursor is not None:
        body["search_after"] = cursor
    resp = store.search(cases_index(settings), body)
    hits = resp["hits"]["hits"]
    return {"total": resp["hits"]["total"]["value"], "items": [h["_source"] for h in hits],
            "next": encode_cursor(hits[-1]["sort"]) if len(hits) == body["size"] else None}


@requires("cases.read")
def get_case(store: Store, settings: Settings, case_id: str, *, actor: Actor) -> dict[str, Any]:
    doc = store.get(cases_index(settings), case_id)
    if doc is None:
        raise NotFound(f"No case {case_id!r}; list cases with GET /api/v1/cases.")
    return dict(doc["_source"])


@requires("cases.read")
def case_detail(store: Store, settings: Settings, case_id: str, *, actor: Actor) -> dict[str, Any]:
    """The case with ``alert_timeline``: its alerts' own histories (status changes, assignments,
    comments by anyone, before and after they joined the case), newest last."""
    case = get_case(store, settings, case_id, actor=actor)
    ids = list(case.get("alert_ids") or [])[:MAX_ALERTS_PER_CALL]
    entries: list[dict[str, Any]] = []
    if ids:
        for doc in store.mget(alerts_index(settings.index_prefix), ids):
            src = doc.get("_source") if doc else None
            if not src:
                continue
            al = src.get("alert", {})
            base = {"alert_id": al.get("id"), "rule": (src.get("rule") or {}).get("name")}
            if al.get("created"):
                entries.append({**base, "time": al["created"], "actor": "system:detection", "action": "alert_raised"})
            entries.extend({**base, **{k: e.get(k) for k in ("time", "actor", "action", "field", "from", "to", "note")}}
                           for e in al.get("history") or [])
    entries.sort(key=lambda e: str(e.get("time") or ""))
    return {**case, "alert_timeline": entries}


def _update(store: Store, settings: Settings, auditor: Auditor, actor: Actor, case_id: str, action: str,
            make: Any, detail: dict[str, Any]) -> dict[str, Any]:
    result = optimistic_update(store, cases_index(settings), case_id, make, "case")
    auditor.record(actor, f"cases.{action}", case_id, detail=detail)
    return result


def _writable_case(store: Store, settings: Settings, case_id: str, actor: Actor) -> dict[str, Any]:
    """The case, when the caller may change it: not merged, and not one only shared with them."""
    case = get_case(store, settings, case_id, actor=actor)
    check_writable(cases_index(settings), case, "case", case_id)
    _not_merged(case)
    return case


def _not_merged(case: dict[str, Any]) -> None:
    if case.get("status") == "merged":
        raise Conflict(f"Case {case['case_id']} was merged into {case.get('merged_into')}; work on that case.")


@requires("cases.manage")
def update_case(store: Store, settings: Settings, auditor: Auditor, case_id: str, *, actor: Actor,
                title: str | None = None, status: str | None = None, severity: str | None = None,
                assignee: str | None = None, set_assignee: bool = False) -> dict[str, Any]:
    if status is not None and status not in ("open", "in_progress", "closed"):
        raise InvalidInput("status is open, in_progress or closed (merge with POST /cases/{id}/merge).",
                           detail=[{"field": "status", "message": "unknown status"}])
    if severity is not None:
        _check_severity(severity)
    if title is not None and not (1 <= len(title.strip()) <= 300):
        raise InvalidInput("A case needs a title of 1-300 characters.", detail=[{"field": "title", "message": "length"}])
    now = iso(utcnow())

    def change(case: dict[str, Any]) -> dict[str, Any] | None:
        _not_merged(case)
        partial: dict[str, Any] = {}
        timeline = list(case.get("timeline") or [])
        wanted: list[tuple[str, Any]] = [(f, v) for f, v in (("title", title.strip() if title else None),
                                                              ("status", status), ("severity", severity))
                                         if v is not None]
        if set_assignee:
            wanted.append(("assignee", (assignee or "").strip() or None))
        for field, value in wanted:
            if value != case.get(field):
                partial[field] = value
                timeline.append(_event(actor, field, now, **{"from": case.get(field), "to": value}))
        if not partial:
            return None
        partial["timeline"] = timeline
        partial["updated"] = now
        return partial

    return _update(store, settings, auditor, actor, case_id, "update", change,
                   {"status": status, "severity": severity, "assignee": assignee if set_assignee else None})


@requires("cases.manage")
def add_note(store: Store, settings: Settings, auditor: Auditor, case_id: str, text: str, *,
             actor: Actor) -> dict[str, Any]:
    body = (text or "").strip()
    if not body or len(body) > 20_000:
        raise InvalidInput("A note has 1-20000 characters.", detail=[{"field": "text", "message": "length"}])
    now = iso(utcnow())

    def change(case: dict[str, Any]) -> dict[str, Any]:
        _not_merged(case)
        note = {"id": secrets.token_hex(6), "time": now, "author": actor.name, "text": body}
        timeline = list(case.get("timeline") or []) + [_event(actor, "note", now, note_id=note["id"])]
        return {"notes": list(case.get("notes") or []) + [note], "timeline": timeline, "updated": now}

    return _update(store, settings, auditor, actor, case_id, "note", change, {"length": len(body)})


@requires("cases.manage")
def add_alerts(store: Store, settings: Settings, auditor: Auditor, case_id: str, alert_ids: list[str], *,
               actor: Actor) -> dict[str, Any]:
    ids = _check_ids(alert_ids, allow_empty=False)
    _writable_case(store, settings, case_id, actor)
    now = iso(utcnow())
    results = _link_alerts(store, settings, ids, case_id, actor, now)
    good = [r["id"] for r in results if r["ok"]]

    def change(current: dict[str, Any]) -> dict[str, Any] | None:
        existing = list(current.get("alert_ids") or [])
        new = [a for a in good if a not in existing]
        if not new:
            return None
        timeline = list(current.get("timeline") or []) + [_event(actor, "alerts_added", now, alerts=new)]
        return {"alert_ids": existing + new, "timeline": timeline, "updated": now}

    updated = _update(store, settings, auditor, actor, case_id, "add_alerts", change, {"alerts": good})
    refresh_case_shares(store, settings, updated, utcnow())
    return {"case": updated, "results": results}


@requires("cases.manage")
def remove_alerts(store: Store, settings: Settings, auditor: Auditor, case_id: str, alert_ids: list[str], *,
                  actor: Actor) -> dict[str, Any]:
    ids = _check_ids(alert_ids, allow_empty=False)
    case = _writable_case(store, settings, case_id, actor)
    members = set(case.get("alert_ids") or [])
    now = iso(utcnow())
    results = [{"id": a, "ok": False, "error": f"alert {a} is not in case {case_id}"} for a in ids if a not in members]
    results += _link_alerts(store, settings, [a for a in ids if a in members], None, actor, now)
    removed = [r["id"] for r in results if r["ok"]]

    def change(current: dict[str, Any]) -> dict[str, Any] | None:
        if not removed:
            return None
        timeline = list(current.get("timeline") or []) + [_event(actor, "alerts_removed", now, alerts=removed)]
        return {"alert_ids": [a for a in current.get("alert_ids") or [] if a not in removed],
                "timeline": timeline, "updated": now}

    updated = _update(store, settings, auditor, actor, case_id, "remove_alerts", change, {"alerts": removed})
    refresh_case_shares(store, settings, updated, utcnow())
    return {"case": updated, "results": results}


@requires("cases.manage")
def merge_cases(store: Store, settings: Settings, auditor: Auditor, target_id: str, source_ids: list[str], *,
                actor: Actor) -> dict[str, Any]:
    """Move the alerts and notes of ``source_ids`` into ``target_id``; the sources become ``merged``."""
    sources = [s for s in dict.fromkeys(source_ids) if s and s != target_id]
    if not sources or len(sources) > 50:
        raise InvalidInput("Give 1-50 other case ids to merge.", detail=[{"field": "source_ids", "message": "count"}])
    _writable_case(store, settings, target_id, actor)
    now = iso(utcnow())
    results: list[dict[str, Any]] = []
    for source_id in sources:
        try:
            src = _writable_case(store, settings, source_id, actor)
            moved = list(src.get("alert_ids") or [])
            _link_alerts(store, settings, moved, target_id, actor, now)

            def absorb(current: dict[str, Any], src: dict[str, Any] = src, moved: list[str] = moved) -> dict[str, Any]:
                existing = list(current.get("alert_ids") or [])
                notes = list(current.get("notes") or []) + list(src.get("notes") or [])
                timeline = list(current.get("timeline") or []) + [
                    _event(actor, "merged_from", now, case_id=src["case_id"], alerts=moved)]
                return {"alert_ids": existing + [a for a in moved if a not in existing], "notes": notes,
                        "timeline": timeline, "updated": now}

            optimistic_update(store, cases_index(settings), target_id, absorb, "case")

            def close_source(current: dict[str, Any]) -> dict[str, Any]:
                timeline = list(current.get("timeline") or []) + [_event(actor, "merged_into", now, case_id=target_id)]
                return {"status": "merged", "merged_into": target_id, "alert_ids": [], "timeline": timeline,
                        "updated": now}

            optimistic_update(store, cases_index(settings), source_id, close_source, "case")
            results.append({"id": source_id, "ok": True, "error": None})
        except SocError as exc:
            results.append({"id": source_id, "ok": False, "error": exc.message})
    auditor.record(actor, "cases.merge", target_id, detail={"sources": [r["id"] for r in results if r["ok"]]})
    merged = get_case(store, settings, target_id, actor=actor)
    refresh_case_shares(store, settings, merged, utcnow())
    for r in results:
        if r["ok"]:  # a merged case's grants keep covering only the (now empty) case itself
            refresh_case_shares(store, settings, get_case(store, settings, r["id"], actor=actor), utcnow())
    return {"case": merged, "results": results}
