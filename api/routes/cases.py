"""Cases: create from alerts, add/remove alerts, merge, status, assignee, severity, notes; share with
users of another department for a limited time (grant, list, revoke)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.deps import current_actor, get_auditor, get_settings, get_store, uses
from core.auditing import Actor, Auditor
from core.es import Store
from core.settings import Settings
from detections.triage import cases as svc
from detections.triage import sharing

router = APIRouter(prefix="/cases", tags=["cases"])

Severity = Literal["low", "medium", "high", "critical"]
CaseStatus = Literal["open", "in_progress", "closed", "merged"]


class ItemResult(BaseModel):
    id: str
    ok: bool
    error: str | None = None


class CaseOut(BaseModel):
    case: dict[str, Any]
    results: list[ItemResult] = []


class CasePage(BaseModel):
    total: int
    items: list[dict[str, Any]]
    next: str | None = None


class CreateCaseBody(BaseModel):
    title: str = Field(..., min_length=1, max_length=300)
    alert_ids: list[str] = Field(default_factory=list, max_length=500)
    severity: Severity = "medium"
    description: str = Field("", max_length=20_000)
    assignee: str | None = Field(None, max_length=64)


class UpdateCaseBody(BaseModel):
    title: str | None = Field(None, min_length=1, max_length=300)
    status: Literal["open", "in_progress", "closed"] | None = None
    severity: Severity | None = None
    assign: bool = Field(False, description="Set the assignee (to `assignee`, null = unassign)")
    assignee: str | None = Field(None, max_length=64)


class AlertIdsBody(BaseModel):
    alert_ids: list[str] = Field(..., min_length=1, max_length=500)


class NoteBody(BaseModel):
    text: str = Field(..., min_length=1, max_length=20_000)


class MergeBody(BaseModel):
    source_ids: list[str] = Field(..., min_length=1, max_length=50)


@router.get("", response_model=CasePage, **uses(svc.list_cases))
def list_cases(status: list[CaseStatus] | None = Query(None), severity: list[Severity] | None = Query(None),
               assignee: str | None = Query(None, max_length=64), size: int = Query(50, ge=1, le=500),
               after: str | None = Query(None, max_length=4000), actor: Actor = Depends(current_actor),
               store: Store = Depends(get_store), settings: Settings = Depends(get_settings)) -> Any:
    return svc.list_cases(store, settings, actor=actor, status=list(status or []), severity=list(severity or []),
                          assignee=assignee, size=size, after=after)


@router.post("", response_model=CaseOut, status_code=201, **uses(svc.create_case))
def create_case(body: CreateCaseBody, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.create_case(store, settings, auditor, body.title, actor=actor, alert_ids=body.alert_ids,
                           severity=body.severity, description=body.description, assignee=body.assignee)


@router.get("/{case_id}", response_model=dict[str, Any], **uses(svc.case_detail))
def get_case(case_id: str, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
             settings: Settings = Depends(get_settings)) -> Any:
    return svc.case_detail(store, settings, case_id, actor=actor)


@router.patch("/{case_id}", response_model=dict[str, Any], **uses(svc.update_case))
def update_case(case_id: str, body: UpdateCaseBody, actor: Actor = Depends(current_actor),
                store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
                auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.update_case(store, settings, auditor, case_id, actor=actor, title=body.title, status=body.status,
                           severity=body.severity, assignee=body.assignee, set_assignee=body.assign)


@router.post("/{case_id}/alerts", response_model=CaseOut, **uses(svc.add_alerts))
def add_alerts(case_id: str, body: AlertIdsBody, actor: Actor = Depends(current_actor),
               store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
               auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.add_alerts(store, settings, auditor, case_id, body.alert_ids, actor=actor)


@router.post("/{case_id}/alerts/remove", response_model=CaseOut, **uses(svc.remove_alerts))
def remove_alerts(case_id: str, body: AlertIdsBody, actor: Actor = Depends(current_actor),
                  store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
                  auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.remove_alerts(store, settings, auditor, case_id, body.alert_ids, actor=actor)


@router.post("/{case_id}/notes", response_model=dict[str, Any], **uses(svc.add_note))
def add_note(case_id: str, body: NoteBody, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
             settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.add_note(store, settings, auditor, case_id, body.text, actor=actor)


@router.post("/{case_id}/merge", response_model=CaseOut, **uses(svc.merge_cases))
def merge(case_id: str, body: MergeBody, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
          settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.merge_cases(store, settings, auditor, case_id, body.source_ids, actor=actor)


class ShareBody(BaseModel):
    grantees: list[str] = Field(..., min_length=1, max_length=20,
                                description="User names of another department")
    expires: str = Field(..., min_length=1, max_length=64,
                         description="ISO 8601 time or a duration (12h, 7d); at most 30 days ahead")
    reason: str = Field("", max_length=2000)


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


@router.post("/{case_id}/shares", response_model=dict[str, Any], status_code=201, **uses(sharing.share_case))
def share_case(case_id: str, body: ShareBody, actor: Actor = Depends(current_actor),
               store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
               auditor: Auditor = Depends(get_auditor), now: datetime = Depends(_now)) -> Any:
    return sharing.share_case(store, settings, auditor, case_id, actor=actor, grantees=body.grantees,
                              expires=body.expires, reason=body.reason, now=now)


@router.get("/{case_id}/shares", response_model=dict[str, Any], **uses(sharing.list_shares))
def list_shares(case_id: str, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                settings: Settings = Depends(get_settings), now: datetime = Depends(_now)) -> Any:
    return sharing.list_shares(store, settings, case_id, actor=actor, now=now)


@router.delete("/{case_id}/shares/{share_id}", response_model=dict[str, Any], **uses(sharing.revoke_share))
def revoke_share(case_id: str, share_id: str, actor: Actor = Depends(current_actor),
                 store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
                 auditor: Auditor = Depends(get_auditor), now: datetime = Depends(_now)) -> Any:
    return sharing.revoke_share(store, settings, auditor, case_id, share_id, actor=actor, now=now)
