"""Detection rules: list, show, enable/disable, suppression, exceptions (versioned)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import current_actor, get_auditor, get_settings, get_store, uses
from core.auditing import Actor, Auditor
from core.es import Store
from core.settings import Settings
from detections import service as svc

router = APIRouter(prefix="/rules", tags=["rules"])

Level = Literal["informational", "low", "medium", "high", "critical"]
ExceptionOp = Literal["equals", "contains", "startswith", "endswith", "cidr", "regex"]


class RulePage(BaseModel):
    total: int
    items: list[dict[str, Any]] = Field(description="id, title, level, enabled, ATT&CK, stats, …")


RuleId = Annotated[str, Field(min_length=1, max_length=200)]


class EnableBody(BaseModel):
    ids: list[RuleId] = Field(min_length=1, max_length=5000)
    enabled: bool


class SuppressionBody(BaseModel):
    # Required: an update that names nothing must not switch suppression off by default.
    fields: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        max_length=10, description="group alerts by these fields; [] = no suppression")
    window: str = Field("5m", pattern=r"^\d+[smhd]$")


class ExceptionBody(BaseModel):
    field: str = Field(min_length=1, max_length=200)
    op: ExceptionOp = "equals"
    values: list[Annotated[str, Field(max_length=4000)]] = Field(min_length=1, max_length=1000)
    comment: str = Field("", max_length=500)


@router.get("", response_model=RulePage, **uses(svc.list_rules))
def list_rules(enabled: bool | None = Query(None), level: Level | None = Query(None),
               q: str | None = Query(None, max_length=200), limit: int = Query(500, ge=1, le=10000),
               actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
               settings: Settings = Depends(get_settings)) -> Any:
    items = svc.list_rules(store, settings.index_prefix, actor=actor, enabled=enabled, level=level, text=q,
                           limit=limit)
    return {"total": len(items), "items": items}


@router.get("/import-report", **uses(svc.last_import_report))
def import_report(actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                  settings: Settings = Depends(get_settings)) -> Any:
    """The last rule import's lint report: every rule loaded or rejected with its reason."""
    return svc.last_import_report(store, settings.index_prefix, actor=actor)


@router.post("/enabled", **uses(svc.set_enabled))
def set_enabled(body: EnableBody, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> Any:
    return {"results": svc.set_enabled(store, settings.index_prefix, body.ids, body.enabled, actor=actor,
                                       auditor=auditor)}


@router.get("/{rule_id}", **uses(svc.get_rule))
def get_rule(rule_id: str, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
             settings: Settings = Depends(get_settings)) -> Any:
    return svc.get_rule(store, settings.index_prefix, rule_id, actor=actor)


@router.put("/{rule_id}/suppression", **uses(svc.set_suppression))
def set_suppression(rule_id: str, body: SuppressionBody, actor: Actor = Depends(current_actor),
                    store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
                    auditor: Auditor = Depends(get_auditor)) -> Any:
    doc = svc.set_suppression(store, settings.index_prefix, rule_id, body.fields, body.window, actor=actor,
                              auditor=auditor)
    return {"id": rule_id, "suppression": doc.get("suppression")}


@router.get("/{rule_id}/exceptions", **uses(svc.list_exceptions))
def list_exceptions(rule_id: str, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                    settings: Settings = Depends(get_settings)) -> Any:
    return svc.list_exceptions(store, settings.index_prefix, rule_id, actor=actor)


@router.post("/{rule_id}/exceptions", status_code=201, **uses(svc.add_exception))
def add_exception(rule_id: str, body: ExceptionBody, actor: Actor = Depends(current_actor),
                  store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
                  auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.add_exception(store, settings.index_prefix, rule_id, body.field, body.op, body.values, actor=actor,
                             auditor=auditor, comment=body.comment)


@router.delete("/{rule_id}/exceptions/{exception_id}", **uses(svc.remove_exception))
def remove_exception(rule_id: str, exception_id: str, actor: Actor = Depends(current_actor),
                     store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
                     auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.remove_exception(store, settings.index_prefix, rule_id, exception_id, actor=actor, auditor=auditor)
