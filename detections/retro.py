"""Retro-hunt: run many rules over one fixed set of events (an import), as Hayabusa, Zircolite
and Chainsaw do over a case's EVTX files.

Round trips do not grow with the number of rules: the rules of one index route go into one
search as a ``filters`` aggregation (one bucket per rule, with its first/last time and top hosts),
restricted to the events by ``ids``; searches travel in ``_msearch`` batches bounded by payload
size. A batch that fails is retried rule by rule, so one bad rule is reported by name and the
others still run. ``|fieldref`` rules are searched with their named clauses and checked per hit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from core.es import Store
from detections.exceptions import compile_all
from detections.fieldref import residual_matches
from detections.models import CompiledRule
from detections.repository import chunked

LEVELS = ("critical", "high", "medium", "low", "informational")
RULES_PER_SEARCH = 200
IDS_PER_SEARCH = 20_000
MAX_RESIDUAL_HITS = 10_000
SAMPLE_EVENTS = 5
SAMPLE_FIELDS = ["@timestamp", "host.name", "event.code", "winlog.channel", "log.file.path"]


@dataclass(frozen=True)
class HuntRule:
    rule: CompiledRule
    exceptions: tuple[dict[str, Any], ...] = ()

    def query(self) -> dict[str, Any]:
        assert self.rule.query is not None
        must_not = compile_all(list(self.exceptions))
        return {"bool": {"filter": [self.rule.query], "must_not": must_not}} if must_not else self.rule.query


@dataclass
class RuleHits:
    rule_id: str
    title: str
    level: str
    hits: int = 0
    first_seen: str | None = None
    last_seen: str | None = None
    hosts: list[str] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class HuntReport:
    events: int
    rules_run: int
    rules_skipped: int = 0
    hits: list[RuleHits] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def by_level(self) -> dict[str, dict[str, int]]:
        out = {lvl: {"rules": 0, "hits": 0} for lvl in LEVELS}
        for row in self.hits:
            slot = out.setdefault(row.level, {"rules": 0, "hits": 0})
            slot["rules"] += 1
            slot["hits"] += row.hits
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, "rules_run": self.rules_run, "rules_skipped": self.rules_skipped,
                "rules_matched": len(self.hits), "hits_total": sum(r.hits for r in self.hits),
                "by_level": self.by_level(), "errors": self.errors, "hits": [asdict(r) for r in self.hits]}


def _level_rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


def _aggs(rules: Sequence[HuntRule]) -> dict[str, Any]:
    return {"rules": {"filters": {"filters": {r.rule.id: r.query() for r in rules}},
                      "aggs": {"first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}},
                               "hosts": {"terms": {"field": "host.name", "size": 5}},
                               "sample": {"top_hits": {"size": SAMPLE_EVENTS, "_source": SAMPLE_FIELDS,
                                                       "sort": [{"@timestamp": {"order": "asc",
                                                                                "unmapped_type": "date"}}]}}}}}


def _merge(row: RuleHits, bucket: dict[str, Any]) -> None:
    count = int(bucket.get("doc_count") or 0)
    if not count:
        return
    row.hits += count
    first = (bucket.get("first") or {}).get("value_as_string")
    last = (bucket.get("last") or {}).get("value_as_string")
    if first and (row.first_seen is None or first < row.first_seen):
        row.first_seen = first
    if last and (row.last_seen is None or last > row.last_seen):
        row.last_seen = last
    for b in (bucket.get("hosts") or {}).get("buckets") or []:
        if b["key"] not in row.hosts and len(row.hosts) < 5:
            row.hosts.append(b["key"])
    for h in ((bucket.get("sample") or {}).get("hits") or {}).get("hits") or []:
        if len(row.samples) < SAMPLE_EVENTS:
            row.samples.append({"id": h["_id"], **h.get("_source", {})})


def run_rules(store: Store, prefix: str, rules: Sequence[HuntRule], event_ids: Sequence[str], *,
              progress: Callable[[int], None] | None = None) -> HuntReport:
    """Every rule with a query over exactly the events ``event_ids`` (correlations are skipped:
    they are judged over time windows by the scheduler)."""
    runnable = [r for r in rules if r.rule.query is not None]
    report = HuntReport(events=len(set(event_ids)), rules_run=len(runnable),
                        rules_skipped=len(rules) - len(runnable))
    rows = {r.rule.id: RuleHits(r.rule.id, r.rule.title, r.rule.level) for r in runnable}
    id_chunks = [list(event_ids[i:i + IDS_PER_SEARCH]) for i in range(0, len(event_ids), IDS_PER_SEARCH)]
    plain = [r for r in runnable if r.rule.residual is None]
    by_route: dict[str, list[HuntRule]] = {}
    for r in plain:
        by_route.setdefault(r.rule.indices(prefix), []).append(r)
    groups = [(index, chunk) for index, members in by_route.items()
              for chunk in chunked(members, RULES_PER_SEARCH, lambda r: r.query())]
    for index, chunk in groups:
        failed = _run_group(store, index, chunk, id_chunks, rows)
        for r in chunk if failed else ():
            # Isolate: the batch failed as a whole, so each rule of it runs alone.
            error = _run_group(store, index, [r], id_chunks, rows)
            if error:
                report.errors.append({"rule_id": r.rule.id, "title": r.rule.title, "error": error})
        if progress is not None:
            progress(len(chunk))
    for r in runnable:
        if r.rule.residual is None:
            continue
        error = _run_residual(store, prefix, r, id_chunks, rows[r.rule.id])
        if error:
            report.errors.append({"rule_id": r.rule.id, "title": r.rule.title, "error": error})
        if progress is not None:
            progress(1)
    report.hits = sorted((row for row in rows.values() if row.hits),
                         key=lambda row: (_level_rank(row.level), -row.hits, row.title.lower()))
    return report


def _run_group(store: Store, index: str, rules: Sequence[HuntRule], id_chunks: list[list[str]],
               rows: dict[str, RuleHits]) -> str | None:
    searches = [(index, {"size": 0, "query": {"ids": {"values": ids}}, "aggs": _aggs(rules)}) for ids in id_chunks]
    responses = store.msearch(searches)
    for resp in responses:
        if "error" in resp:
            return str(resp["error"].get("reason") if isinstance(resp["error"], dict) else resp["error"])[:500]
        if (resp.get("_shards") or {}).get("failed"):
            failures = resp["_shards"].get("failures") or [{}]
            return str((failures[0].get("reason") or {}).get("reason", "shard failure"))[:500]
    for resp in responses:
        # No index behind the route (e.g. Linux rules over an EVTX-only import): ES answers
        # without aggregations; nothing matched.
        for rid, bucket in (((resp.get("aggregations") or {}).get("rules") or {}).get("buckets") or {}).items():
            _merge(rows[rid], bucket)
    return None


def _run_residual(store: Store, prefix: str, hunt_rule: HuntRule, id_chunks: list[list[str]],
                  row: RuleHits) -> str | None:
    rule = hunt_rule.rule
    for ids in id_chunks:
        body = {"size": MAX_RESIDUAL_HITS, "query": {"bool": {"filter": [hunt_rule.query(), {"ids": {"values": ids}}]}},
                "sort": [{"@timestamp": {"order": "asc", "unmapped_type": "date"}}]}
        resp = store.msearch([(rule.indices(prefix), body)])[0]
        if "error" in resp:
            return str(resp["error"])[:500]
        for h in resp["hits"]["hits"]:
            if not residual_matches(rule.residual, h["_source"], set(h.get("matched_queries") or ())):
                continue
            src = h["_source"]
            ts = src.get("@timestamp")
            _merge(row, {"doc_count": 1, "first": {"value_as_string": ts}, "last": {"value_as_string": ts},
                         "hosts": {"buckets": [{"key": (src.get("host") or {}).get("name")}]
                                   if (src.get("host") or {}).get("name") else []},
                         "sample": {"hits": {"hits": [{"_id": h["_id"], "_source": {
                             "@timestamp": ts, "host": src.get("host"), "log": src.get("log")}}]}}})
    return None
