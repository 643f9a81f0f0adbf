"""Cases other departments share with the caller (``GET /api/v1/shared-with-me``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request

from api.deps import current_actor, get_settings, get_store, uses
from core.auditing import Actor
from core.es import Store
from core.settings import Settings
from detections.triage import sharing

router = APIRouter(prefix="/shared-with-me", tags=["cases"])


def _now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


@router.get("", response_model=dict[str, Any], **uses(sharing.shared_with_me))
def shared_with_me(actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                   settings: Settings = Depends(get_settings), now: datetime = Depends(_now)) -> Any:
    return sharing.shared_with_me(store, settings, actor=actor, now=now)
