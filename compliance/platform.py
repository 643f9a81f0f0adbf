"""Platform probes: what the platform's own indices and settings say about MLPS items.

Only ``core.es.Store`` is used (no other domain is imported). Documents other domains write are
read through their published contracts (``core.contracts``): every field named here is one the
producing domain promises, and its contract test fails when the producer renames it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from compliance.models import Evidence, Rule, RuleOutcome
from compliance.pii_probes import pii_access_controlled, pii_minimised
from core import scope as scoping
from core.contracts import AuditRecord, BackupRun, DrillRun, RuleDoc
from core.contracts import get as field
from core.errors import InvalidInput, SocError
from core.es import Store
from core.settings import Settings
from core.timeutil import iso, parse_iso


@dataclass
class PlatformContext:
    store: Store
    settings: Settings
    now: datetime
    current_run: str | None = None


def _ev(ctx: PlatformContext, source: str, data: Any, excerpt: str) -> Evidence:
    raw = json.dumps(data, ensure_ascii=False, default=str, sort_keys=True).encode()
    return Evidence(source=source, excerpt=excerpt[:600], sha256=hashlib.sha256(raw).hexdigest(), time=iso(ctx.now))


def _get(doc: dict[str, Any], dotted: str) -> Any:
    cur: Any = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part, cur.get(dotted) if cur is doc else None)
    return cur


def assets_reporting(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    assets = set(ctx.settings.compliance.assets)
    registry = ctx.settings.index("assets")
    for hit in ctx.store.search(registry, {"size": 1000, "_source": ["host.name", "name"]})["hits"]["hits"]:
        name = _get(hit["_source"], "host.name") or hit["_source"].get("name")
        if isinstance(name, str):
            assets.add(name)
    if not assets:
        return RuleOutcome(False, "no asset is registered (compliance.assets or the assets index)",
                           (_ev(ctx, f"setting:compliance.assets + {registry}", [], "no registered assets"),))
    since = ctx.now - timedelta(hours=float(p.get("max_silence_hours", 24)))
    body = {"size": 0, "query": {"terms": {"host.name": sorted(assets)}},
            "aggs": {"hosts": {"terms": {"field": "host.name", "size": len(assets)},
                               "aggs": {"last": {"max": {"field": "@timestamp"}}}}}}
    resp = ctx.store.search(ctx.settings.index("events-*"), body)
    last = {b["key"]: b["last"].get("value_as_string") for b in resp.get("aggregations", {}).get("hosts", {}).get("buckets", [])}
    silent = sorted(a for a in assets if not last.get(a) or parse_iso(last[a]) < since)
    lines = [f"{a}: last event {last.get(a) or 'never'}" for a in sorted(assets)]
    return RuleOutcome(not silent, f"{len(assets) - len(silent)}/{len(assets)} assets sent events since {iso(since)}"
                       + (f"; silent: {', '.join(silent)}" if silent else ""),
                       (_ev(ctx, f"index:{ctx.settings.index('events-*')} host.name", last, "\n".join(lines)),))


def event_retention(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    """Judged on the deletion policy the platform really applies (``events.retention_days``,
    unset = never delete), not on what ``compliance.event_retention_days`` declares."""
    min_days = float(p.get("min_days", 185))
    resp = ctx.store.search(ctx.settings.index("events-*"),
                            {"size": 0, "aggs": {"oldest": {"min": {"field": "@timestamp"}}}})
    oldest = resp.get("aggregations", {}).get("oldest", {}).get("value_as_string")
    deletes_after = ctx.settings.events.retention_days
    declared = ctx.settings.compliance.event_retention_days
    evidence = (_ev(ctx, f"index:{ctx.settings.index('events-*')} min(@timestamp)",
                    {"oldest": oldest, "events.retention_days": deletes_after, "declared": declared},
                    f"oldest event: {oldest or 'none'}; events.retention_days: {deletes_after or 'unset (kept)'}; "
                    f"compliance.event_retention_days: {declared}"),)
    if deletes_after is not None and deletes_after < min_days:
        return RuleOutcome(False, f"the platform deletes events after {deletes_after} days "
                                  f"(events.retention_days < {min_days:.0f})", evidence)
    if not oldest:
        return RuleOutcome(False, "no events stored", evidence)
    age = (ctx.now - parse_iso(oldest)).total_seconds() / 86400
    if age >= min_days:
        return RuleOutcome(True, f"oldest event is {age:.0f} days old (>= {min_days:.0f})", evidence)
    kept = "never deleted (events.retention_days unset)" if deletes_after is None else \
        f"kept {deletes_after} days (events.retention_days)"
    return RuleOutcome(True, f"oldest event is {age:.0f} days old; the retention setting keeps events for >= "
                             f"{min_days:.0f} days: {kept}", evidence)


def event_fields(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    sample = int(p.get("sample", 500))
    resp = ctx.store.search(ctx.settings.index("events-*"), {"size": sample, "sort": [{"@timestamp": {"order": "desc", "unmapped_type": "date"}}]})
    docs = [h["_source"] for h in resp["hits"]["hits"]]
    if not docs:
        return RuleOutcome(False, "no events stored", (_ev(ctx, "index:events-*", [], "no events"),))

    def complete(d: dict[str, Any]) -> bool:
        kind = _get(d, "event.action") or _get(d, "event.category") or _get(d, "event.type") or _get(d, "event.dataset")
        who = _get(d, "user.name") or _get(d, "source.ip") or _get(d, "host.name")
        return bool(d.get("@timestamp") and kind and who)

    ratio = sum(1 for d in docs if complete(d)) / len(docs)
    outcomes = sum(1 for d in docs if _get(d, "event.outcome"))
    ok = ratio >= float(p.get("min_ratio", 0.5)) and outcomes > 0
    text = f"{ratio:.0%} of {len(docs)} recent events have time, type and subject; {outcomes} carry event.outcome"
    return RuleOutcome(ok, text, (_ev(ctx, f"index:{ctx.settings.index('events-*')} latest {len(docs)}", docs[:3], text),))


def detections_active(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    index = ctx.settings.index(str(RuleDoc.INDEX))
    enabled = ctx.store.count(index, {"term": {RuleDoc.enabled: True}})
    last = None
    if enabled:
        resp = ctx.store.search(index, {"size": 0, "aggs": {"last": {"max": {"field": RuleDoc.last_run}}}})
        last = resp.get("aggregations", {}).get("last", {}).get("value_as_string")
    idle = timedelta(minutes=float(p.get("max_idle_minutes", 60)))
    recent = last is not None and ctx.now - parse_iso(last) <= idle
    ok = enabled >= int(p.get("min_enabled", 1)) and recent
    text = f"{enabled} enabled rule(s) in {index}; last run {last or 'never recorded'} ({RuleDoc.last_run})"
    return RuleOutcome(ok, text, (_ev(ctx, f"index:{index}", {"enabled": enabled, "last_run": last}, text),))


def audit_trail(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    index = ctx.settings.index(str(AuditRecord.INDEX))
    size = int(p.get("chain_sample", 200))
    by_seq = [{AuditRecord.seq: {"order": "desc", "unmapped_type": "long"}}]
    # The chain is one for the whole platform: a department's slice of it has gaps by design. Only
    # its structure (seq, hashes, times, verification outcome) is read into the evidence.
    with scoping.system():
        resp = ctx.store.search(index, {"size": size, "sort": by_seq,
                                        "_source": [AuditRecord.seq, AuditRecord.hash, AuditRecord.prev_hash,
                                                    AuditRecord.time]})
    docs = [h["_source"] for h in resp["hits"]["hits"]]
    if not docs:
        return RuleOutcome(False, f"no audit records in {index}", (_ev(ctx, f"index:{index}", [], "empty"),))
    newest = docs[0].get(AuditRecord.time)
    problems: list[str] = []
    if not newest or ctx.now - parse_iso(str(newest)) > timedelta(days=float(p.get("max_age_days", 7))):
        problems.append(f"newest record is from {newest}")
    # Structure only (the HMAC secret stays with the audit module): consecutive seq and linked hashes.
    for newer, older in zip(docs, docs[1:], strict=False):
        if newer.get(AuditRecord.seq) != (older.get(AuditRecord.seq) or 0) + 1:
            problems.append(f"gap between seq {older.get(AuditRecord.seq)} and {newer.get(AuditRecord.seq)}")
            break
        if newer.get(AuditRecord.prev_hash) != older.get(AuditRecord.hash):
            problems.append(f"record {newer.get(AuditRecord.seq)} does not link to {older.get(AuditRecord.seq)}")
            break
    # The audit module records its own verifications (`soc audit verify`) in the trail itself.
    with scoping.system():
        verify = ctx.store.search(index, {"size": 1, "query": {"term": {AuditRecord.action: AuditRecord.VERIFY_ACTION}},
                                          "sort": by_seq})["hits"]["hits"]
    verified = ""
    if verify:
        last = verify[0]["_source"]
        when, outcome = last.get(AuditRecord.time), last.get(AuditRecord.outcome)
        verified = f"; last verification {when}: {outcome}"
        if outcome != AuditRecord.SUCCESS:
            problems.append(f"the last verification ({when}) found problems")
    text = (f"{len(docs)} newest records checked, newest {newest}" + verified
            + (f"; {'; '.join(problems)}" if problems else "; chain linked"))
    return RuleOutcome(not problems, text, (_ev(ctx, f"index:{index} seq desc",
                                                [d.get(AuditRecord.hash) for d in docs], text),))


def _latest(ctx: PlatformContext, index: str, status_field: str, good: str, date_field: str) -> str | None:
    """The newest ``date_field`` of a document whose ``status_field`` is ``good``."""
    try:
        resp = ctx.store.search(index, {"size": 1, "query": {"term": {status_field: good}},
                                        "sort": [{date_field: {"order": "desc", "unmapped_type": "date"}}]})
    except SocError:
        return None  # the producing domain never wrote here
    hits = resp["hits"]["hits"]
    stamp = field(hits[0]["_source"], date_field) if hits else None
    return str(stamp) if stamp else None


def _recent(ctx: PlatformContext, index: str, stamp: str | None, how: str, limit: timedelta, label: str) -> RuleOutcome:
    ok = stamp is not None and ctx.now - parse_iso(stamp) <= limit
    text = (f"latest {label}: {stamp or 'none'} (from {index}, {how}); "
            f"required within {limit.total_seconds() / 3600:.0f} h")
    return RuleOutcome(ok, text, (_ev(ctx, f"index:{index}", {"latest": stamp, "field": how}, text),))


def backups_recent(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    index = ctx.settings.index(str(BackupRun.INDEX))
    stamp = _latest(ctx, index, BackupRun.status, BackupRun.SUCCESS, BackupRun.ended)
    return _recent(ctx, index, stamp, f"{BackupRun.ended} of {BackupRun.status}={BackupRun.SUCCESS}",
                   timedelta(hours=float(p.get("max_age_hours", 48))), "successful backup")


def offsite_recent(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    index = ctx.settings.index(str(BackupRun.INDEX))
    stamp = _latest(ctx, index, BackupRun.offsite_status, BackupRun.SUCCESS, BackupRun.ended)
    return _recent(ctx, index, stamp, f"{BackupRun.ended} of {BackupRun.offsite_status}={BackupRun.SUCCESS}",
                   timedelta(hours=float(p.get("max_age_hours", 48))), "backup copied off-site")


def drills_recent(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    index = ctx.settings.index(str(DrillRun.INDEX))
    stamp = _latest(ctx, index, DrillRun.status, DrillRun.PASSED, DrillRun.ended)
    outcome = _recent(ctx, index, stamp, f"{DrillRun.ended} of {DrillRun.status}={DrillRun.PASSED}",
                      timedelta(days=float(p.get("max_age_days", 90))), "passed drill")
    trend, series = _objective_trend(ctx, index)
    if not trend:
        return outcome
    text = f"{outcome.detail}; {trend}"
    return RuleOutcome(outcome.passed, text, (*outcome.evidence,
                                              _ev(ctx, f"index:{index} rpo/rto per plan", series, trend)))


def _objective_trend(ctx: PlatformContext, index: str) -> tuple[str, dict[str, Any]]:
    """Per plan, the newest drills' RPO/RTO in order with the objective line they are held to."""
    d = DrillRun
    try:
        hits = ctx.store.search(index, {"size": 200, "sort": [{d.started: {"order": "desc", "unmapped_type": "date"}}],
                                        "_source": [d.plan_id, d.started, d.status, d.rpo_seconds, d.rto_seconds,
                                                    d.objectives]})["hits"]["hits"]
    except SocError:
        return "", {}
    series: dict[str, Any] = {}
    for h in reversed(hits):
        doc = h["_source"]
        if doc.get(d.status) not in (d.PASSED, d.FAILED):
            continue
        plan = series.setdefault(str(doc.get(d.plan_id)), {"objectives": {"rpo_seconds": field(doc, d.rpo_objective),
                                                                        "rto_seconds": field(doc, d.rto_objective)},
                                                           "drills": []})
        plan["drills"].append({"started": doc.get(d.started), "status": doc.get(d.status),
                               "rpo_seconds": doc.get(d.rpo_seconds), "rto_seconds": doc.get(d.rto_seconds)})
    parts = []
    for plan_id, data in sorted(series.items()):
        obj, last = data["objectives"], data["drills"][-5:]
        rpo = ", ".join("-" if x["rpo_seconds"] is None else f"{x['rpo_seconds']:.0f}" for x in last)
        rto = ", ".join(f"{x['rto_seconds']:.0f}" for x in last if x.get("rto_seconds") is not None)
        parts.append(f"plan {plan_id}: RPO s [{rpo}] vs objective {obj.get('rpo_seconds')}, "
                     f"RTO s [{rto}] vs objective {obj.get('rto_seconds')}")
    return ("RPO/RTO over the latest drills — " + "; ".join(parts)) if parts else "", series


