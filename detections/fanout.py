"""Many rules, few searches: every due rule sharing an index pattern and a window is searched
in one request whose clauses carry ``_name`` (each hit says which rules it matched in
``matched_queries``).

Per group of rules (same indices, same ``(lo, hi]`` on ``event.ingested``):
1. Rules are chunked under the node's boolean clause limit (leaf clauses counted) and by bytes.
2. A chunk is one search: the window range AND (rule₁ OR rule₂ …), each ruleᵢ = its query AND NOT
   its exceptions, named. When the union has at most ``page`` hits, every rule's hits are known
   exactly. Otherwise one ``_msearch`` counts each rule's matches (size 0) and the rules with
   matches are searched on their own — so a rule matching 100,000 events costs one search of its
   own, not 100 pages of everyone's.
3. A rule searched on its own returns its first ``cap`` hits, its exact total and, in the same
   request, its matches grouped by entity (composite aggregation with first/last seen): beyond
   the per-run cap the runner raises grouped alerts instead of dropping events.
4. A chunk that fails or times out is split in half (the learnt size holds for the rest of the
   run) down to a single rule, whose error is then its own; the others still run.

``|fieldref`` rules keep their residual check per hit (``fieldref.residual_matches``); their
inner names are prefixed with the rule's clause name so rules of one chunk don't collide.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from core.errors import SocError
from core.es import Store
from core.schema import get_field
from core.scope import DISTRICT, ORG_FIELD, organization_of
from detections.fieldref import residual_matches
from detections.models import CompiledRule

GROUP_FIELDS = ("host.name", "user.name", "source.ip")
ORG_BUCKETS = 500
_LEAF_KEYS = {"term", "prefix", "wildcard", "regexp", "range", "exists", "match_phrase", "query_string",
              "match_none", "match_all", "ids", "fuzzy", "match"}
# Lucene rewrites a terms query of up to 16 values into that many boolean clauses.
_TERMS_AS_CLAUSES = 16
_SORT = [{"event.ingested": {"order": "asc", "unmapped_type": "date"}}, {"_doc": "asc"}]


@dataclass
class Work:
    """One rule over one window."""

    rule: CompiledRule
    lo: str
    hi: str
    exceptions: list[dict[str, Any]] = field(default_factory=list)

    def clause(self, name: str) -> dict[str, Any]:
        query = _prefix_names(self.rule.query, name) if self.rule.residual is not None else self.rule.query
        body: dict[str, Any] = {"filter": [query], "_name": name}
        if self.exceptions:
            body["must_not"] = self.exceptions
        return {"bool": body}


@dataclass
class Outcome:
    """What one rule matched in its window: hits to alert on one by one (at most ``cap``), or,
    past the cap, ``groups`` of ``{"key", "count", "first", "last", "sample"}`` covering all."""

    total: int = 0
    hits: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    took_ms: int = 0


@dataclass
class Limits:
    """Adaptive limits for one run: halved when a chunk times out or trips a limit."""

    max_leaves: int = 2500
    max_rules: int = 1000
    max_bytes: int = 2_000_000
    page: int = 1000
    cap: int = 1000
    timeout: str = "30s"
    concurrency: int = 4
    splits: int = 0


def count_leaves(query: Any) -> int:
    if isinstance(query, dict):
        n = 0
        for key, value in query.items():
            if key == "terms" and isinstance(value, dict):
                n += min(_TERMS_AS_CLAUSES, max((len(v) for v in value.values() if isinstance(v, list)), default=1))
            elif key in _LEAF_KEYS:
                n += 1
            else:
                n += count_leaves(value)
        return n
    if isinstance(query, list):
        return sum(count_leaves(q) for q in query)
    return 0


def _prefix_names(query: Any, prefix: str) -> Any:
    if isinstance(query, dict):
        return {k: (f"{prefix}:{v}" if k == "_name" else _prefix_names(v, prefix)) for k, v in query.items()}
    if isinstance(query, list):
        return [_prefix_names(q, prefix) for q in query]
    return query


def _range(lo: str, hi: str) -> dict[str, Any]:
    return {"range": {"event.ingested": {"gt": lo, "lte": hi}}}


def _failure(resp: dict[str, Any]) -> str | None:
    if "error" in resp:
        err = resp["error"]
        reason = (err.get("root_cause") or [err])[0].get("reason") if isinstance(err, dict) else err
        return str(reason or err)
    if resp.get("timed_out"):
        return "search timed out"
    shards = resp.get("_shards") or {}
    if shards.get("failed"):
        failure = (shards.get("failures") or [{}])[0]
        return str((failure.get("reason") or {}).get("reason") or "shard failure")
    return None


def _search(store: Store, indices: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        # pre_filter_shard_size=1: shards whose event.ingested range misses the window are
        # skipped before any query is built (a quiet cycle costs next to nothing).
        return store.search(indices, body, pre_filter_shard_size=1)
    except SocError as exc:
        return {"error": {"reason": exc.message}}


class GroupRun:
    """Runs the rules of one (indices, window) group; ``run()`` returns an outcome per rule id."""

    def __init__(self, store: Store, indices: str, lo: str, hi: str, limits: Limits,
                 group_fields: Callable[[CompiledRule], tuple[str, ...]] | None = None) -> None:
        self.store, self.indices, self.lo, self.hi, self.limits = store, indices, lo, hi, limits
        self.group_fields = group_fields or _group_fields
        self.out: dict[str, Outcome] = {}
        self.searches = 0

    def run(self, works: list[Work]) -> dict[str, Outcome]:
        chunks = self._chunks(works)
        if self.limits.concurrency <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                self._chunk(chunk)
            return self.out
        # A few chunks in flight keep the node's search threads busy; each writes only its
        # own rules' outcomes.
        with ThreadPoolExecutor(max_workers=self.limits.concurrency) as pool:
            list(pool.map(self._chunk, chunks))
        return self.out

    # -- chunking ------------------------------------------------------------------------------

    def _chunks(self, works: list[Work]) -> list[list[Work]]:
        import orjson

        chunks: list[list[Work]] = []
        current: list[Work] = []
        leaves = size = 0
        for w in works:
            n = count_leaves(w.rule.query) + count_leaves(w.exceptions)
            b = len(orjson.dumps(w.rule.query, default=str))
            lim = self.limits
            if current and (leaves + n > lim.max_leaves or size + b > lim.max_bytes or len(current) >= lim.max_rules):
                chunks.append(current)
                current, leaves, size = [], 0, 0
            current.append(w)
            leaves += n
            size += b
        if current:
            chunks.append(current)
        return chunks

    def _split(self, chunk: list[Work], reason: str, took: int) -> None:
        if len(chunk) == 1:
            self.out[chunk[0].rule.id] = Outcome(error=reason, took_ms=took)
            return
        # Later chunks of this run start at the size that last worked.
        self.limits.splits += 1
        self.limits.max_rules = max(1, min(self.limits.max_rules, len(chunk) // 2))
        mid = len(chunk) // 2
        self._chunk(chunk[:mid])
        self._chunk(chunk[mid:])

    # -- one chunk -----------------------------------------------------------------------------

    def _chunk(self, chunk: list[Work]) -> None:
        names = {f"r{i}": w for i, w in enumerate(chunk)}
        body = {"size": self.limits.page, "track_total_hits": True, "timeout": self.limits.timeout,
                "sort": _SORT, "query": {"bool": {"filter": [
                    _range(self.lo, self.hi),
                    {"bool": {"should": [w.clause(n) for n, w in names.items()], "minimum_should_match": 1}}]}}}
        began = time.monotonic()
        resp = _search(self.store, self.indices, body)
        self.searches += 1
        took = int((time.monotonic() - began) * 1000)
        problem = _failure(resp)
        if problem:
            self._split(chunk, problem, took)
            return
        hits = resp["hits"]["hits"]
        per_rule: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for hit in hits:
            for name in hit.get("matched_queries") or ():
                if name in per_rule:
                    per_rule[name].append(hit)
        if int(resp["hits"]["total"]["value"]) <= len(hits):
            share = max(1, took // max(1, len(chunk)))
            for name, w in names.items():
                self.out[w.rule.id] = self._from_hits(w, name, per_rule[name], share)
            return
        # More hits than one page: count per rule (one more pass over the chunk, whatever the
        # number of noisy rules); the rules with matches then run on their own.
        counts = self._counts(chunk)
        if counts is None:
            self._split(chunk, "counting matches per rule failed", took)
            return
        isolated = []
        for n, w in names.items():
            if counts[w.rule.id] or per_rule[n]:
                isolated.append(w)
            else:
                self.out[w.rule.id] = Outcome(total=0, took_ms=took)
        self._isolated(isolated)

    def _counts(self, works: list[Work]) -> dict[str, int] | None:
        searches = [(self.indices, {"size": 0, "track_total_hits": True, "timeout": self.limits.timeout,
                                    "query": {"bool": {"filter": [_range(self.lo, self.hi), w.clause("r")]}}})
                    for w in works]
        try:
            responses = self.store.msearch(searches)
        except SocError:
            return None
        self.searches += 1
        if any(_failure(r) for r in responses):
            return None
        return {w.rule.id: int(r["hits"]["total"]["value"]) for w, r in zip(works, responses, strict=True)}

    def _from_hits(self, w: Work, name: str, hits: list[dict[str, Any]], took: int) -> Outcome:
        if w.rule.residual is not None:
            hits = [h for h in hits if residual_matches(w.rule.residual, h.get("_source") or {}, _inner(h, name))]
        return self._capped(w, hits, took)

    def _capped(self, w: Work, hits: list[dict[str, Any]], took: int) -> Outcome:
        if len(hits) <= self.limits.cap:
            return Outcome(total=len(hits), hits=hits, took_ms=took)
        return Outcome(total=len(hits), groups=group_hits(hits, self.group_fields(w.rule)), took_ms=took)

    # -- rules searched on their own -----------------------------------------------------------

    def _isolated(self, works: list[Work]) -> None:
        plain = [w for w in works if w.rule.residual is None]
        for w in works:
            if w.rule.residual is not None:
                self._residual_scan(w)
        if not plain:
            return
        searches = [(self.indices, self._own_body(w)) for w in plain]
        began = time.monotonic()
        try:
            responses = self.store.msearch(searches)
        except SocError as exc:
            responses = [{"error": {"reason": exc.message}} for _ in plain]
        self.searches += 1
        took = int((time.monotonic() - began) * 1000)
        for w, resp in zip(plain, responses, strict=True):
            problem = _failure(resp)
            if problem:
                self.out[w.rule.id] = Outcome(error=problem, took_ms=took)
                continue
            total = int(resp["hits"]["total"]["value"])
            hits = resp["hits"]["hits"]
            if total <= len(hits):
                self.out[w.rule.id] = Outcome(total=total, hits=hits, took_ms=took)
                continue
            agg = resp["aggregations"]["groups"]
            groups = [{"key": b["key"], "count": int(b["doc_count"]), "first": b["first"].get("value_as_string"),
                       "last": b["last"].get("value_as_string"), "sample": b["sample"]["hits"]["hits"][0]}
                      for b in agg["buckets"]]
            groups += _rest_per_org(resp, groups, total, hits)
            self.out[w.rule.id] = Outcome(total=total, groups=groups, took_ms=took)

    def _own_body(self, w: Work) -> dict[str, Any]:
        fields = self.group_fields(w.rule)
        return {
            "size": min(self.limits.cap, 10000), "track_total_hits": True, "timeout": self.limits.timeout,
            "sort": _SORT, "query": {"bool": {"filter": [_range(self.lo, self.hi), w.clause("r")]}},
            "aggs": {"groups": {
                "composite": {"size": max(1, min(self.limits.cap, 10000)),
                              "sources": [{f: {"terms": {"field": f, "missing_bucket": True}}} for f in fields]},
                "aggs": {"first": {"min": {"field": "@timestamp"}}, "last": {"max": {"field": "@timestamp"}},
                         "sample": {"top_hits": {"size": 1, "sort": _SORT}}}},
                # per department: what the composite page leaves out is grouped per department too
                "orgs": {"terms": {"field": ORG_FIELD, "missing": DISTRICT, "size": ORG_BUCKETS}}},
        }

    def _residual_scan(self, w: Work) -> None:
        """A ``|fieldref`` rule searched on its own: its superset can be most of the window, so
        only the compared fields, the grouping fields and the times are read for every candidate;
        full events are fetched for the (at most ``cap``) confirmed hits that become alerts."""
        began = time.monotonic()
        query = {"bool": {"filter": [_range(self.lo, self.hi), w.clause("r")]}}
        fields = sorted({*_residual_fields(w.rule.residual), *self.group_fields(w.rule), "@timestamp",
                         "event.ingested"})
        try:
            hits = [h for h in self.store.scan(self.indices, query, size=5000, source=fields,
                                               sort=[{"event.ingested": "asc"}, {"_shard_doc": "asc"}])
                    if residual_matches(w.rule.residual, h.get("_source") or {}, _inner(h, "r"))]
            if 0 < len(hits) <= self.limits.cap:
                full = self.store.search(self.indices, {"query": {"ids": {"values": [h["_id"] for h in hits]}},
                                                        "size": len(hits), "sort": _SORT})
                hits = full["hits"]["hits"]
        except SocError as exc:
            self.out[w.rule.id] = Outcome(error=exc.message, took_ms=int((time.monotonic() - began) * 1000))
            return
        self.searches += 1
        self.out[w.rule.id] = self._capped(w, hits, int((time.monotonic() - began) * 1000))


def _group_fields(rule: CompiledRule) -> tuple[str, ...]:
    """The entity a grouped alert stands for, always within one department."""
    fields = tuple(rule.suppression.fields) if rule.suppression and rule.suppression.fields else GROUP_FIELDS
    return fields if ORG_FIELD in fields else (*fields, ORG_FIELD)


def _rest_per_org(resp: dict[str, Any], groups: list[dict[str, Any]], total: int, hits: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """Matches beyond the composite page, one group per department (so the catch-all alert never
    mixes departments); its sample is a hit of that department when one is at hand."""
    rest = total - sum(g["count"] for g in groups)
    if rest <= 0:
        return []
    seen: dict[str, int] = {}
    for g in groups:
        org = str(g["key"].get(ORG_FIELD) or DISTRICT)
        seen[org] = seen.get(org, 0) + int(g["count"])
    out: list[dict[str, Any]] = []
    buckets = ((resp.get("aggregations") or {}).get("orgs") or {}).get("buckets") or []
    for b in buckets:
        left = int(b["doc_count"]) - seen.get(str(b["key"]), 0)
        if left <= 0:
            continue
        sample = next((h for h in reversed(hits)
                       if (organization_of(h.get("_source")) or DISTRICT) == str(b["key"])), None)
        out.append({"key": {"other": "more entities", ORG_FIELD: str(b["key"])}, "count": left, "first": None,
                    "last": None, "sample": sample})
    counted = sum(g["count"] for g in out)
    if counted < rest:  # more departments than the terms bucket size: keep the count, never drop
        out.append({"key": {"other": "more entities"}, "count": rest - counted, "first": None, "last": None,
                    "sample": hits[-1] if hits else None})
    return out


def _residual_fields(logic: Any) -> set[str]:
    if not isinstance(logic, list) or not logic:
        return set()
    if logic[0] == "fieldref":
        return {str(logic[1]), str(logic[2])}
    if logic[0] in ("and", "or"):
        return set().union(*(_residual_fields(x) for x in logic[1]))
    if logic[0] == "not":
        return _residual_fields(logic[1])
    return set()


def _inner(hit: dict[str, Any], name: str) -> set[str]:
    prefix = name + ":"
    return {m[len(prefix):] for m in hit.get("matched_queries") or () if m.startswith(prefix)}


def group_hits(hits: list[dict[str, Any]], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The same grouping as the composite aggregation, for hits already in hand."""
    groups: dict[tuple[str | None, ...], dict[str, Any]] = {}
    for hit in hits:
        src = hit.get("_source") or {}
        values = tuple(None if get_field(src, f) is None else str(get_field(src, f)) for f in fields)
        ts = src.get("@timestamp")
        g = groups.setdefault(values, {"key": dict(zip(fields, values, strict=True)), "count": 0, "first": ts,
                                       "last": ts, "sample": hit})
        g["count"] += 1
        if ts and (g["first"] is None or ts < g["first"]):
            g["first"] = ts
        if ts and (g["last"] is None or ts > g["last"]):
            g["last"] = ts
    return list(groups.values())
