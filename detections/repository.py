"""Rules, their state and their validation in Elasticsearch.

``<prefix>-rules``: one document per rule (definition, enabled flag, exceptions, run statistics).
``<prefix>-rules-state``: one document per partition of the rule set, holding the lease (which
scheduler process owns the partition right now) and every rule's checkpoint on
``event.ingested``. Leases and checkpoints are updated with optimistic concurrency
(``if_seq_no``), so two schedulers never both advance the same window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from core.alerting import ALERTS_MAPPING, alerts_index
from core.errors import InvalidInput, NotFound
from core.es import Store
from core.ids import stable_id
from core.schema import TYPED_FIELDS, _nest
from core.timeutil import iso, utcnow
from detections.models import CompiledRule, Correlation, LintEntry, Suppression

_KW = {"type": "keyword"}
_DATE = {"type": "date"}
RULES_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": _KW, "title": {"type": "text", "fields": {"raw": _KW}}, "level": _KW, "status": _KW,
        "tags": _KW, "techniques": _KW, "tactics": _KW, "logsource": {"type": "object", "dynamic": True},
        "pipeline": _KW, "datasets": _KW, "kind": _KW, "enabled": {"type": "boolean"}, "source": _KW,
        "version": _KW, "revision": {"type": "long"}, "description": {"type": "text"},
        "query": {"type": "object", "enabled": False},
        "correlation": {"type": "object", "enabled": False},
        "suppression": {"type": "object", "enabled": False},
        "exceptions": {"type": "object", "enabled": False},
        "exceptions_version": {"type": "long"},
        "warnings": {"type": "text"},
        "sigma": {"type": "text", "index": False},
        "interval_seconds": {"type": "long"}, "generate": {"type": "boolean"},
        "residual": {"type": "object", "enabled": False},
        "created": _DATE, "updated": _DATE,
        "stats": {"properties": {
            "last_run": _DATE, "last_duration_ms": {"type": "long"}, "last_hits": {"type": "long"},
            "last_alerts": {"type": "long"}, "total_alerts": {"type": "long"}, "runs": {"type": "long"},
            "errors": {"type": "long"}, "last_error": {"type": "text"}, "overflow": {"type": "long"},
            "window_end": _DATE,
        }},
    },
}
STATE_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"partition": {"type": "long"}, "owner": _KW, "lease_until": _DATE, "updated": _DATE,
                   "checkpoints": {"type": "object", "enabled": False}},
}


def rules_index(prefix: str) -> str:
    return f"{prefix}-rules"


def state_index(prefix: str) -> str:
    return f"{prefix}-rules-state"


def validation_index(prefix: str) -> str:
    return f"{prefix}-rules-validation"


def ensure_indices(store: Store, prefix: str) -> None:
    store.ensure_index(rules_index(prefix), mappings=RULES_MAPPING)
    store.ensure_index(state_index(prefix), mappings=STATE_MAPPING)
    store.ensure_index(alerts_index(prefix), mappings=ALERTS_MAPPING)


def partition_of(rule_id: str, partitions: int) -> int:
    return int(stable_id("partition", rule_id)[:8], 16) % partitions


# -- rule documents ---------------------------------------------------------------------------

def to_doc(rule: CompiledRule, *, enabled: bool, now: str) -> dict[str, Any]:
    return {
        "id": rule.id, "title": rule.title, "level": rule.level, "status": rule.status, "tags": list(rule.tags),
        "techniques": rule.techniques, "tactics": rule.tactics, "logsource": rule.logsource,
        "pipeline": rule.pipeline, "datasets": list(rule.datasets), "kind": rule.kind, "enabled": enabled,
        "source": rule.source, "version": rule.version, "description": rule.description, "query": rule.query,
        "correlation": rule.correlation.to_dict() if rule.correlation else None,
        "suppression": rule.suppression.to_dict() if rule.suppression else None,
        "warnings": list(rule.warnings), "sigma": rule.sigma, "created": now, "updated": now,
        "exceptions": [], "exceptions_version": 0, "revision": 1, "generate": rule.generate,
        "residual": rule.residual,
    }


def from_doc(doc: dict[str, Any]) -> CompiledRule:
    return CompiledRule(
        id=doc["id"], title=doc.get("title", ""), level=doc.get("level", "medium"),
        status=doc.get("status", "experimental"), tags=tuple(doc.get("tags") or ()),
        logsource=dict(doc.get("logsource") or {}), pipeline=doc.get("pipeline", ""),
        datasets=tuple(doc.get("datasets") or ()), kind=doc.get("kind", "query"), query=doc.get("query"),
        source=doc.get("source", ""), version=doc.get("version", ""), description=doc.get("description", ""),
        correlation=Correlation.from_dict(doc.get("correlation")),
        suppression=Suppression.from_dict(doc.get("suppression")), warnings=tuple(doc.get("warnings") or ()),
        sigma=doc.get("sigma", ""), generate=bool(doc.get("generate", True)),
        residual=doc.get("residual"),
    )


def save_rules(store: Store, prefix: str, rules: Sequence[CompiledRule], *, enabled: bool = True) -> dict[str, int]:
    """Insert new rules and update changed ones, keeping enabled flag, exceptions and stats."""
    ensure_indices(store, prefix)
    index = rules_index(prefix)
    now = iso(utcnow())
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for start in range(0, len(rules), 500):
        chunk = rules[start:start + 500]
        existing = store.mget(index, [r.id for r in chunk])
        writes: list[tuple[str, str | None, dict[str, Any]]] = []
        for rule, old in zip(chunk, existing, strict=True):
            doc = to_doc(rule, enabled=enabled, now=now)
            if old is not None:
                src = old["_source"]
                if src.get("version") == rule.version:
                    counts["unchanged"] += 1
                    continue
                for keep in ("enabled", "exceptions", "exceptions_version", "created", "stats", "interval_seconds"):
                    if keep in src:
                        doc[keep] = src[keep]
                if src.get("suppression") and not rule.suppression:
                    doc["suppression"] = src["suppression"]
                doc["revision"] = int(src.get("revision") or 1) + 1
                counts["updated"] += 1
            else:
                counts["created"] += 1
            writes.append((index, rule.id, doc))
        result = store.bulk_index(writes, refresh=False)
        if result.rejected:
            raise InvalidInput(f"Storing rules failed: {result.rejected[0].error}")
    store.refresh(index)
    return counts


def get_rule_doc(store: Store, prefix: str, rule_id: str) -> dict[str, Any]:
    found = store.get(rules_index(prefix), rule_id)
    if found is None:
        raise NotFound(f"No rule with id {rule_id}. List rules with `soc rules list`.")
    return found


def list_rule_docs(store: Store, prefix: str, *, enabled_only: bool = False,
                   source_fields: Any = True) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"term": {"enabled": True}} if enabled_only else {"match_all": {}}
    if not store.index_exists(rules_index(prefix)):
        return []
    return [h["_source"] for h in store.scan(rules_index(prefix), query, size=2000, source=source_fields)]


def checkpoints(store: Store, prefix: str) -> dict[str, dict[str, Any]]:
    """Every rule's checkpoint entry (last run, window end, status, totals) from the partition
    documents."""
    if not store.index_exists(state_index(prefix)):
        return {}
    out: dict[str, dict[str, Any]] = {}
    # The partition documents are found by a search, then read with a realtime multi-get: a cycle
    # that just committed is shown even before the next refresh.
    ids = [h["_id"] for h in store.search(state_index(prefix), {"size": 1000, "_source": False,
                                                                "query": {"match_all": {}}})["hits"]["hits"]]
    for doc in store.mget(state_index(prefix), ids):
        if doc is not None:
            out.update(doc["_source"].get("checkpoints") or {})
    return out


def update_stats(store: Store, prefix: str, stats: dict[str, dict[str, Any]]) -> None:
    """Write each rule's run statistics (partial updates; informational, last writer wins)."""
    if stats:
        store.bulk_update((rules_index(prefix), rid, {"stats": st}) for rid, st in stats.items())


