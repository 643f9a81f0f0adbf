"""Platform health for every role: Elasticsearch, scheduler, collectors, audit writes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from api.deps import current_actor, get_settings, get_store, uses
from api.platform import collectors_probe, organizations_probe, platform_health, scheduler_probe
from core.auditing import Actor
from core.es import Store
from core.settings import Settings

router = APIRouter(prefix="/platform", tags=["platform"])


class PlatformHealth(BaseModel):
    status: str
    components: dict[str, dict[str, Any]]


@router.get("/health", response_model=PlatformHealth, **uses(platform_health))
def health(request: Request, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
           settings: Settings = Depends(get_settings)) -> Any:
    services = request.app.state.services
    probes = dict(services.get("health_probes") or {})
    if "scheduler" not in probes and services.get("scheduler") is not None:
        probes["scheduler"] = scheduler_probe(services["scheduler"])
    probes.setdefault("collectors", collectors_probe(settings))
    probes.setdefault("organizations", organizations_probe(store, settings))
    probes.setdefault("audit", request.app.state.audit_failures.probe)
    return platform_health(store, probes, actor=actor, settings=settings)
