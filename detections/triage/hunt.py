"""Event hunting over ``<prefix>-events-*``: a query string and time range, field selection,
deep pagination (point in time + ``search_after``), top values of a field, a date histogram."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.auditing import Actor
from core.errors import InvalidInput, NotFound
from core.es import Store
from core.permissions import requires
from core.pii.display import mask_for_display
from core.schema import events_pattern
from core.settings import Settings
from core.timeutil import iso, utcnow
from detections.triage.common import check_field, open_cursor, page_size, parse_time, seal_cursor

DEFAULT_WINDOW = timedelta(hours=24)
KEEP_ALIVE = "5m"
MAX_FIELDS = 100
MAX_QUERY = 4000
_INTERVALS = [("1s", 1), ("5s", 5), ("30s", 30), ("1m", 60), ("5m", 300), ("15m", 900), ("30m", 1800),
              ("1h", 3600), ("3h", 10800), ("12h", 43200), ("1d", 86400), ("7d", 604800), ("30d", 2592000)]


def _query(query: str | None, start: str | None, end: str | None) -> tuple[dict[str, Any], str, str]:
    text = (query or "").strip()
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"The query is longer than {MAX_QUERY} characters.",
                           detail=[{"field": "query", "message": "too long"}])
    hi = parse_time(end, "end") or utcnow()
    try:
        lo = parse_time(start, "start") or hi - DEFAULT_WINDOW
    except OverflowError as exc:
        raise InvalidInput("end is too early to search the day before it; give a later end.",
                           detail=[{"field": "end", "message": "out of range"}]) from exc
    if lo > hi:
        raise InvalidInput("start must be before end.", detail=[{"field": "start", "message": "after end"}])
    filters: list[dict[str, Any]] = [{"range": {"@timestamp": {"gte": iso(lo), "lte": iso(hi)}}}]
    must: list[dict[str, Any]] = []
    if text and text != "*":
        must.append({"query_string": {"query": text, "lenient": True, "default_operator": "AND",
                                      "allow_leading_wildcard": False, "analyze_wildcard": True}})
    return {"bool": {"filter": filters, "must": must}}, iso(lo), iso(hi)


@requires("events.read")
def search_events(store: Store, settings: Settings, *, actor: Actor, query: str | None = None,
                  start: str | None = None, end: str | None = None, fields: list[str] | None = None,
                  size: int = 50, after: str | None = None, order: str = "desc",
                  dataset: str | None = None) -> dict[str, Any]:
    """A page of events, newest first by default; ``next`` continues the same snapshot."""
    if order not in ("asc", "desc"):
        raise InvalidInput("order is asc or desc.", detail=[{"field": "order", "message": "asc or desc"}])
    if dataset is not None:
        check_field(dataset, "dataset")
    selected = [check_field(f, "fields") for f in (fields or [])][:MAX_FIELDS]
    q, lo, hi = _query(query, start, end)
    index = events_pattern(settings.index_prefix, dataset)
    secret = settings.api.secret_key.get_secret_value()
    # The cursor is bound to the index the server chose and to the caller: a cursor from another
    # search (another dataset, the alerts index, another user) is refused, not followed.
    binding = {"i": index, "u": actor.name}
    if after:
        cursor = open_cursor(secret, after)
        pit, search_after = cursor.get("p"), cursor.get("s")
        if ({k: cursor.get(k) for k in binding} != binding or not isinstance(pit, str)
                or not isinstance(search_after, list)):
            raise InvalidInput("The page cursor belongs to another search; search again without `after`.",
                               detail=[{"field": "after", "message": "cursor of another search"}])
    else:
        opened = store.open_pit(index, KEEP_ALIVE)
        if opened is None:
            return {"total": 0, "items": [], "next": None, "start": lo, "end": hi}
        pit, search_after = opened, None
    body: dict[str, Any] = {
        "size": page_size(size), "query": q, "pit": {"id": pit, "keep_alive": KEEP_ALIVE},
        "sort": [{"@timestamp": {"order": order}}], "track_total_hits": True,
        "_source": selected or True,
    }
    if search_after:
        body["search_after"] = search_after
    try:
        resp = store.search_pit(body)
    except NotFound as exc:
        raise InvalidInput("The page cursor expired (5 minutes without paging); search again.",
                           detail=[{"field": "after", "message": "expired"}]) from exc
    hits = resp["hits"]["hits"]
    # personal information kept at ingest is masked for display (unmasking is a privacy grant)
    items = [mask_for_display({"_id": h["_id"], "_index": h["_index"], **(h.get("_source") or {})}) for h in hits]
    nxt = (seal_cursor(secret, {**binding, "p": resp.get("pit_id", pit), "s": hits[-1]["sort"]})
           if len(hits) == body["size"] else None)
    if nxt is None:
        store.close_pit(resp.get("pit_id", pit))
    return {"total": resp["hits"]["total"]["value"], "items": items, "next": nxt, "start": lo, "end": hi}


@requires("events.read")
def top_values(store: Store, settings: Settings, field: str, *, actor: Actor, query: str | None = None,
               start: str | None = None, end: str | None = None, size: int = 10) -> dict[str, Any]:
    check_field(field, "field")
    if not 1 <= size <= 100:
        raise InvalidInput("size must be between 1 and 100.", detail=[{"field": "size", "message": "range"}])
    q, lo, hi = _query(query, start, end)
    body = {"size": 0, "query": q, "track_total_hits": True,
            "aggs": {"top": {"terms": {"field": field, "size": size}},
                     "distinct": {"cardinality": {"field": field}}}}
    resp = store.search(events_pattern(settings.index_prefix), body)
    aggs = resp.get("aggregations") or {}
    buckets = (aggs.get("top") or {}).get("buckets", [])
    values = mask_for_display({"v": [{"value": b.get("key_as_string", b["key"]), "count": b["doc_count"]}
                                     for b in buckets]})["v"]
    return {"field": field, "total": resp["hits"]["total"]["value"],
            "distinct": (aggs.get("distinct") or {}).get("value", 0),
            "values": values,
            "other": (aggs.get("top") or {}).get("sum_other_doc_count", 0), "start": lo, "end": hi}


def pick_interval(lo: str, hi: str, buckets: int = 60) -> str:
    span = (parse_time(hi, "end") - parse_time(lo, "start")).total_seconds()  # type: ignore[operator]
    for name, seconds in _INTERVALS:
        if span / seconds <= buckets:
            return name
    return _INTERVALS[-1][0]


@requires("events.read")
def histogram(store: Store, settings: Settings, *, actor: Actor, query: str | None = None,
              start: str | None = None, end: str | None = None, interval: str | None = None) -> dict[str, Any]:
    q, lo, hi = _query(query, start, end)
    if interval is None:
        interval = pick_interval(lo, hi)
    elif interval not in {name for name, _s in _INTERVALS}:
        raise InvalidInput(f"interval is one of {', '.join(n for n, _s in _INTERVALS)}.",
                           detail=[{"field": "interval", "message": "unknown interval"}])
    body = {"size": 0, "query": q, "track_total_hits": True,
            "aggs": {"over_time": {"date_histogram": {"field": "@timestamp", "fixed_interval": interval,
                                                      "min_doc_count": 0,
                                                      "extended_bounds": {"min": lo, "max": hi}}}}}
    resp = store.search(events_pattern(settings.index_prefix), body)
    buckets = ((resp.get("aggregations") or {}).get("over_time") or {}).get("buckets", [])
    return {"interval": interval, "total": resp["hits"]["total"]["value"], "start": lo, "end": hi,
            "buckets": [{"time": b.get("key_as_string"), "count": b["doc_count"]} for b in buckets]}
