"""The audit trail: search and verify (read-only; nothing here edits or deletes records)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import current_actor, get_auditor, uses
from audit.trail import AuditTrail
from core.auditing import Actor
from core.errors import Unavailable

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditRecord(BaseModel):
    seq: int
    time: str
    actor: str
    role: str
    address: str | None = None
    action: str
    target: str
    outcome: str
    detail: dict[str, Any] = {}
    prev_hash: str
    hash: str
    organization: dict[str, Any] | None = Field(None, description="the department the actor acted for")


class AuditPage(BaseModel):
    total: int
    items: list[AuditRecord]
    next: int | None = None


class Problem(BaseModel):
    source: str
    kind: str
    position: int
    seq: Any = None
    record_id: str | None = None
    message: str


class VerifyOut(BaseModel):
    ok: bool
    records: dict[str, int]
    first_problem: Problem | None = None
    problems: list[Problem]
    verified_at: str
    head_seen: dict[str, Any] | None = Field(None, description="the head this verification saw (and sealed)")
    anchor: dict[str, Any] | None = Field(None, description="the sealed head file: last head, append-only, journal")
    mirror_append_only: bool | None = None
    recorded: bool = Field(True, description="False when the trail refused to record this verification")
    record_error: str | None = None


def _trail(auditor: Any = Depends(get_auditor)) -> AuditTrail:
    if not isinstance(auditor, AuditTrail):
        raise Unavailable("This API instance has no persistent audit trail configured.")
    return auditor


@router.get("", response_model=AuditPage, **uses(AuditTrail.search))
def search_audit(action: str | None = Query(None, max_length=200), user: str | None = Query(None, max_length=200),
                 outcome: str | None = Query(None, max_length=50),
                 start: str | None = Query(None, max_length=40, description="ISO 8601"),
                 end: str | None = Query(None, max_length=40, description="ISO 8601"),
                 size: int = Query(50, ge=1, le=500), search_after: int | None = Query(None, ge=0),
                 actor: Actor = Depends(current_actor), trail: AuditTrail = Depends(_trail)) -> Any:
    return trail.search(actor=actor, action=action, user=user, outcome=outcome, start=start, end=end, size=size,
                        search_after=search_after)


@router.get("/verify", response_model=VerifyOut, **uses(AuditTrail.verify))
def verify_audit(actor: Actor = Depends(current_actor), trail: AuditTrail = Depends(_trail)) -> Any:
    return trail.verify(actor=actor)
