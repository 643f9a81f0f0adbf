"""Rollover and retention of event indices, done by the platform itself (no ILM on the managed node).

A scheduled job (``maintain``, every ``events.maintenance_seconds``) rolls each dataset's write
alias over with server-core ``_rollover`` once its write index is older than
``events.rollover_max_age`` or a primary shard reaches ``events.rollover_max_size`` (never while
empty), and deletes whole backing indices whose *newest* event (``max(@timestamp)``, one
aggregation per index) is older than ``events.retention_days``. The write index is never deleted:
when it has expired too it is rolled over first. Several platform processes may run the job at
once: a conditional rollover of a just-rolled alias does nothing, deletes are idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.errors import SocError
from core.es import Store
from core.event_layout import shards_per_index
from core.settings import EventsSettings, Settings
from core.shard_budget import ShardBudgetExceeded, require_room
from core.timeutil import iso, parse_iso, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexInfo:
    index: str
    alias: str
    is_write: bool
    docs: int
    oldest: str | None
    newest: str | None


@dataclass
class MaintenanceReport:
    rolled_over: list[dict[str, str]] = field(default_factory=list)
    deleted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def event_aliases(store: Store, prefix: str) -> dict[str, dict[str, bool]]:
    """``{alias: {backing index: is_write_index}}`` of every dataset."""
    return {a: idx for a, idx in store.aliases(f"{prefix}-events-*").items() if a.startswith(f"{prefix}-events-")}


def index_infos(store: Store, prefix: str) -> list[IndexInfo]:
    """Every backing index with its document count and min/max ``@timestamp``."""
    aliases = event_aliases(store, prefix)
    owner = {index: (alias, w) for alias, indices in aliases.items() for index, w in indices.items()}
    if not owner:
        return []
    resp = store.search(f"{prefix}-events-*", {
        "size": 0, "track_total_hits": False,
        "aggs": {"per_index": {"terms": {"field": "_index", "size": max(10, len(owner))},
                               "aggs": {"oldest": {"min": {"field": "@timestamp"}},
                                        "newest": {"max": {"field": "@timestamp"}}}}},
    })
    stats = {b["key"]: b for b in resp.get("aggregations", {}).get("per_index", {}).get("buckets", [])}
    out = []
    for index, (alias, is_write) in sorted(owner.items()):
        b = stats.get(index) or {}
        out.append(IndexInfo(index=index, alias=alias, is_write=is_write, docs=int(b.get("doc_count") or 0),
                             oldest=(b.get("oldest") or {}).get("value_as_string"),
                             newest=(b.get("newest") or {}).get("value_as_string")))
    return out


def _conditions(events: EventsSettings) -> dict[str, Any]:
    return {"max_age": events.rollover_max_age, "max_primary_shard_size": events.rollover_max_size, "min_docs": 1}


def _rollover(store: Store, alias: str, events: EventsSettings, report: MaintenanceReport, *,
              conditions: dict[str, Any] | None) -> bool:
    try:
        _, _, nodes = store.shard_limits()
        require_room(store, events, shards_per_index(nodes), f"Rolling over {alias}")
    except ShardBudgetExceeded as exc:
        report.refused.append(exc.message)
        log.warning("%s", exc.message)
        return False
    resp = store.rollover(alias, conditions)
    if resp.get("rolled_over"):
        report.rolled_over.append({"alias": alias, "old_index": str(resp.get("old_index")),
                                   "new_index": str(resp.get("new_index"))})
        return True
    return False


def rollover_due(store: Store, prefix: str, events: EventsSettings, report: MaintenanceReport | None = None) -> MaintenanceReport:
    """Roll over every write alias whose conditions are met (the server evaluates them)."""
    report = report or MaintenanceReport()
    for alias in sorted(event_aliases(store, prefix)):
        try:
            _rollover(store, alias, events, report, conditions=_conditions(events))
        except SocError as exc:
            report.errors.append(f"{alias}: {exc.message}")
    return report


def apply_retention(store: Store, prefix: str, events: EventsSettings, *, now: datetime | None = None,
                    report: MaintenanceReport | None = None) -> MaintenanceReport:
    """Delete backing indices whose newest event is past ``events.retention_days``."""
    report = report or MaintenanceReport()
    if events.retention_days is None:
        return report
    cutoff = (now or utcnow()) - timedelta(days=events.retention_days)
    for info in index_infos(store, prefix):
        expired = info.newest is not None and parse_iso(info.newest) < cutoff
        empty_old = info.docs == 0 and not info.is_write
        if not (expired or empty_old):
            continue
        try:
            # Never delete the write index: move writes to a fresh one, then drop this one.
            if info.is_write and not _rollover(store, info.alias, events, report, conditions=None):
                continue
            store.delete_indices(info.index)
            report.deleted.append({"index": info.index, "alias": info.alias, "docs": info.docs,
                                   "newest": info.newest, "cutoff": iso(cutoff)})
        except SocError as exc:
            report.errors.append(f"{info.index}: {exc.message}")
    return report


def maintain(store: Store, settings: Settings, *, now: datetime | None = None) -> MaintenanceReport:
    """The scheduled job: rollover, then retention."""
    report = rollover_due(store, settings.index_prefix, settings.events)
    apply_retention(store, settings.index_prefix, settings.events, now=now, report=report)
    for entry in report.rolled_over:
        log.info("rolled over %s: %s -> %s", entry["alias"], entry["old_index"], entry["new_index"])
    for entry in report.deleted:
        log.info("retention deleted %s (newest event %s)", entry["index"], entry["newest"])
    for error in report.errors:
        log.warning("event index maintenance: %s", error)
    return report


_LAST: dict[str, Any] = {}


def last_maintenance() -> dict[str, Any]:
    """The outcome of this process' last scheduled run (for health), empty before the first."""
    return dict(_LAST)


def maintenance_job(settings: Settings, store: Store) -> None:
    """APScheduler entry point: a failure is logged, shown in health and retried at the next run."""
    now = iso(utcnow())
    try:
        report = maintain(store, settings)
        _LAST.clear()
        _LAST.update({"last_run": now, "rolled_over": len(report.rolled_over), "deleted": len(report.deleted),
                      "refused": report.refused, "errors": report.errors})
    except SocError as exc:
        log.warning("event index maintenance failed, retried at the next run: %s", exc.message)
        _LAST.clear()
        _LAST.update({"last_run": now, "errors": [exc.message]})
