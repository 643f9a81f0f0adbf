"""Sigma correlation rules evaluated by our engine with sliding windows (no EQL/ES|QL on core).

For a run over ``(lo, hi]`` of ``event.ingested``:
1. find the referenced rules' matches ingested in the window (the *new* events);
2. fetch every match of the referenced rules whose ``@timestamp`` lies within one timespan of a
   new event (any ingestion time up to ``hi``);
3. per group (``group-by`` values), slide a window of ``timespan`` over the events in time order
   and fire on the earliest window that satisfies the condition and contains a new event.

Windows slide from event to event, so a burst straddling two clock-aligned buckets still fires.
The alert key is (group, first event time of the window): rerunning, or seeing more of the
same burst in a later run, finds the same window start and creates nothing new.
"""

from __future__ import annotations

import time
from typing import Any

from core.alerting import alerts_index, build_alert
from core.errors import SocError
from core.es import Store
from core.schema import get_field
from core.timeutil import iso, parse_iso, utcnow
from detections import repository as repo
from detections.alerts import entities
from detections.models import CompiledRule, Correlation, RuleRunResult

MAX_EVENTS = 10000


def _group_key(corr: Correlation, rule_id: str, src: dict[str, Any]) -> str:
    aliases = corr.aliases.get(rule_id, {})
    return "|".join(str(get_field(src, aliases.get(f, f))) for f in corr.group_by)


def _holds(condition: dict[str, int], value: int) -> bool:
    for op, n in condition.items():
        ok = {"gte": value >= n, "gt": value > n, "lte": value <= n, "lt": value < n, "eq": value == n}.get(op, False)
        if not ok:
            return False
    return True


def _in_order(rule_seq: list[int], count: int) -> bool:
    want = 0
    for r in rule_seq:
        if r == want:
            want += 1
            if want == count:
                return True
    return False


def window_fires(corr: Correlation, window: list[tuple[float, int, Any, bool]]) -> bool:
    if corr.type == "event_count":
        return _holds(corr.condition, len(window))
    if corr.type == "value_count":
        # a multi-valued field (e.g. pii.ids, one event naming several people) counts each value
        seen: set[Any] = set()
        for _t, _r, v, _n in window:
            if isinstance(v, tuple):
                seen.update(v)
            elif v is not None:
                seen.add(v)
        return _holds(corr.condition, len(seen))
    distinct = len({r for _t, r, _v, _n in window})
    if corr.type == "temporal":
        return distinct >= len(corr.rules) and _holds(corr.condition, distinct)
    if corr.type == "temporal_ordered":
        return _in_order([r for _t, r, _v, _n in window], len(corr.rules))
    return False


def find_windows(corr: Correlation, events: list[tuple[float, int, Any, bool]]) -> list[tuple[int, int]]:
    """Indices ``(i, j)`` (inclusive) of firing windows in time-sorted events of one group."""
    fired: list[tuple[int, int]] = []
    i = 0
    n = len(events)
    span = corr.timespan_seconds
    while i < n:
        j = i
        while j + 1 < n and events[j + 1][0] - events[i][0] <= span:
            j += 1
        window = events[i:j + 1]
        if any(e[3] for e in window) and window_fires(corr, window):
            fired.append((i, j))
            i = j + 1
            continue
        i += 1
    return fired


def _search(store: Store, prefix: str, rule: CompiledRule, extra: list[dict[str, Any]], size: int) -> list[dict]:
    body = {"query": {"bool": {"filter": [rule.query, *extra]}}, "size": size,
            "sort": [{"@timestamp": "asc"}, {"_doc": "asc"}], "track_total_hits": False}
    resp = store.search(rule.indices(prefix), body)
    return list(resp["hits"]["hits"])