def chunked(items: Sequence[Any], max_items: int, body: Any, max_bytes: int = 1_500_000) -> list[list[Any]]:
    """Split into ``_msearch`` batches by count and by payload size: a few rules carry thousands
    of hashes, and one huge request trips the node's request circuit breaker."""
    import orjson

    out: list[list[Any]] = []
    current: list[Any] = []
    size = 0
    for item in items:
        n = len(orjson.dumps(body(item), default=str))
        if current and (len(current) >= max_items or size + n > max_bytes):
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += n
    if current:
        out.append(current)
    return out


# -- validation -------------------------------------------------------------------------------

def _leaf_fields(query: Any, out: set[str]) -> None:
    if isinstance(query, dict):
        for key, value in query.items():
            if key in ("term", "prefix", "wildcard", "regexp", "range", "match_phrase") and isinstance(value, dict):
                out.update(value)
            elif key == "exists" and isinstance(value, dict):
                out.add(value.get("field", ""))
            elif key == "query_string" and isinstance(value, dict):
                out.add(value.get("default_field", "message"))
            else:
                _leaf_fields(value, out)
    elif isinstance(query, list):
        for item in query:
            _leaf_fields(item, out)


def _validation_mapping(fields: Iterable[str]) -> dict[str, Any]:
    flat: dict[str, dict[str, Any]] = {}
    bases = {f.removesuffix(".lower") for f in fields if f}
    for f in sorted(bases):
        mapping = TYPED_FIELDS.get(f)
        if mapping is None:
            mapping = {"type": "keyword", "fields": {"lower": {"type": "keyword", "normalizer": "lowercase"}}}
        flat[f] = mapping
    # A field can't be both a leaf and an object: keep the leaf only if no other field nests under it.
    leaves = {f: m for f, m in flat.items() if not any(o.startswith(f + ".") for o in flat)}
    return {"properties": _nest(leaves)}


