"""Alerts: list (filters, sort, facets, cursor paging), one alert, lifecycle, assignment,
comments, bulk actions and export."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import current_actor, get_auditor, get_settings, get_store, uses
from core.auditing import Actor, Auditor
from core.csvsafe import write_csv
from core.es import Store
from core.settings import Settings
from detections.triage import alerts as svc
from detections.triage import episode_events

router = APIRouter(prefix="/alerts", tags=["alerts"])

Status = Literal["new", "acknowledged", "in_progress", "closed"]
Level = Literal["informational", "low", "medium", "high", "critical"]
CloseReason = Literal["true_positive", "false_positive", "benign", "duplicate"]
SortField = Literal["@timestamp", "risk", "updated", "status", "rule", "host", "level"]


class FacetValue(BaseModel):
    value: Any
    count: int


class AlertPage(BaseModel):
    total: int
    items: list[dict[str, Any]] = Field(description="Alert documents (see core/alerting.py), without history")
    next: str | None = Field(None, description="Pass as `after` for the next page; null at the end")
    facets: dict[str, list[FacetValue]] | None = None


class AlertDetail(BaseModel):
    alert: dict[str, Any]
    events: list[dict[str, Any]]
    history: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    rule: dict[str, Any] | None = None      # the rule as stored: description, references, Sigma, query
    attack: dict[str, Any] | None = None    # ATT&CK tactics and techniques named by its tags


class StatusBody(BaseModel):
    status: Status
    close_reason: CloseReason | None = Field(None, description="Required when status is closed")


class AssignBody(BaseModel):
    assignee: str | None = Field(None, max_length=64, description="User name; null to unassign")


class CommentBody(BaseModel):
    text: str = Field(..., min_length=1, max_length=10_000)


class BulkBody(BaseModel):
    ids: list[str] = Field(..., min_length=1, max_length=500)
    status: Status | None = None
    close_reason: CloseReason | None = None
    assign: bool = Field(False, description="Set the assignee (to `assignee`, null = unassign)")
    assignee: str | None = Field(None, max_length=64)
    comment: str | None = Field(None, min_length=1, max_length=10_000)


class ItemResult(BaseModel):
    id: str
    ok: bool
    error: str | None = None


class BulkOut(BaseModel):
    succeeded: int
    failed: int
    results: list[ItemResult]


@router.get("", response_model=AlertPage, **uses(svc.list_alerts))
def list_alerts(
    status: list[Status] | None = Query(None), level: list[Level] | None = Query(None),
    rule: list[str] | None = Query(None, description="rule id or name"),
    host: list[str] | None = Query(None), user: list[str] | None = Query(None),
    address: str | None = Query(None, max_length=64, description="source, destination or host IP"),
    assignee: str | None = Query(None, max_length=64), case_id: str | None = Query(None, max_length=64),
    start: str | None = Query(None, max_length=40, description="ISO 8601 or now-24h"),
    end: str | None = Query(None, max_length=40), q: str | None = Query(None, max_length=2000, description="free text"),
    sort: SortField = "@timestamp", order: Literal["asc", "desc"] = "desc", size: int = Query(50, ge=1, le=500),
    after: str | None = Query(None, max_length=4000), facets: bool = False,
    technique: str | None = Query(None, max_length=12, description="ATT&CK technique id (T1110, T1110.001)"),
    tactic: str | None = Query(None, max_length=40, description="ATT&CK tactic (credential-access or TA0006)"),
    actor: Actor = Depends(current_actor), store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
) -> Any:
    page = svc.list_alerts(store, settings, actor=actor, status=list(status or []), level=list(level or []),
                           rule=rule, host=host, user=user, address=address, assignee=assignee, case_id=case_id,
                           start=start, end=end, text=q, sort=sort, order=order, size=size, after=after,
                           facets=facets, technique=technique, tactic=tactic)
    page.setdefault("facets", None)
    # The hot path of the console: serialise once with orjson instead of validating every alert
    # document again against a model that is ``dict[str, Any]`` anyway (the schema stays documented).
    return Response(orjson.dumps(page), media_type="application/json")


CSV_COLUMNS = ["@timestamp", "alert.id", "alert.status", "alert.level", "alert.risk_score", "rule.id", "rule.name",
               "host.name", "user.name", "source.ip", "destination.ip", "alert.assignee", "alert.reason"]


def _dig(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split(".") if dotted != "@timestamp" else [dotted]:
        value = value.get(part) if isinstance(value, dict) else None
    return value


@router.get("/export", **uses(svc.export_alerts))
def export_alerts(
    status: list[Status] | None = Query(None), level: list[Level] | None = Query(None),
    rule: list[str] | None = Query(None), host: list[str] | None = Query(None),
    start: str | None = Query(None, max_length=40), end: str | None = Query(None, max_length=40),
    q: str | None = Query(None, max_length=2000), limit: int = Query(10_000, ge=1, le=10_000),
    format: Literal["ndjson", "csv"] = Query("ndjson", description="ndjson (every field) or csv (main columns)"),
    actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
    settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor),
) -> Response:
    """Every matching alert as newline-delimited JSON or CSV (audited as an export)."""
    items = svc.export_alerts(store, settings, auditor, actor=actor, max_items=limit, status=status, level=level,
                              rule=rule, host=host, start=start, end=end, text=q)
    if format == "csv":
        rows = ([_dig(i, c) for c in CSV_COLUMNS] for i in items)
        return Response(("\ufeff" + write_csv(CSV_COLUMNS, rows)).encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="alerts.csv"'})
    payload = b"".join(orjson.dumps(i) + b"\n" for i in items)
    return Response(payload, media_type="application/x-ndjson",
                    headers={"content-disposition": 'attachment; filename="alerts.ndjson"'})


@router.post("/bulk", response_model=BulkOut, **uses(svc.bulk_update))
def bulk(body: BulkBody, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
         settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.bulk_update(store, settings, auditor, body.ids, actor=actor, status=body.status,
                           close_reason=body.close_reason, assignee=body.assignee, set_assignee=body.assign,
                           comment=body.comment)


@router.get("/{alert_id}", response_model=AlertDetail, **uses(svc.get_alert))
def get_alert(alert_id: str, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
              settings: Settings = Depends(get_settings)) -> Any:
    return svc.get_alert(store, settings, alert_id, actor=actor)


@router.get("/{alert_id}/events", **uses(episode_events.alert_events))
def alert_events(alert_id: str, size: int = Query(50, ge=1, le=500), after: str | None = Query(None, max_length=4000),
                 actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                 settings: Settings = Depends(get_settings)) -> Any:
    """Every event behind the alert (a correlation's events over all its windows), paged."""
    return episode_events.alert_events(store, settings, alert_id, actor=actor, size=size, after=after)


@router.post("/{alert_id}/status", response_model=dict[str, Any], **uses(svc.set_status))
def set_status(alert_id: str, body: StatusBody, actor: Actor = Depends(current_actor),
               store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
               auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.set_status(store, settings, auditor, alert_id, body.status, actor=actor, close_reason=body.close_reason)


@router.post("/{alert_id}/assign", response_model=dict[str, Any], **uses(svc.assign))
def assign(alert_id: str, body: AssignBody, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
           settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.assign(store, settings, auditor, alert_id, body.assignee, actor=actor)


@router.post("/{alert_id}/comments", response_model=dict[str, Any], **uses(svc.add_comment))
def comment(alert_id: str, body: CommentBody, actor: Actor = Depends(current_actor),
            store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
            auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.add_comment(store, settings, auditor, alert_id, body.text, actor=actor)
