"""Cheap fingerprints of an index, taken at backup and compared after a restore.

Re-reading every document made backups and drills run at a tenth of disk speed. What the
tools already guarantee is relied on instead: Lucene checksums every segment file and
Elasticsearch verifies them while restoring, and a snapshot's ``_status`` re-reads its shard
metadata. On top of that we record, per index:

* ``count`` and the ``_seq_no`` statistics (min/max/sum, one aggregation): a restore of another
  point in time, a missing shard or a lost segment changes them;
* ``ids_digest`` — sum of SHA-256 over every ``_id`` (a ``_source: false`` scan in ``_doc``
  order, so no fielddata on ``_id`` and no painless) for indices small enough to scan quickly
  (``backup.verify_id_digest_max_docs``);
* ``sample`` — SHA-256 of the canonical source of a seeded random sample of documents
  (``random_score`` over ``_seq_no``), fetched by id from the restored copy.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from core.es import Store

DIGEST_MODULUS = 1 << 256


def doc_digest(source: Any) -> str:
    return hashlib.sha256(orjson.dumps(source, option=orjson.OPT_SORT_KEYS)).hexdigest()


def seq_no_stats(store: Store, index: str) -> dict[str, float]:
    resp = store.search(index, {"size": 0, "track_total_hits": False,
                                "aggs": {"s": {"stats": {"field": "_seq_no"}}}})
    s = resp["aggregations"]["s"]
    return {"count": int(s["count"]), "min": s["min"] or 0, "max": s["max"] or 0, "sum": s["sum"] or 0}


def ids_digest(store: Store, index: str) -> tuple[int, str]:
    total = 0
    count = 0
    for hit in store.scan(index, size=10000, sort=["_doc"], source=False):
        total = (total + int.from_bytes(hashlib.sha256(hit["_id"].encode()).digest(), "big")) % DIGEST_MODULUS
        count += 1
    return count, f"{total:064x}"


def sample(store: Store, index: str, size: int, seed: int) -> dict[str, str]:
    if size <= 0:
        return {}
    body = {"size": size, "track_total_hits": False, "query": {"function_score": {
        "query": {"match_all": {}}, "random_score": {"seed": seed, "field": "_seq_no"}, "boost_mode": "replace"}}}
    hits = store.search(index, body)["hits"]["hits"]
    return {h["_id"]: doc_digest(h.get("_source")) for h in hits}


def take(store: Store, index: str, *, id_digest_max_docs: int, sample_size: int, seed: int) -> dict[str, Any]:
    stats = seq_no_stats(store, index)
    out: dict[str, Any] = {"count": stats["count"], "seq_no": {k: stats[k] for k in ("min", "max", "sum")},
                           "sample": sample(store, index, sample_size, seed)}
    if stats["count"] <= id_digest_max_docs:
        _n, out["ids_digest"] = ids_digest(store, index)
    return out


def compare(store: Store, restored: str, meta: dict[str, Any]) -> list[str]:
    """Differences between the manifest entry ``meta`` and the restored index (empty: equal)."""
    problems = []
    stats = seq_no_stats(store, restored)
    want = meta.get("seq_no") or {}
    got = {k: stats[k] for k in ("min", "max", "sum")}
    if want and any(float(want[k]) != float(got[k]) for k in ("min", "max", "sum")):
        problems.append(f"_seq_no statistics {got} != {want}")
    if meta.get("ids_digest"):
        _n, digest = ids_digest(store, restored)
        if digest != meta["ids_digest"]:
            problems.append("the set of document ids differs")
    return problems


def compare_sample(store: Store, restored: str, wanted: dict[str, str]) -> list[str]:
    if not wanted:
        return []
    ids = sorted(wanted)
    problems = []
    for doc_id, doc in zip(ids, store.mget(restored, ids), strict=True):
        if doc is None:
            problems.append(f"{doc_id} missing")
        elif doc_digest(doc.get("_source")) != wanted[doc_id]:
            problems.append(f"{doc_id} content differs")
    return problems