def validate_queries(store: Store, prefix: str, rules: Sequence[CompiledRule],
                     batch: int = 200) -> tuple[list[CompiledRule], list[LintEntry]]:
    """Run every compiled query once against an index whose mapping has every field they use.

    Errors that only appear when a query meets real field types (bad regular expressions,
    values an ip field can't parse) are caught here, per rule, instead of at run time.
    """
    queries = [r for r in rules if r.query is not None]
    if not queries:
        return list(rules), []
    fields: set[str] = set()
    for r in queries:
        _leaf_fields(r.query, fields)
    index = validation_index(prefix)
    store.delete_indices(index)
    store.ensure_index(index, mappings=_validation_mapping(fields),
                       settings={"mapping.total_fields.limit": 50000, "mapping.depth.limit": 64})
    # One document so every shard really builds each query.
    store.put(index, "probe", {}, refresh=True)
    bad: dict[str, str] = {}
    for chunk in chunked(queries, batch, lambda r: r.query):
        for rule, reason in _validate_chunk(store, index, chunk):
            bad[rule.id] = reason
    store.delete_indices(index)
    good = [r for r in rules if r.id not in bad]
    rejected = [LintEntry(r.source, r.id, r.title, "rejected", "invalid_query",
                          f"Elasticsearch rejected the compiled query: {bad[r.id]}") for r in rules if r.id in bad]
    return good, rejected


def _validate_chunk(store: Store, index: str, chunk: Sequence[CompiledRule]) -> list[tuple[CompiledRule, str]]:
    from core.errors import SocError

    try:
        responses = store.msearch([(index, {"query": r.query, "size": 0}) for r in chunk])
    except SocError as exc:
        # A request-level parse failure names no rule: split until the culprit is alone.
        if len(chunk) == 1:
            return [(chunk[0], exc.message)]
        mid = len(chunk) // 2
        return _validate_chunk(store, index, chunk[:mid]) + _validate_chunk(store, index, chunk[mid:])
    out = []
    for rule, resp in zip(chunk, responses, strict=True):
        if "error" in resp:
            err = resp["error"]
            reason = err.get("root_cause", [{}])[0].get("reason") if isinstance(err, dict) else str(err)
            out.append((rule, str(reason or err)))
        elif resp.get("_shards", {}).get("failed"):
            failure = (resp["_shards"].get("failures") or [{}])[0]
            out.append((rule, str(failure.get("reason", {}).get("reason", "shard failure"))))
    return out


def with_exceptions(rule: CompiledRule, doc: dict[str, Any]) -> CompiledRule:
    return replace(rule)
