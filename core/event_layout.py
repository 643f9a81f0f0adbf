"""Where events are stored, and the one way to write them.

Each dataset is written through a write alias ``<prefix>-events-<dataset>`` into backing indices
``<prefix>-events-<dataset>-NNNNNN`` that the platform rolls over at *ingest* time (see
``core.event_lifecycle``): an index name never depends on an event's own ``@timestamp``, so
importing ten years of history creates no more indices than a day of live data.

``EventWriter`` keeps "nothing indexed twice" across rollovers: deterministic ids with
``op_type=create`` only dedupe within one index, so before each create bulk it asks every backing
index of the dataset (an ``ids`` query on the alias, ``_source: false``) which ids are already
stored and reports those as duplicates (like a 409) without sending them. Writes carry
``require_alias`` so a write to an alias deleted behind the writer's back can never auto-create
a concrete index of that name; the writer re-creates the alias and sends those items again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from core.errors import NotFound, Unavailable
from core.es import BulkResult, ItemResult, Store
from core.settings import EventsSettings
from core.shard_budget import require_room
from core.timeutil import parse_iso

_DAILY = re.compile(r"^(?P<alias>.+-events-[^-]+)-\d{4}\.\d{2}\.\d{2}$")
_BACKING = re.compile(r"^(?P<alias>.+-events-[^-]+)-(?P<n>\d{6})$")


def dataset_slug(dataset: str | None) -> str:
    return "".join(c if (c.isalnum() or c in "._") else "_" for c in (dataset or "unknown").lower())


def events_alias(prefix: str, dataset: str | None) -> str:
    """The write alias of a dataset: ``<prefix>-events-<dataset>``."""
    return f"{prefix}-events-{dataset_slug(dataset)}"


def backing_index(alias: str, n: int = 1) -> str:
    return f"{alias}-{n:06d}"


def alias_of(target: str) -> str:
    """The write alias for a write target; old spool records name a daily index instead."""
    m = _DAILY.match(target) or _BACKING.match(target)
    return m.group("alias") if m else target


def daily_alias(index: str) -> str | None:
    """For an old per-day index ``<prefix>-events-<dataset>-YYYY.MM.DD``: its dataset's alias."""
    m = _DAILY.match(index)
    return m.group("alias") if m else None


def is_backing(index: str) -> bool:
    return bool(_BACKING.match(index))


def shards_per_index(data_nodes: int) -> int:
    # One primary; the templates give a replica once there is a second data node to hold it.
    return 2 if data_nodes >= 2 else 1


def ensure_write_alias(store: Store, alias: str, events: EventsSettings | None, *, what: str = "Writing events") -> bool:
    """Create ``<alias>-000001`` as the write index of ``alias`` unless the alias exists.

    With ``events`` settings the shard budget is checked first (``ShardBudgetExceeded``).
    Returns True when this call created the index."""
    if store.aliases(alias).get(alias):
        return False
    # Backing indices without their alias (restored from a snapshot without aliases): adopt
    # them, the newest as write index, rather than colliding with -000001.
    orphans = sorted(i for i in store.list_indices(f"{alias}-*") if _BACKING.match(i) and alias_of(i) == alias)
    if orphans:
        store.update_aliases([{"add": {"index": i, "alias": alias, "is_write_index": i == orphans[-1]}}
                              for i in orphans])
        return False
    if events is not None:
        _, _, nodes = store.shard_limits()
        require_room(store, events, shards_per_index(nodes), f"{what} (new dataset index {backing_index(alias)})")
    return store.create_index(backing_index(alias), aliases={alias: {"is_write_index": True}})


def missing_aliases(store: Store, aliases: Iterable[str]) -> list[str]:
    wanted = sorted(set(aliases))
    if not wanted:
        return []
    present = store.aliases(",".join(wanted))
    return [a for a in wanted if not present.get(a)]


def require_room_for(store: Store, events: EventsSettings, aliases: Iterable[str], what: str) -> None:
    """Up-front budget check for work that will write to ``aliases`` (imports call this first)."""
    missing = missing_aliases(store, aliases)
    _, _, nodes = store.shard_limits()
    require_room(store, events, len(missing) * shards_per_index(nodes), what)


_MAX_HITS = 10000  # index.max_result_window


def _millis(source: bytes) -> int | None:
    """The event's ``@timestamp`` in epoch milliseconds, or None when absent or unreadable."""
    try:
        value = orjson.loads(source).get("@timestamp")
        return int(parse_iso(value).timestamp() * 1000) if isinstance(value, str) else None
    except (orjson.JSONDecodeError, AttributeError, ValueError, OverflowError):
        return None


