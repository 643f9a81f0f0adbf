"""Moving per-day event indices (``<prefix>-events-<dataset>-YYYY.MM.DD``, the layout before
ingest-time rollover) into their dataset's write alias, and the storage summary of ``soc es status``.

Per old index: scan it (point in time + ``search_after``; the managed node has no reindex
module), create every event under its own id through the alias (so a re-run or a resumed run
adds nothing), then check that the old index still holds exactly the events scanned and that
every one of those ids is found behind the alias — the sorted id lists' digests must be equal —
and only then delete the old index. A failed check keeps the old index and reports why; running
the migration again resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from core.errors import SocError, Unavailable
from core.es import Store
from core.event_layout import EventWriter, daily_alias, ensure_write_alias
from core.event_lifecycle import event_aliases
from core.settings import Settings
from core.shard_budget import usage

_BATCH = 2000
_ID_CHUNK = 5000


@dataclass
class DatasetMigration:
    alias: str
    old_indices: list[str]
    events: int = 0
    moved: int = 0
    already_present: int = 0
    removed: list[str] = field(default_factory=list)
    ids_digest: str = ""
    status: str = "ok"
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def daily_indices(store: Store, prefix: str) -> dict[str, list[str]]:
    """``{alias: [old per-day indices]}`` still to migrate."""
    out: dict[str, list[str]] = {}
    for index in store.list_indices(f"{prefix}-events-*"):
        alias = daily_alias(index)
        if alias is not None:
            out.setdefault(alias, []).append(index)
    return out


def _batches(hits: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for hit in hits:
        batch.append(hit)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _digest(ids: list[str]) -> str:
    h = hashlib.sha256()
    for i in sorted(ids):
        h.update(i.encode() + b"\n")
    return h.hexdigest()


def _write(writer: EventWriter, alias: str, hits: list[dict[str, Any]], report: DatasetMigration) -> None:
    docs = [(alias, str(h["_id"]), h["_source"]) for h in hits]
    for attempt in range(6):
        result = writer.create(docs)
        report.moved += result.created
        report.already_present += result.exists
        if result.rejected:
            first = result.rejected[0]
            raise SocError(f"{len(result.rejected)} event(s) were rejected by {alias} (first: {first.id}: {first.error}); "
                           "the old index is kept. Fix the mapping conflict and run `soc es migrate` again.")
        retry = {i.id for i in result.retry}
        if not retry:
            return
        docs = [d for d in docs if d[1] in retry]
        time.sleep(0.5 * 2 ** attempt)
    raise Unavailable(f"Elasticsearch kept refusing {len(docs)} event(s) for {alias}; run `soc es migrate` again later.")


def _found_ids(store: Store, alias: str, ids: list[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start:start + _ID_CHUNK]
        resp = store.search(alias, {"size": len(chunk), "_source": False, "track_total_hits": False,
                                    "query": {"ids": {"values": chunk}}})
        found.extend(str(h["_id"]) for h in resp["hits"]["hits"])
    return found


def _migrate_index(store: Store, writer: EventWriter, alias: str, index: str, report: DatasetMigration) -> str:
    store.refresh(index)
    before = store.count(index)
    ids: list[str] = []
    for hits in _batches(store.scan(index, size=_BATCH), _BATCH):
        _write(writer, alias, hits, report)
        ids.extend(str(h["_id"]) for h in hits)
    store.refresh(alias)
    after = store.count(index)
    if not before == after == len(ids) == len(set(ids)):
        raise SocError(f"{index} changed during the migration ({before} events before, {len(ids)} scanned, {after} "
                       "after); it is kept. Stop whatever still writes to it and run `soc es migrate` again.")
    found = _found_ids(store, alias, ids)
    old_digest, new_digest = _digest(ids), _digest(found)
    if old_digest != new_digest:
        missing = len(set(ids) - set(found))
        raise SocError(f"{missing} event(s) of {index} are not found behind {alias} (id digests differ); the old index "
                       "is kept. Run `soc es migrate` again.")
    report.events += len(ids)
    store.delete_indices(index)
    report.removed.append(index)
    return old_digest


def migrate(store: Store, settings: Settings, *, log: Callable[[str], None] | None = None) -> list[DatasetMigration]:
    """Move every per-day event index into the ingest-time layout; one report per dataset."""
    say = log or (lambda _m: None)
    reports: list[DatasetMigration] = []
    for alias, indices in sorted(daily_indices(store, settings.index_prefix).items()):
        report = DatasetMigration(alias=alias, old_indices=sorted(indices))
        reports.append(report)
        # No budget check: the migration frees shards (one index replaces many).
        ensure_write_alias(store, alias, None)
        writer = EventWriter(store)
        digests = []
        try:
            for n, index in enumerate(report.old_indices, 1):
                digests.append(_migrate_index(store, writer, alias, index, report))
                if n % 50 == 0 or n == len(report.old_indices):
                    say(f"{alias}: {n}/{len(report.old_indices)} daily indices moved ({report.events} events)")
        except SocError as exc:
            report.status, report.error = "failed", exc.message
            say(f"{alias}: {exc.message}")
        report.ids_digest = hashlib.sha256("".join(digests).encode()).hexdigest() if digests else ""
    return reports


def storage_status(store: Store, settings: Settings) -> dict[str, Any]:
    """Shards used against the budget, the datasets' layout, old per-day indices left."""
    aliases = event_aliases(store, settings.index_prefix)
    return {
        "shards": usage(store, settings.events).as_dict(),
        "events": {"datasets": len(aliases), "indices": sum(len(v) for v in aliases.values())},
        "daily_indices": sum(len(v) for v in daily_indices(store, settings.index_prefix).values()),
    }
