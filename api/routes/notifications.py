"""Outbound notification channels: list, create, replace, delete, send a test; deliveries."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from api.deps import current_actor, get_auditor, get_settings, get_store, uses
from core.auditing import Actor, Auditor
from core.es import Store
from core.settings import Settings
from notifications import service as svc

router = APIRouter(prefix="/notifications", tags=["notifications"])

Level = Literal["informational", "low", "medium", "high", "critical"]
Role = Literal["analyst", "sysadmin", "auditor"]


class ChannelBody(BaseModel):
    name: str = Field(..., min_length=1, max_length=100)
    type: Literal["webhook", "smtp", "dingtalk", "wecom"]
    enabled: bool = True
    min_level: Level = "high"
    rules: list[str] = Field(default_factory=list, max_length=200)
    audience: list[Role] = Field(default_factory=list, max_length=3)
    language: Literal["zh-CN", "en"] = "zh-CN"
    config: dict[str, Any] = Field(..., description="webhook/dingtalk/wecom: url, secret; smtp: host, port, "
                                                    "from, to, tls (none|starttls|ssl), username, password")


@router.get("/channels", **uses(svc.list_channels))
def list_channels(actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                  settings: Settings = Depends(get_settings)) -> Any:
    return svc.list_channels(store, settings, actor=actor)


@router.post("/channels", status_code=201, **uses(svc.save_channel))
def create_channel(body: ChannelBody, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                   settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.save_channel(store, settings, auditor, body.model_dump(), actor=actor)


@router.put("/channels/{channel_id}", **uses(svc.save_channel))
def replace_channel(channel_id: str, body: ChannelBody, actor: Actor = Depends(current_actor),
                    store: Store = Depends(get_store), settings: Settings = Depends(get_settings),
                    auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.save_channel(store, settings, auditor, body.model_dump(), actor=actor, channel_id=channel_id)


@router.delete("/channels/{channel_id}", status_code=204, **uses(svc.delete_channel))
def delete_channel(channel_id: str, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                   settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> Response:
    svc.delete_channel(store, settings, auditor, channel_id, actor=actor)
    return Response(status_code=204)


@router.post("/channels/{channel_id}/test", **uses(svc.test_channel))
def test_channel(channel_id: str, actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                 settings: Settings = Depends(get_settings), auditor: Auditor = Depends(get_auditor)) -> Any:
    return svc.test_channel(store, settings, auditor, channel_id, actor=actor)


@router.get("/deliveries", **uses(svc.list_deliveries))
def list_deliveries(channel_id: str | None = Query(None, max_length=64), size: int = Query(100, ge=1, le=500),
                    actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                    settings: Settings = Depends(get_settings)) -> Any:
    return svc.list_deliveries(store, settings, actor=actor, channel_id=channel_id, size=size)
