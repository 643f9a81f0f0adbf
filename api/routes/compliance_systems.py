"""Graded systems (定级对象) of each department and the district roll-up of their compliance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import current_actor, get_auditor, get_lang, get_settings, get_store, uses
from compliance import rollup, systems
from core.auditing import Actor, Auditor
from core.es import Store
from core.orgmap import ORG_ID_PATTERN
from core.settings import Settings

router = APIRouter(prefix="/compliance", tags=["compliance"])

_ID = r"^[a-z0-9][a-z0-9_\-]{0,62}$"


class SystemName(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str | None = Field(None, max_length=200)
    en: str | None = Field(None, max_length=200)


class SystemChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | SystemName | None = Field(None, description="one name, or {zh, en}")
    name_en: str | None = Field(None, max_length=200)
    level: int | None = Field(None, ge=2, le=3, description="MLPS level: 2 or 3")
    hosts: list[str] | None = Field(None, max_length=systems.MAX_HOSTS,
                                    description="targets: local, root:/path, ssh://user@host[:port]")
    organization: str | None = Field(None, pattern=ORG_ID_PATTERN, description="department id (default: your own)")
    description: str | None = Field(None, max_length=2000)
    contact: str | None = Field(None, max_length=200)

    def data(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude_none=True)


class SystemBody(SystemChange):
    id: str = Field(..., pattern=_ID)
    level: int = Field(..., ge=2, le=3)  # type: ignore[assignment]


@router.get("/systems", **uses(systems.list_systems))
def list_systems(organization: str | None = Query(None, pattern=ORG_ID_PATTERN), actor: Actor = Depends(current_actor),
                 settings: Settings = Depends(get_settings), store: Store = Depends(get_store)) -> dict[str, Any]:
    return {"items": systems.list_systems(store, settings, actor, organization=organization)}


@router.post("/systems", status_code=201, **uses(systems.register_system))
def register_system(body: SystemBody, actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
                    store: Store = Depends(get_store), auditor: Auditor = Depends(get_auditor)) -> dict[str, Any]:
    return systems.register_system(store, settings, auditor, actor, body.data())


@router.get("/systems/{system_id}", **uses(systems.get_system))
def get_system(system_id: str, actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
               store: Store = Depends(get_store)) -> dict[str, Any]:
    return systems.get_system(store, settings, actor, system_id)


@router.patch("/systems/{system_id}", **uses(systems.update_system))
def update_system(system_id: str, body: SystemChange, actor: Actor = Depends(current_actor),
                  settings: Settings = Depends(get_settings), store: Store = Depends(get_store),
                  auditor: Auditor = Depends(get_auditor)) -> dict[str, Any]:
    return systems.update_system(store, settings, auditor, actor, system_id, body.data())


@router.delete("/systems/{system_id}", **uses(systems.remove_system))
def remove_system(system_id: str, actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
                  store: Store = Depends(get_store), auditor: Auditor = Depends(get_auditor)) -> dict[str, Any]:
    return systems.remove_system(store, settings, auditor, actor, system_id)


@router.get("/rollup", **uses(rollup.rollup))
def get_rollup(lang: str | None = Query(None, pattern="^(zh-CN|en)$"), header_lang: str = Depends(get_lang),
               actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
               store: Store = Depends(get_store)) -> dict[str, Any]:
    return rollup.rollup(store, settings, actor, lang=lang or header_lang)