def _ids_query(ids: list[str], stamps: list[int | None]) -> dict[str, Any]:
    """An ``ids`` query, narrowed to the batch's ``@timestamp`` range when every event has one.

    A re-sent event carries the same ``@timestamp`` (same id, same content), so only backing
    indices whose min/max overlap the batch can hold it; Elasticsearch answers the others from
    their shard bounds without looking up a single id, so the check stays cheap for live data
    however many older indices the dataset has."""
    query: dict[str, Any] = {"ids": {"values": ids}}
    known = [m for m in stamps if m is not None]
    if not stamps or len(known) != len(stamps):
        return query
    return {"bool": {"filter": [query, {"range": {"@timestamp": {
        "gte": min(known) - 1, "lte": max(known) + 1, "format": "epoch_millis"}}}]}}


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class EventWriter:
    """Create-only bulk writes of events through their datasets' write aliases."""

    def __init__(self, store: Store, events: EventsSettings | None = None) -> None:
        self.store = store
        self.events = events
        self._known: set[str] = set()

    def create(self, docs: Iterable[tuple[str, str, Mapping[str, Any]]], *, refresh: bool | str = False) -> BulkResult:
        return self.create_raw([(t, i, orjson.dumps(d, default=str)) for t, i, d in docs], refresh=refresh)

    def create_raw(self, docs: Sequence[tuple[str, str, bytes]], *, refresh: bool | str = False) -> BulkResult:
        """Like ``Store.bulk_create_raw``; targets may be aliases, backing or old daily index names."""
        if not docs:
            return BulkResult()
        routed = [(alias_of(t), i, s) for t, i, s in docs]
        for alias in {a for a, _i, _s in routed} - self._known:
            ensure_write_alias(self.store, alias, self.events)
            self._known.add(alias)
        stored = self._already_stored(routed)
        outcomes: list[ItemResult | None] = [
            ItemResult(a, i, 409, "exists") if (a, i) in stored else None for a, i, _s in routed]
        send = [n for n, o in enumerate(outcomes) if o is None]
        for _attempt in range(2):
            if not send:
                break
            result = self.store.bulk_create_raw([routed[n] for n in send], refresh=refresh, require_alias=True)
            missing: list[int] = []
            for n, item in zip(send, result.items, strict=True):
                if item.status == 404:  # with require_alias: the alias is gone
                    missing.append(n)
                outcomes[n] = item
            for alias in {routed[n][0] for n in missing}:
                self._known.discard(alias)
                ensure_write_alias(self.store, alias, self.events)
                self._known.add(alias)
            send = missing
        for n in send:  # still no alias: retried later, never dead-lettered as if the event were bad
            gone = outcomes[n]
            if gone is not None:
                outcomes[n] = ItemResult(gone.index, gone.id, gone.status, "retry", gone.error)
        return BulkResult(items=[o for o in outcomes if o is not None])

    def _already_stored(self, routed: Sequence[tuple[str, str, bytes]]) -> set[tuple[str, str]]:
        by_alias: dict[str, list[str]] = {}
        stamps: dict[str, list[int | None]] = {}
        for alias, doc_id, source in routed:
            by_alias.setdefault(alias, []).append(doc_id)
            stamps.setdefault(alias, []).append(_millis(source))
        searches = [(alias, {"size": len(chunk), "_source": False, "track_total_hits": False,
                             "query": _ids_query(chunk, stamps[alias])})
                    for alias, ids in by_alias.items() for chunk in _chunks(ids, _MAX_HITS)]
        found: set[tuple[str, str]] = set()
        for (alias, _body), resp in zip(searches, self.store.msearch(searches), strict=True):
            if "error" in resp:
                # Unknown is not "absent": raising keeps the batch in the spool for a retry.
                raise Unavailable(f"Checking which events are already stored in {alias} failed: {resp['error']}. "
                                  "The batch is kept and sent again.")
            for hit in resp["hits"]["hits"]:
                found.add((alias, hit["_id"]))
        # A search sees only what the last refresh made visible: an event written moments ago
        # (a replay right after a crash, a rollover in between) is looked up by id in the newest
        # backing indices, where it can be, with a realtime multi-get.
        docs = [{"_index": index, "_id": doc_id} for alias, ids in by_alias.items()
                for index in self._newest_backing(alias) for doc_id in ids if (alias, doc_id) not in found]
        for chunk in [docs[i:i + _MAX_HITS] for i in range(0, len(docs), _MAX_HITS)]:
            resp = self.store.request("POST", "/_mget", body={"docs": chunk}, params={"_source": "false"})
            for doc in resp.get("docs", []):
                if doc.get("found"):
                    found.add((alias_of(str(doc["_index"])), str(doc["_id"])))
        return found

    def _newest_backing(self, alias: str, keep: int = 2) -> list[str]:
        """The write index and the one before it: the only ones an unrefreshed event can be in."""
        try:
            resolved = self.store.request("GET", f"/_alias/{alias}") or {}
        except NotFound:
            return []
        return sorted((i for i in resolved if is_backing(i)), reverse=True)[:keep]
