"""Personal information (个人信息保护): the inventory (JSON or CSV), the policy in force, and
time-limited, audited unmasking for the security administrator."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import current_actor, get_auditor, get_settings, get_store, uses
from core.auditing import Actor, Auditor
from core.es import Store
from core.settings import Settings
from privacy import service as svc

router = APIRouter(prefix="/privacy", tags=["privacy"])


@router.get("/inventory", **uses(svc.inventory))
def inventory(since: str | None = Query(None, max_length=40), format: str = Query("json", pattern="^(json|csv)$"),
              actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
              settings: Settings = Depends(get_settings)) -> Any:
    """Where personal information is processed: dataset, field, kind, events, first/last seen, hosts."""
    report = svc.inventory(store, settings, actor=actor, since=since)
    if format == "csv":
        return Response(svc.inventory_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="pii-inventory.csv"'})
    return report


@router.get("/policy", **uses(svc.policy_view))
def policy(actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    return svc.policy_view(settings, actor=actor)


class GrantBody(BaseModel):
    case_id: str = Field(..., min_length=1, max_length=100)
    reason: str = Field(..., min_length=10, max_length=1000)
    minutes: int | None = Field(None, ge=1, le=480)


@router.post("/grants", status_code=201, **uses(svc.create_grant))
def create_grant(body: GrantBody, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                 settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> dict[str, Any]:
    """A time-limited unmask grant for one case, with the reason (audited)."""
    return svc.create_grant(store, settings, auditor, actor=actor, case_id=body.case_id, reason=body.reason,
                            minutes=body.minutes)


@router.get("/events/{index}/{event_id}", **uses(svc.unmask_event))
def unmask_event(index: str, event_id: str, grant: str = Query(..., min_length=1, max_length=64),
                 actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                 settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> dict[str, Any]:
    """One event with the values the policy keeps shown in clear, under a live grant (audited)."""
    return svc.unmask_event(store, settings, auditor, actor=actor, grant_id=grant, index=index, event_id=event_id)
