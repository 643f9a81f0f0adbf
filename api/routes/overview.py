"""The analyst's overview and the ATT&CK coverage matrix."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from api.deps import current_actor, get_settings, get_store, uses
from core.auditing import Actor
from core.es import Store
from core.settings import Settings
from detections.triage import attack as attack_svc
from detections.triage import overview as overview_svc

router = APIRouter(tags=["overview"])


@router.get("/overview", **uses(overview_svc.overview))
def overview(start: str | None = Query(None, max_length=40, description="ISO 8601 or now-24h (default)"),
             end: str | None = Query(None, max_length=40), actor: Actor = Depends(current_actor),
             store: Store = Depends(get_store), settings: Settings = Depends(get_settings)) -> Any:
    return overview_svc.overview(store, settings, actor=actor, start=start, end=end)


@router.get("/attack/matrix", **uses(attack_svc.matrix))
def attack_matrix(start: str | None = Query(None, max_length=40, description="alerts since (default now-7d)"),
                  end: str | None = Query(None, max_length=40), actor: Actor = Depends(current_actor),
                  store: Store = Depends(get_store), settings: Settings = Depends(get_settings)) -> Any:
    return attack_svc.matrix(store, settings, actor=actor, start=start, end=end)