def auth_settings(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    api = ctx.settings.api
    values = {"lockout_threshold": api.lockout_threshold, "lockout_minutes": api.lockout_minutes,
              "idle_timeout_minutes": api.idle_timeout_minutes, "password_min_length": api.password_min_length}
    problems = []
    if api.lockout_threshold > int(p.get("max_lockout_threshold", 5)):
        problems.append(f"lockout_threshold {api.lockout_threshold} > {p.get('max_lockout_threshold', 5)}")
    if api.lockout_minutes < int(p.get("min_lockout_minutes", 10)):
        problems.append(f"lockout_minutes {api.lockout_minutes} < {p.get('min_lockout_minutes', 10)}")
    if api.idle_timeout_minutes > int(p.get("max_idle_minutes", 30)):
        problems.append(f"idle_timeout_minutes {api.idle_timeout_minutes} > {p.get('max_idle_minutes', 30)}")
    if api.password_min_length < int(p.get("min_password_length", 8)):
        problems.append(f"password_min_length {api.password_min_length} < {p.get('min_password_length', 8)}")
    text = ", ".join(f"{k}={v}" for k, v in values.items())
    return RuleOutcome(not problems, "; ".join(problems) or text, (_ev(ctx, "settings:api", values, text),))


def compliance_regular(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    index = ctx.settings.index("compliance-runs")
    since = ctx.now - timedelta(days=float(p.get("max_age_days", 31)))
    query: dict[str, Any] = {"bool": {"filter": [{"term": {"status": "finished"}},
                                                 {"range": {"finished_at": {"gte": iso(since)}}}]}}
    if ctx.current_run:
        query["bool"]["must_not"] = [{"term": {"id": ctx.current_run}}]
    resp = ctx.store.search(index, {"size": 1, "query": query, "sort": [{"finished_at": {"order": "desc", "unmapped_type": "date"}}]})
    hits = resp["hits"]["hits"]
    last = hits[0]["_source"].get("finished_at") if hits else None
    text = f"latest finished compliance run before this one: {last or 'none'} (required since {iso(since)})"
    return RuleOutcome(bool(hits), text, (_ev(ctx, f"index:{index}", {"latest": last}, text),))


PROBES: dict[str, Callable[[PlatformContext, dict[str, Any]], RuleOutcome]] = {
    "assets_reporting": assets_reporting, "event_retention": event_retention, "event_fields": event_fields,
    "detections_active": detections_active, "audit_trail": audit_trail, "backups_recent": backups_recent,
    "drills_recent": drills_recent, "offsite_recent": offsite_recent, "auth_settings": auth_settings, "compliance_regular": compliance_regular,
    "pii_minimised": pii_minimised, "pii_access_controlled": pii_access_controlled,
}


def evaluate(ctx: PlatformContext, rule: Rule) -> RuleOutcome:
    probe = PROBES.get(str(rule.params.get("probe")))
    if probe is None:
        raise InvalidInput(f"Unknown platform probe {rule.params.get('probe')!r}; known: {', '.join(sorted(PROBES))}.")
    return probe(ctx, rule.params)