def run_correlation(store: Store, prefix: str, rule: CompiledRule, lo: str, hi: str, cap: int) -> RuleRunResult:
    began = time.monotonic()
    corr = rule.correlation
    assert corr is not None
    try:
        refs = []
        for rid in corr.rules:
            doc = store.get(repo.rules_index(prefix), rid)
            if doc is None:
                raise SocError(f"referenced rule {rid} is not loaded")
            refs.append(repo.from_doc(doc["_source"]))
        ingested = {"range": {"event.ingested": {"gt": lo, "lte": hi}}}
        new_hits = [(idx, h) for idx, r in enumerate(refs) for h in _search(store, prefix, r, [ingested], MAX_EVENTS)]
        if not new_hits:
            return RuleRunResult(rule.id, lo, hi, 0, 0, 0, int((time.monotonic() - began) * 1000))
        new_ids = {h["_id"] for _i, h in new_hits}
        stamps = [parse_iso(str(h["_source"]["@timestamp"])) for _i, h in new_hits if h["_source"].get("@timestamp")]
        span = corr.timespan_seconds
        lo_ts = iso(min(stamps).fromtimestamp(min(stamps).timestamp() - span, tz=min(stamps).tzinfo))
        hi_ts = iso(max(stamps).fromtimestamp(max(stamps).timestamp() + span, tz=max(stamps).tzinfo))
        around = [{"range": {"@timestamp": {"gte": lo_ts, "lte": hi_ts}}},
                  {"range": {"event.ingested": {"lte": hi}}}]
        groups: dict[str, list[tuple[float, int, Any, bool, dict[str, Any]]]] = {}
        for idx, r in enumerate(refs):
            for h in _search(store, prefix, r, around, MAX_EVENTS):
                src = h["_source"]
                ts = parse_iso(str(src["@timestamp"])).timestamp()
                value = get_field(src, corr.value_field) if corr.value_field else None
                if isinstance(value, list):
                    value = tuple(value)
                groups.setdefault(_group_key(corr, r.id, src), []).append((ts, idx, value, h["_id"] in new_ids, h))
    except (SocError, KeyError, ValueError) as exc:
        message = exc.message if isinstance(exc, SocError) else repr(exc)
        return RuleRunResult(rule.id, lo, hi, 0, 0, 0, int((time.monotonic() - began) * 1000), message)
    alerts: list[tuple[str, dict[str, Any]]] = []
    for key, events in groups.items():
        events.sort(key=lambda e: (e[0], e[4]["_id"]))
        plain = [(t, r, v, n) for t, r, v, n, _h in events]
        for i, j in find_windows(corr, plain):
            first, last = events[i], events[j]
            window_start = iso(parse_iso(str(first[4]["_source"]["@timestamp"])))
            src = last[4]["_source"]
            alert_id, doc = build_alert(
                rule_id=rule.id, rule_name=rule.title, level=rule.level, key=f"{key}|{window_start}",
                reason=f"{rule.title}: {corr.type} over {j - i + 1} events within {span}s for {key}",
                tags=list(rule.tags), entities=entities(src), event=src,
                event_ref={"id": last[4]["_id"], "index": last[4]["_index"],
                           "ingested": (src.get("event") or {}).get("ingested")},
                timestamp=iso(utcnow()))
            doc["rule"].update({"version": rule.version, "type": "correlation"})
            doc["threat"] = {"technique": {"id": rule.techniques}, "tactic": {"name": rule.tactics}}
            doc["alert"].update({"group_key": key, "suppressed_count": j - i,
                                 "first_seen": first[4]["_source"]["@timestamp"],
                                 "last_seen": last[4]["_source"]["@timestamp"]})
            alerts.append((alert_id, doc))
    overflow = max(0, len(alerts) - cap)
    alerts = alerts[:cap]
    created = 0
    if alerts:
        result = store.bulk_create([(alerts_index(prefix), a, d) for a, d in alerts])
        created = result.created
    return RuleRunResult(rule.id, lo, hi, len(new_hits), created, overflow, int((time.monotonic() - began) * 1000))
