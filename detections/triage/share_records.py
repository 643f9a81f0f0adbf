"""Where case share grants live and what they cover.

A grant is one document of ``<prefix>-case-shares`` carrying the OWNER's ``organization.id`` (so
the store shows it to the owning department and the district only), the grantee user names, the
case id, the ids of the documents it makes readable (the case, its alerts, the events they cite
and the contributing events of correlation alerts), and created/expires/revoked.

The covered ids are computed in the granting caller's scope (what the owner can see), when the
grant is made and again whenever the case's alerts change, so the grantee never sees more than
the owner had in the case."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime
from typing import Any

from core import scope as scopes
from core.alerting import alerts_index
from core.auditing import Actor
from core.errors import NotFound, SocError
from core.es import Store
from core.settings import Settings
from core.timeutil import iso
from detections.triage.episode_events import episode_query, related_alerts_query

# The read filter carries every covered id of a user's grants in each of their searches, so their
# number is bounded: per grant, and per grantee when a grant is made (bench/share_filter.py prints
# what 1 000 and 10 000 shared ids cost a search).
MAX_COVERED = 10_000
MAX_PER_GRANTEE = 20_000

_KW = {"type": "keyword"}
SHARES_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "share_id": _KW, "case_id": _KW, "grantees": _KW, "organization": {"properties": {"id": _KW}},
        "created": {"type": "date"}, "created_by": _KW, "expires": {"type": "date"},
        "revoked": {"type": "date"}, "revoked_by": _KW, "expiry_audited": {"type": "boolean"},
        "covered": {"type": "long"},
        # Read back by the scope hook, never searched: kept out of the index.
        "doc_ids": {"type": "keyword", "index": False, "doc_values": False},
    },
}

# Bumped on every grant write in this process, so its scope hook drops cached grants at once
# (other processes' caches expire after a few seconds).
_generation = 0
_generation_lock = threading.Lock()


def generation() -> int:
    return _generation


def bump_generation() -> None:
    global _generation
    with _generation_lock:
        _generation += 1


def for_owner(actor: Actor, owner: str) -> Actor:
    """The actor as recorded in the audit trail for a grant, an access, a revocation or an
    expiry: under the owning department (whose auditors review who reads its data), whatever
    department the actor acts for (kept in the record's detail as ``actor_organization``)."""
    return dataclasses.replace(actor, organization=owner)


def shares_index(settings: Settings) -> str:
    return settings.index("case-shares")


def ensure_shares(store: Store, settings: Settings) -> str:
    index = shares_index(settings)
    store.ensure_index(index, mappings=SHARES_MAPPING)
    return index


def active_filter(now: datetime) -> list[dict[str, Any]]:
    """Grants neither revoked nor expired at ``now``."""
    return [{"range": {"expires": {"gt": iso(now)}}},
            {"bool": {"must_not": {"exists": {"field": "revoked"}}}}]


def held_by(store: Store, settings: Settings, username: str, now: datetime) -> int:
    """How many documents the user's active grants cover now."""
    query = {"bool": {"filter": [{"term": {"grantees": username}}, *active_filter(now)]}}
    with scopes.system():
        try:
            resp = store.search(shares_index(settings), {"size": 0, "query": query,
                                                         "aggs": {"n": {"sum": {"field": "covered"}}}})
        except NotFound:
            return 0
    return int((resp.get("aggregations") or {}).get("n", {}).get("value") or 0)


def _search_ids(store: Store, index: str, query: dict[str, Any], limit: int) -> list[str]:
    if limit <= 0 or not index:
        return []
    try:
        resp = store.search(index, {"size": limit, "_source": False, "query": query,
                                    "sort": [{"@timestamp": {"order": "asc", "unmapped_type": "date"}}]})
    except NotFound:
        return []
    return [str(h["_id"]) for h in resp["hits"]["hits"]]


def covered_ids(store: Store, settings: Settings, case: dict[str, Any]) -> tuple[list[str], bool]:
    """``(ids, truncated)``: the case, its alerts, the events each alert cites and, for a
    correlation alert, its contributing events and chained alerts, read in the caller's scope.
    ``truncated`` when more than ``MAX_COVERED`` documents would be covered."""
    ids: dict[str, None] = {str(case["case_id"]): None}
    alert_ids = [str(a) for a in case.get("alert_ids") or []]
    index = alerts_index(settings.index_prefix)
    alerts: list[dict[str, Any]] = []
    for start in range(0, len(alert_ids), 500):
        try:
            docs = store.mget(index, alert_ids[start:start + 500])
        except NotFound:
            docs = []
        alerts.extend(d for d in docs if d is not None)
    truncated = False
    for doc in alerts:
        if len(ids) >= MAX_COVERED:
            truncated = True
            break
        ids[str(doc["_id"])] = None
        src = doc.get("_source") or {}
        event_id = (src.get("source_event") or {}).get("id")
        if event_id:
            ids[str(event_id)] = None
        try:
            episode = episode_query(store, settings, src)
        except SocError:
            episode = None  # a rule deleted since: the alert and its cited event stay covered
        if episode is None:
            continue
        indices, query, related = episode
        room = MAX_COVERED - len(ids)
        found = _search_ids(store, indices, query, room + 1) if query else []
        truncated = truncated or len(found) > room
        ids.update(dict.fromkeys(found[:room]))
        if related:
            for rel in _search_ids(store, index, related_alerts_query(src, related), 20):
                ids[rel] = None
    out = list(ids)
    return out[:MAX_COVERED], truncated or len(out) > MAX_COVERED


def refresh_case_shares(store: Store, settings: Settings, case: dict[str, Any], now: datetime) -> int:
    """Recompute the covered ids of the case's active grants after its alerts changed (in the
    caller's scope, like the grant). Returns how many grants were updated; cheap when none."""
    index = shares_index(settings)
    try:
        resp = store.search(index, {"size": 100, "_source": ["share_id"], "query": {"bool": {
            "filter": [{"term": {"case_id": case["case_id"]}}, *active_filter(now)]}}})
    except NotFound:
        return 0
    hits = resp["hits"]["hits"]
    if not hits:
        return 0
    ids, truncated = covered_ids(store, settings, case)
    for hit in hits:
        store.update(index, hit["_id"], {"doc_ids": ids, "covered": len(ids), "truncated": truncated},
                     refresh=True)
    bump_generation()
    return len(hits)
