"""Event hunting: query string + time range, field selection, cursor paging, top values,
date histogram."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import current_actor, get_settings, get_store, uses
from core.auditing import Actor
from core.es import Store
from core.settings import Settings
from detections.triage import hunt as svc

router = APIRouter(prefix="/events", tags=["events"])

_Q = Query(None, max_length=4000, description="Elasticsearch query string, e.g. `event.category:authentication "
                                              "AND event.outcome:failure`")
_START = Query(None, max_length=40, description="ISO 8601 or now-24h (default: 24 hours before end)")
_END = Query(None, max_length=40, description="ISO 8601 or now (default: now)")


class EventPage(BaseModel):
    total: int
    items: list[dict[str, Any]]
    next: str | None = Field(None, description="Pass as `after` for the next page (valid 5 minutes)")
    start: str
    end: str


class TopValue(BaseModel):
    value: Any
    count: int


class TopValues(BaseModel):
    field: str
    total: int
    distinct: int
    values: list[TopValue]
    other: int
    start: str
    end: str


class Bucket(BaseModel):
    time: str | None
    count: int


class Histogram(BaseModel):
    interval: str
    total: int
    start: str
    end: str
    buckets: list[Bucket]


@router.get("", response_model=EventPage, **uses(svc.search_events))
def search_events(q: str | None = _Q, start: str | None = _START, end: str | None = _END,
                  fields: list[str] | None = Query(None, description="fields to return (default: all)"),
                  dataset: str | None = Query(None, max_length=100), size: int = Query(50, ge=1, le=500),
                  order: str = Query("desc", pattern="^(asc|desc)$"), after: str | None = Query(None, max_length=8000),
                  actor: Actor = Depends(current_actor), store: Store = Depends(get_store),
                  settings: Settings = Depends(get_settings)) -> Any:
    return svc.search_events(store, settings, actor=actor, query=q, start=start, end=end, fields=fields,
                             size=size, after=after, order=order, dataset=dataset)


@router.get("/top", response_model=TopValues, **uses(svc.top_values))
def top_values(field: str = Query(..., max_length=200), q: str | None = _Q, start: str | None = _START,
               end: str | None = _END, size: int = Query(10, ge=1, le=100), actor: Actor = Depends(current_actor),
               store: Store = Depends(get_store), settings: Settings = Depends(get_settings)) -> Any:
    return svc.top_values(store, settings, field, actor=actor, query=q, start=start, end=end, size=size)


@router.get("/histogram", response_model=Histogram, **uses(svc.histogram))
def histogram(q: str | None = _Q, start: str | None = _START, end: str | None = _END,
              interval: str | None = Query(None, max_length=10), actor: Actor = Depends(current_actor),
              store: Store = Depends(get_store), settings: Settings = Depends(get_settings)) -> Any:
    return svc.histogram(store, settings, actor=actor, query=q, start=start, end=end, interval=interval)
