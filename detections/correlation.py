"""Sigma correlation rules evaluated by our engine with sliding windows (no EQL/ES|QL on core).

For a run over ``(lo, hi]`` of ``event.ingested``:
1. find the referenced rules' matches ingested in the window (the *new* events);
2. fetch every match of the referenced rules whose ``@timestamp`` lies within one timespan of a
   new event (any ingestion time up to ``hi``);
3. per group (``group-by`` values), slide a window of ``timespan`` over the events in time order
   and fire on the earliest window that satisfies the condition and contains a new event.

A correlation may reference another correlation (Sigma's chaining, e.g. "a successful login after
a brute force from the same source"): the referenced correlation's alerts are its matches.

Windows slide from event to event, so a burst straddling two clock-aligned buckets still fires.
The alert key is (group, first event time of the window): rerunning, or seeing more of the
same burst in a later run, finds the same window start and creates nothing new.

Groups never mix departments: events (or, chained, alerts) of different ``organization.id`` are
different groups, and each alert is its group's department. ``alert.group_key`` stays the
``group-by`` values; the department joins the alert id's key unless it is the district's (ids of
alerts raised before departments existed stay the same).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from core.alerting import alerts_index, build_alert
from core.errors import Conflict, NotFound, SocError
from core.es import Store
from core.schema import get_field
from core.scope import DISTRICT, ORG_FIELD
from core.timeutil import iso, parse_iso, utcnow
from detections import repository as repo
from detections.alerts import entities, org_key, org_of
from detections.models import CompiledRule, Correlation, RuleRunResult

MAX_EVENTS = 10000


def _group_key(corr: Correlation, rule_id: str, src: dict[str, Any]) -> str:
    aliases = corr.aliases.get(rule_id, {})
    return "|".join(str(get_field(src, aliases.get(f, f))) for f in corr.group_by)


def _org_filter(org: str) -> dict[str, Any]:
    if org != DISTRICT:
        return {"term": {ORG_FIELD: org}}
    return {"bool": {"should": [{"term": {ORG_FIELD: DISTRICT}},
                                {"bool": {"must_not": {"exists": {"field": ORG_FIELD}}}}],
                     "minimum_should_match": 1}}


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


def _search(store: Store, prefix: str, rule: CompiledRule, *, ingested: dict[str, str],
            around: dict[str, str] | None = None, size: int = MAX_EVENTS) -> list[dict]:
    """Matches of a referenced rule with ``event.ingested`` in ``ingested`` (and ``@timestamp`` in
    ``around``). A referenced *correlation* (Sigma's chaining) matches through its alerts: each
    alert is an item at its window's start (``alert.first_seen``), written at ``alert.created``."""
    if rule.correlation is not None:
        # Alerts are written without waiting for a refresh, and their ``created`` stamp is taken
        # before the write returns: refresh, and look back a little so an alert that became
        # visible after the previous window closed is still seen (deterministic ids make a second
        # look harmless).
        try:
            store.refresh(alerts_index(prefix))
        except NotFound:
            return []
        seen = dict(ingested)
        if "gt" in seen:
            seen["gt"] = iso(parse_iso(seen["gt"]) - timedelta(seconds=CHAIN_LOOKBACK_SECONDS))
        filters: list[dict[str, Any]] = [{"term": {"rule.id": rule.id}},
                                         {"range": {"alert.created": seen}}]
        if around:
            filters.append({"range": {"alert.first_seen": around}})
        body: dict[str, Any] = {"query": {"bool": {"filter": filters}}, "size": size,
                                "sort": [{"alert.first_seen": "asc"}, {"alert.id": "asc"}], "track_total_hits": False,
                                "_source": {"excludes": ["event_copy", "alert.history", "alert.comments"]}}
        try:
            hits = store.search(alerts_index(prefix), body)["hits"]["hits"]
        except NotFound:
            return []
        for h in hits:
            h["_source"]["@timestamp"] = h["_source"]["alert"]["first_seen"]
        return list(hits)
    filters = [rule.query, {"range": {"event.ingested": ingested}}]  # type: ignore[list-item]
    if around:
        filters.append({"range": {"@timestamp": around}})
    body = {"query": {"bool": {"filter": filters}}, "size": size,
            "sort": [{"@timestamp": "asc"}, {"_doc": "asc"}], "track_total_hits": False}
    resp = store.search(rule.indices(prefix), body)
    return list(resp["hits"]["hits"])


MAX_WINDOWS_KEPT = 50
CHAIN_LOOKBACK_SECONDS = 120


def _extend(doc: dict[str, Any], window: dict[str, Any]) -> None:
    """Add a window to an episode's alert: its count and last seen."""
    al = doc["alert"]
    if any(w["start"] == window["start"] for w in al.get("windows", [])):
        return  # the same window seen again (a rerun): nothing new
    al["windows"] = (list(al.get("windows") or []) + [window])[-MAX_WINDOWS_KEPT:]
    al["event_count"] = int(al.get("event_count") or 0) + int(window["events"])
    al["suppressed_count"] = int(al["event_count"]) - 1
    al["last_seen"] = max(str(al.get("last_seen") or ""), str(window["end"]))
    al["updated"] = iso(utcnow())


def _merge_into_open(store: Store, prefix: str, rule_id: str, key: str, doc: dict[str, Any],
                     realert_seconds: int, org: str = DISTRICT) -> bool:
    """One open alert per (rule, group) episode: when an open alert of this rule and group was last
    seen within ``realert_seconds`` of this episode's start, the new windows update it (count, last
    seen) instead of raising another alert (ElastAlert's ``realert``, Elastic's alert suppression).
    Returns False when there is no such alert (the caller creates ``doc``)."""
    if realert_seconds <= 0:
        return False
    index = alerts_index(prefix)
    since = iso(parse_iso(doc["alert"]["first_seen"]) - timedelta(seconds=realert_seconds))
    query = {"size": 1, "seq_no_primary_term": True, "query": {"bool": {"filter": [
        {"term": {"rule.id": rule_id}}, {"term": {"alert.group_key": key}}, _org_filter(org),
        {"range": {"alert.last_seen": {"gte": since}}}], "must_not": [{"term": {"alert.status": "closed"}}]}},
        "sort": [{"alert.last_seen": "desc"}], "_source": {"excludes": ["event_copy"]}}
    for _attempt in range(5):
        try:
            hits = store.search(index, query)["hits"]["hits"]
        except NotFound:
            return False
        if not hits or hits[0]["_source"]["alert"]["id"] == doc["alert"]["id"]:
            return False  # none open, or this very alert (a rerun: its create is a no-op)
        open_doc = hits[0]["_source"]
        before = len(open_doc["alert"].get("windows") or [])
        for window in doc["alert"]["windows"]:
            _extend(open_doc, window)
        al = open_doc["alert"]
        if len(al.get("windows") or []) == before and before:
            return True  # every window was counted already
        partial = {"alert": {k: al[k] for k in ("windows", "event_count", "suppressed_count", "last_seen", "updated")}}
        try:
            store.update(index, hits[0]["_id"], partial, if_seq_no=hits[0]["_seq_no"],
                         if_primary_term=hits[0]["_primary_term"])
            return True
        except Conflict:
            continue  # an analyst changed it meanwhile: read it again
    raise SocError(f"The open alert of rule {rule_id} for {key} keeps changing; its new windows are retried next run.")


def run_correlation(store: Store, prefix: str, rule: CompiledRule, lo: str, hi: str, cap: int, *,
                    realert_seconds: int = 3600) -> RuleRunResult:
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
        new_hits = [(idx, h) for idx, r in enumerate(refs)
                    for h in _search(store, prefix, r, ingested={"gt": lo, "lte": hi})]
        if not new_hits:
            return RuleRunResult(rule.id, lo, hi, 0, 0, 0, int((time.monotonic() - began) * 1000))
        new_ids = {h["_id"] for _i, h in new_hits}
        stamps = [parse_iso(str(h["_source"]["@timestamp"])) for _i, h in new_hits if h["_source"].get("@timestamp")]
        span = corr.timespan_seconds
        lo_ts = iso(min(stamps).fromtimestamp(min(stamps).timestamp() - span, tz=min(stamps).tzinfo))
        hi_ts = iso(max(stamps).fromtimestamp(max(stamps).timestamp() + span, tz=max(stamps).tzinfo))
        groups: dict[tuple[str, str], list[tuple[float, int, Any, bool, dict[str, Any]]]] = {}
        for idx, r in enumerate(refs):
            for h in _search(store, prefix, r, ingested={"lte": hi}, around={"gte": lo_ts, "lte": hi_ts}):
                src = h["_source"]
                ts = parse_iso(str(src["@timestamp"])).timestamp()
                value = get_field(src, corr.value_field) if corr.value_field else None
                if isinstance(value, list):
                    value = tuple(value)
                groups.setdefault((org_of(src), _group_key(corr, r.id, src)), []).append(
                    (ts, idx, value, h["_id"] in new_ids, h))
    except (SocError, KeyError, ValueError) as exc:
        message = exc.message if isinstance(exc, SocError) else repr(exc)
        return RuleRunResult(rule.id, lo, hi, 0, 0, 0, int((time.monotonic() - began) * 1000), message)
    episodes: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for (org, key), events in groups.items():
        events.sort(key=lambda e: (e[0], e[4]["_id"]))
        plain = [(t, r, v, n) for t, r, v, n, _h in events]
        for i, j in find_windows(corr, plain):
            first, last = events[i], events[j]
            window_start = iso(parse_iso(str(first[4]["_source"]["@timestamp"])))
            src = last[4]["_source"]
            window = {"start": window_start, "end": src["@timestamp"], "events": j - i + 1}
            if (org, key) in episodes:  # a later window of the same episode in this run
                _extend(episodes[(org, key)][1], window)
                continue
            alert_id, doc = build_alert(
                rule_id=rule.id, rule_name=rule.title, level=rule.level,
                key=f"{key}{org_key(org, corr.group_by)}|{window_start}", organization=org,
                reason=f"{rule.title}: {corr.type} over {j - i + 1} events within {span}s for {key}",
                tags=list(rule.tags), entities=entities(src), event=src,
                event_ref={"id": last[4]["_id"], "index": last[4]["_index"],
                           "ingested": (src.get("event") or {}).get("ingested")},
                timestamp=window_start)
            doc["rule"].update({"version": rule.version, "type": "correlation"})
            doc["threat"] = {"technique": {"id": rule.techniques}, "tactic": {"name": rule.tactics}}
            doc["alert"].update({"group_key": key, "suppressed_count": j - i,
                                 "first_seen": first[4]["_source"]["@timestamp"],
                                 "last_seen": src["@timestamp"], "windows": [window], "event_count": j - i + 1})
            episodes[(org, key)] = (alert_id, doc)
    created = 0
    fresh: list[tuple[str, dict[str, Any]]] = []
    try:
        for (org, key), (alert_id, doc) in episodes.items():
            if not _merge_into_open(store, prefix, rule.id, key, doc, realert_seconds, org):
                fresh.append((alert_id, doc))
    except SocError as exc:
        return RuleRunResult(rule.id, lo, hi, len(new_hits), 0, 0, int((time.monotonic() - began) * 1000),
                             exc.message)
    # No cap drops anything here: each group (entity) yields at most one alert per run, and the
    # windows of an ongoing episode update it instead of adding alerts.
    if fresh:
        result = store.bulk_create([(alerts_index(prefix), a, d) for a, d in fresh])
        created = result.created
    overflow = 0
    return RuleRunResult(rule.id, lo, hi, len(new_hits), created, overflow, int((time.monotonic() - began) * 1000))
