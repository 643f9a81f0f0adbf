"""One detection cycle: lease partitions, run their due rules in ``_msearch`` batches, write
alerts, advance checkpoints.

Gap-free: a rule's window is ``(checkpoint, now - settle]`` on ``event.ingested`` (when the event
was written, not when it happened), ended earlier while a shipper still has a bulk in flight
(``core.ingest_watermark``), so late events are still judged, a scheduler that was down
backfills from its checkpoint, and each event falls in exactly one window per rule.

HA: the rule set is split into partitions; a process runs a partition only while it holds its
lease (a document updated with ``if_seq_no``). Checkpoints are committed with the lease's
sequence number: if the lease was lost (the process stalled past it and a peer took over) the
commit fails and the peer's run counts. A process killed mid-run leaves the checkpoint where it
was; the peer reruns that window after the lease expires, and deterministic alert ids turn any
repeated alert into a no-op.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from core.alerting import alerts_index
from core.errors import Conflict, SocError
from core.es import Store
from core.ingest_watermark import window_end
from core.settings import Settings
from core.timeutil import iso, parse_iso, utcnow
from detections import health
from detections import repository as repo
from detections.alerts import event_alert, group_alert, merge_district_groups, suppressed_alerts
from detections.correlation import run_correlation
from detections.exceptions import compile_all
from detections.fanout import GroupRun, Limits, Outcome, Work
from detections.models import CompiledRule, CycleResult, RuleRunResult

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RunnerConfig:
    prefix: str
    worker_id: str
    interval_seconds: int = 60
    lease_seconds: int = 60
    settle_seconds: float = 5.0
    partitions: int = 8
    batch_size: int = 1000
    max_alerts_per_run: int = 1000
    initial_lookback_seconds: int = 3600
    search_timeout: str = "30s"
    max_window_seconds: int = 7 * 86400
    max_clauses: int = 2500
    search_concurrency: int = 4
    page_size: int = 1000
    max_backoff_seconds: int = 3600
    alert_after_failures: int = 3
    realert_seconds: int = 3600

    @classmethod
    def from_settings(cls, settings: Settings, worker_id: str) -> RunnerConfig:
        d = settings.detect
        return cls(prefix=settings.index_prefix, worker_id=worker_id, interval_seconds=d.interval_seconds,
                   lease_seconds=d.lease_seconds, settle_seconds=d.settle_seconds, partitions=d.partitions,
                   batch_size=d.batch_size, max_alerts_per_run=d.max_alerts_per_run,
                   initial_lookback_seconds=d.initial_lookback_seconds, search_timeout=d.search_timeout,
                   max_window_seconds=d.max_window_seconds, max_clauses=d.max_clauses,
                   search_concurrency=d.search_concurrency,
                   max_backoff_seconds=d.max_backoff_seconds, alert_after_failures=d.alert_after_failures,
                   realert_seconds=d.realert_minutes * 60)


@dataclass
class _Lease:
    partition: int
    seq_no: int
    primary_term: int
    checkpoints: dict[str, dict[str, Any]]


def _acquire(store: Store, cfg: RunnerConfig, partition: int, now: datetime) -> _Lease | None:
    index = repo.state_index(cfg.prefix)
    doc_id = f"partition-{partition}"
    until = iso(now + timedelta(seconds=cfg.lease_seconds))
    existing = store.get(index, doc_id)
    if existing is None:
        body = {"partition": partition, "owner": cfg.worker_id, "lease_until": until, "updated": iso(now),
                "checkpoints": {}}
        try:
            resp = store.put(index, doc_id, body, create=True, refresh=False)
        except Conflict:
            return None
        return _Lease(partition, int(resp["_seq_no"]), int(resp["_primary_term"]), {})
    src = existing["_source"]
    lease_until = src.get("lease_until")
    held_by_other = (src.get("owner") not in (None, cfg.worker_id) and lease_until
                     and parse_iso(lease_until) > now)
    if held_by_other:
        return None
    try:
        resp = store.update(index, doc_id, {"owner": cfg.worker_id, "lease_until": until, "updated": iso(now)},
                            if_seq_no=existing["_seq_no"], if_primary_term=existing["_primary_term"])
    except Conflict:
        return None
    return _Lease(partition, int(resp["_seq_no"]), int(resp["_primary_term"]), dict(src.get("checkpoints") or {}))


def _commit(store: Store, cfg: RunnerConfig, lease: _Lease, now: datetime) -> bool:
    index = repo.state_index(cfg.prefix)
    try:
        # The whole checkpoints object is replaced: partial updates merge objects, and a rule
        # removed from the set must not linger.
        store.put(index, f"partition-{lease.partition}",
                  {"partition": lease.partition, "owner": cfg.worker_id, "lease_until": iso(now), "updated": iso(now),
                   "checkpoints": lease.checkpoints},
                  if_seq_no=lease.seq_no, if_primary_term=lease.primary_term)
        return True
    except Conflict:
        return False


def run_rules_window(store: Store, cfg: RunnerConfig, items: list[tuple[CompiledRule, dict[str, Any], str, str]]
                     ) -> list[RuleRunResult]:
    """Run query rules over their windows: rules sharing indices and window in few named-clause
    searches (``detections.fanout``); alerts written in bulk (no refresh wait)."""
    limits = Limits(max_leaves=cfg.max_clauses, max_rules=cfg.batch_size, page=cfg.page_size,
                    concurrency=cfg.search_concurrency, cap=cfg.max_alerts_per_run,
                    timeout=cfg.search_timeout)
    groups: dict[tuple[str, str, str], list[Work]] = {}
    for rule, doc, lo, hi in items:
        groups.setdefault((rule.indices(cfg.prefix), lo, hi), []).append(
            Work(rule, lo, hi, compile_all(doc.get("exceptions"))))
    # One round trip finds the groups whose window holds any event at all; a quiet cycle ends there.
    keys = list(groups)
    try:
        probes = store.msearch([(indices, {"size": 0, "track_total_hits": 1, "query": {"bool": {"filter": [
            {"range": {"event.ingested": {"gt": lo, "lte": hi}}}]}}}) for indices, lo, hi in keys])
    except SocError:
        probes = [{} for _ in keys]
    results: list[RuleRunResult] = []
    for key, probe in zip(keys, probes, strict=True):
        works = groups[key]
        if "error" not in probe and probe.get("hits", {}).get("total", {}).get("value", 1) == 0 \
                and not (probe.get("_shards") or {}).get("failed"):
            results += [RuleRunResult(w.rule.id, w.lo, w.hi, 0, 0, 0, 0) for w in works]
            continue
        outcomes = GroupRun(store, *key, limits).run(works)
        results += _alert_outcomes(store, cfg, works, outcomes)
    return results


def _alert_outcomes(store: Store, cfg: RunnerConfig, works: list[Work], outcomes: dict[str, Outcome]
                    ) -> list[RuleRunResult]:
    results: dict[str, RuleRunResult] = {}
    pending: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for w in works:
        rule, out = w.rule, outcomes.get(w.rule.id) or Outcome(error="not run")
        if out.error:
            results[rule.id] = RuleRunResult(rule.id, w.lo, w.hi, 0, 0, 0, out.took_ms, out.error)
            continue
        grouped = out.total if out.groups else 0
        results[rule.id] = RuleRunResult(rule.id, w.lo, w.hi, out.total, 0, 0, out.took_ms, grouped=grouped)
        if out.groups:
            pending[rule.id] = [group_alert(rule, g, window_start=w.lo, cap=cfg.max_alerts_per_run)
                                for g in merge_district_groups(out.groups)]
        elif out.hits and rule.suppression is not None and rule.suppression.fields:
            try:
                created = suppressed_alerts(store, cfg.prefix, rule, out.hits)
                results[rule.id] = replace(results[rule.id], alerts_created=created)
            except (SocError, RuntimeError) as exc:
                results[rule.id] = replace(results[rule.id], error=f"writing alerts failed: {exc}")
        elif out.hits:
            pending[rule.id] = [event_alert(rule, h) for h in out.hits]
    flat = [(rid, alert) for rid, alerts in pending.items() for alert in alerts]
    for start in range(0, len(flat), 5000):
        part = flat[start:start + 5000]
        try:
            created_ids = _write(store, cfg.prefix, [a for _rid, a in part])
        except (SocError, RuntimeError) as exc:
            for rid in {rid for rid, _a in part}:
                results[rid] = replace(results[rid], error=f"writing alerts failed: {exc}")
            continue
        for rid, (aid, _doc) in part:
            if aid in created_ids:
                results[rid] = replace(results[rid], alerts_created=results[rid].alerts_created + 1)
    return [results[w.rule.id] for w in works]


def _write(store: Store, prefix: str, alerts: list[tuple[str, dict[str, Any]]]) -> set[str]:
    result = store.bulk_create([(alerts_index(prefix), aid, doc) for aid, doc in alerts])
    problems = result.rejected + result.retry
    if problems:
        raise RuntimeError(f"{len(problems)} alerts not written: {problems[0].error}")
    return {item.id for item in result.items if item.outcome == "created"}


def _window_start(cp: dict[str, Any] | None, doc: dict[str, Any], now: datetime, cfg: RunnerConfig) -> str:
    if cp and cp.get("checkpoint"):
        return str(cp["checkpoint"])
    start = now - timedelta(seconds=cfg.initial_lookback_seconds)
    return iso(start)


def _due(cp: dict[str, Any] | None, doc: dict[str, Any], now: datetime, cfg: RunnerConfig) -> bool:
    if not cp or not cp.get("last_run"):
        return True
    if cp.get("status") == "failing":
        return health.retry_due(cp, now)
    interval = int(doc.get("interval_seconds") or cfg.interval_seconds)
    # A little slack so a job firing every interval never skips a beat on jitter.
    return (now - parse_iso(cp["last_run"])).total_seconds() >= interval * 0.9


def run_cycle(store: Store, cfg: RunnerConfig, *, clock: Clock = utcnow, force: bool = False,
              rule_docs: list[dict[str, Any]] | None = None,
              on_partition_done: Callable[[int], None] | None = None) -> CycleResult:
    """One pass over every partition this process can lease. ``force`` ignores rule intervals."""
    began = time.monotonic()
    repo.ensure_indices(store, cfg.prefix)
    docs = rule_docs if rule_docs is not None else repo.list_rule_docs(store, cfg.prefix, enabled_only=True)
    by_partition: dict[int, list[dict[str, Any]]] = {}
    for doc in docs:
        if doc.get("enabled", True):
            by_partition.setdefault(repo.partition_of(doc["id"], cfg.partitions), []).append(doc)
    order = list(range(cfg.partitions))
    random.Random(cfg.worker_id + iso(clock())).shuffle(order)
    all_results: list[RuleRunResult] = []
    leased: list[int] = []
    for partition in order:
        now = clock()
        lease = _acquire(store, cfg, partition, now)
        if lease is None:
            continue
        leased.append(partition)
        hi_dt = window_end(store, cfg.prefix, now, cfg.settle_seconds)  # never past an event in flight
        hi = iso(hi_dt)
        query_items: list[tuple[CompiledRule, dict[str, Any], str, str]] = []
        corr_items: list[tuple[CompiledRule, dict[str, Any], str, str]] = []
        gaps: dict[str, dict[str, str]] = {}
        for doc in by_partition.get(partition, []):
            cp = lease.checkpoints.get(doc["id"])
            if not force and not _due(cp, doc, now, cfg):
                continue
            lo, gap = health.capped_start(_window_start(cp, doc, now, cfg), hi_dt, cfg.max_window_seconds)
            if lo >= hi:
                continue
            rule = repo.from_doc(doc)
            if not rule.generate:
                continue
            if gap is not None:
                gaps[rule.id] = gap
            (corr_items if rule.kind == "correlation" else query_items).append((rule, doc, lo, hi))
        results = run_rules_window(store, cfg, query_items)
        results += [run_correlation(store, cfg.prefix, rule, lo, hi, cfg.max_alerts_per_run,
                                    realert_seconds=cfg.realert_seconds)
                    for rule, _doc, lo, hi in corr_items]
        stats: dict[str, dict[str, Any]] = {}
        docs_by_id = {d["id"]: d for d in by_partition.get(partition, [])}
        for res in results:
            interval = int(docs_by_id[res.rule_id].get("interval_seconds") or cfg.interval_seconds)
            entry = health.record(lease.checkpoints.get(res.rule_id) or {}, res, now, interval=interval,
                                  max_backoff=cfg.max_backoff_seconds, gap=gaps.get(res.rule_id))
            # Running totals live with the checkpoint (committed under the lease) and are
            # copied to the rule document for display.
            totals = dict(entry.get("totals") or {})
            for key, add in (("runs", 1), ("total_alerts", res.alerts_created), ("overflow", res.overflow),
                             ("grouped", res.grouped), ("errors", 1 if res.error else 0)):
                totals[key] = int(totals.get(key) or 0) + add
            entry["totals"] = totals
            notable = (res.hits or res.error or res.alerts_created or res.rule_id in gaps
                       or entry.get("status") != (lease.checkpoints.get(res.rule_id) or {}).get("status"))
            lease.checkpoints[res.rule_id] = entry
            if not notable and entry.get("stats_written"):
                # Quiet runs only move the checkpoint: the rules list reads last run and window
                # end from the checkpoints, so 3,000 rule documents aren't rewritten every minute.
                continue
            entry["stats_written"] = iso(now)
            stats[res.rule_id] = {**totals, **health.stats_fields(entry), "last_run": iso(now),
                                  "last_duration_ms": res.took_ms, "last_hits": res.hits,
                                  "last_alerts": res.alerts_created, "last_grouped": res.grouped,
                                  "window_end": entry.get("checkpoint"),
                                  **({"last_error": res.error} if res.error else {})}
        live = {d["id"] for d in by_partition.get(partition, [])}
        lease.checkpoints = {k: v for k, v in lease.checkpoints.items() if k in live}
        committed = _commit(store, cfg, lease, clock())
        if committed:
            all_results.extend(results)
            repo.update_stats(store, cfg.prefix, stats)
            for res in results:
                entry = lease.checkpoints[res.rule_id]
                health.raise_health_alerts(store, cfg.prefix, res.rule_id, docs_by_id[res.rule_id].get("title", ""),
                                           entry, gaps.get(res.rule_id), cfg.alert_after_failures)
        if on_partition_done is not None:
            on_partition_done(partition)
    return CycleResult(
        worker=cfg.worker_id, rules_run=len(all_results), partitions=tuple(sorted(leased)),
        alerts_created=sum(r.alerts_created for r in all_results),
        errors=sum(1 for r in all_results if r.error), took_ms=int((time.monotonic() - began) * 1000),
        results=tuple(all_results),
    )
