"""The analyst's landing page in numbers: alerts over time by level, top rules, hosts, users and
source addresses, open vs closed, mean time to acknowledge and to close, and events per dataset
per hour — one search per index, scoped to the alerts routed to the caller's role."""

from __future__ import annotations

from typing import Any

from core.alerting import alerts_index, audience_filter
from core.auditing import Actor
from core.errors import NotFound
from core.es import Store
from core.permissions import requires
from core.settings import Settings
from core.timeutil import parse_iso
from detections.triage.common import time_range
from detections.triage.hunt import pick_interval

TOP = 10


def _search(store: Store, index: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return store.search(index, body)
    except NotFound:
        return {"hits": {"total": {"value": 0}}, "aggregations": {}}


def _buckets(aggs: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [{"value": b.get("key_as_string", b["key"]), "count": b["doc_count"]}
            for b in (aggs.get(name) or {}).get("buckets", [])]


def _mean_minutes(history_seconds: list[float]) -> float | None:
    return round(sum(history_seconds) / len(history_seconds) / 60, 1) if history_seconds else None


@requires("alerts.read")
def overview(store: Store, settings: Settings, *, actor: Actor, start: str | None = None,
             end: str | None = None) -> dict[str, Any]:
    rng = time_range("@timestamp", start or "now-24h", end or "now")
    assert rng is not None
    lo, hi = rng["range"]["@timestamp"]["gte"], rng["range"]["@timestamp"]["lte"]
    interval = pick_interval(lo, hi, buckets=48)
    filters: list[dict[str, Any]] = [rng]
    scope = audience_filter(actor.role)
    if scope is not None:
        filters.append(scope)
    terms = {name: {"terms": {"field": field, "size": TOP}} for name, field in (
        ("rules", "rule.name"), ("hosts", "host.name"), ("users", "user.name"), ("sources", "source.ip"),
        ("levels", "alert.level"), ("statuses", "alert.status"))}
    body = {"size": 0, "track_total_hits": True, "query": {"bool": {"filter": filters}}, "aggs": {
        **terms,
        "over_time": {"date_histogram": {"field": "@timestamp", "fixed_interval": interval, "min_doc_count": 0,
                                         "extended_bounds": {"min": lo, "max": hi}},
                      "aggs": {"level": {"terms": {"field": "alert.level", "size": 5}}}},
    }}
    resp = _search(store, alerts_index(settings.index_prefix), body)
    aggs = resp.get("aggregations") or {}
    over_time = [{"time": b["key_as_string"], **{lv["key"]: lv["doc_count"] for lv in b["level"]["buckets"]}}
                 for b in (aggs.get("over_time") or {}).get("buckets", [])]
    statuses = {b["value"]: b["count"] for b in _buckets(aggs, "statuses")}
    mtta, mttc = _response_times(store, settings, filters)
    events = _events_per_dataset(store, settings, lo, hi, interval)
    return {"start": lo, "end": hi, "interval": interval, "total": resp["hits"]["total"]["value"],
            "over_time": over_time, "levels": _buckets(aggs, "levels"), "top": {
                k: _buckets(aggs, k) for k in ("rules", "hosts", "users", "sources")},
            "open": sum(n for s, n in statuses.items() if s != "closed"), "closed": statuses.get("closed", 0),
            "statuses": statuses, "mean_minutes_to_acknowledge": mtta, "mean_minutes_to_close": mttc,
            "events": events}


def _response_times(store: Store, settings: Settings, filters: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    """Mean time from detection to the first status change and to closing, over up to 2,000
    alerts of the period that were worked (history is not indexed, so it is read, not aggregated)."""
    body = {"size": 2000, "query": {"bool": {"filter": [*filters, {"bool": {"must_not": {"term": {
        "alert.status": "new"}}}}]}}, "_source": ["alert.created", "@timestamp", "alert.history"]}
    hits = _search(store, alerts_index(settings.index_prefix), body)["hits"].get("hits", [])
    ack: list[float] = []
    close: list[float] = []
    for h in hits:
        al = h["_source"].get("alert", {})
        born = parse_iso(str(al.get("created") or h["_source"].get("@timestamp")))
        changes = [e for e in al.get("history") or [] if e.get("field") == "status"]
        if changes:
            ack.append((parse_iso(str(changes[0]["time"])) - born).total_seconds())
        closed = [e for e in changes if e.get("to") == "closed"]
        if closed:
            close.append((parse_iso(str(closed[0]["time"])) - born).total_seconds())
    return _mean_minutes(ack), _mean_minutes(close)


def _events_per_dataset(store: Store, settings: Settings, lo: str, hi: str, interval: str) -> dict[str, Any]:
    body = {"size": 0, "track_total_hits": True, "query": {"range": {"@timestamp": {"gte": lo, "lte": hi}}},
            "aggs": {"datasets": {"terms": {"field": "event.dataset", "size": 12}, "aggs": {
                "over_time": {"date_histogram": {"field": "@timestamp", "fixed_interval": interval,
                                                 "min_doc_count": 0, "extended_bounds": {"min": lo, "max": hi}}}}}}}
    resp = _search(store, settings.index("events-*"), body)
    series = [{"dataset": b["key"], "count": b["doc_count"],
               "over_time": [{"time": x["key_as_string"], "count": x["doc_count"]} for x in b["over_time"]["buckets"]]}
              for b in (resp.get("aggregations") or {}).get("datasets", {}).get("buckets", [])]
    return {"total": resp["hits"]["total"]["value"], "datasets": series}
