"""Platform probes: what the platform's own indices and settings say about MLPS items.

Only ``core.es.Store`` is used (no other domain is imported); where another domain's document
layout is not fixed, the probe reads the index mapping to find date and status fields.
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
from core.errors import InvalidInput, SocError
from core.es import Store
from core.settings import Settings
from core.timeutil import iso, parse_iso

GOOD_STATUS = {"success", "succeeded", "ok", "passed", "pass", "completed", "complete", "done", "finished"}


@dataclass
class PlatformContext:
    store: Store
    settings: Settings
    now: datetime
    current_run: str | None = None


def _ev(ctx: PlatformContext, source: str, data: Any, excerpt: str) -> Evidence:
    raw = json.dumps(data, ensure_ascii=False, default=str, sort_keys=True).encode()
    return Evidence(source=source, excerpt=excerpt[:600], sha256=hashlib.sha256(raw).hexdigest(), time=iso(ctx.now))


def _date_fields(ctx: PlatformContext, index: str) -> list[str]:
    """Date fields of an index (dotted paths), from its mapping; empty when the index is missing."""
    try:
        mapping = ctx.store.get_mapping(index)
    except SocError:
        return []
    found: list[str] = []

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            if spec.get("type") == "date":
                found.append(path)
            if "properties" in spec:
                walk(spec["properties"], path + ".")

    for body in mapping.values():
        walk(body.get("mappings", {}).get("properties", {}), "")
    return sorted(set(found))


def _pick(fields: list[str], preferred: tuple[str, ...]) -> str | None:
    for name in preferred:
        if name in fields:
            return name
    return fields[0] if fields else None


def _get(doc: dict[str, Any], dotted: str) -> Any:
    cur: Any = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part, cur.get(dotted) if cur is doc else None)
    return cur


def _good(doc: dict[str, Any]) -> bool:
    for key in ("status", "outcome", "result", "state"):
        value = _get(doc, key)
        if isinstance(value, str):
            return value.lower() in GOOD_STATUS
    for key in ("passed", "ok", "success"):
        if isinstance(doc.get(key), bool):
            return bool(doc[key])
    return False


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
    min_days = float(p.get("min_days", 185))
    resp = ctx.store.search(ctx.settings.index("events-*"),
                            {"size": 0, "aggs": {"oldest": {"min": {"field": "@timestamp"}}}})
    oldest = resp.get("aggregations", {}).get("oldest", {}).get("value_as_string")
    setting = ctx.settings.compliance.event_retention_days
    evidence = (_ev(ctx, f"index:{ctx.settings.index('events-*')} min(@timestamp)", {"oldest": oldest, "setting": setting},
                    f"oldest event: {oldest or 'none'}; compliance.event_retention_days: {setting}"),)
    if oldest:
        age = (ctx.now - parse_iso(oldest)).total_seconds() / 86400
        if age >= min_days:
            return RuleOutcome(True, f"oldest event is {age:.0f} days old (>= {min_days:.0f})", evidence)
        if setting is not None and setting >= min_days:
            return RuleOutcome(True, f"oldest event is {age:.0f} days old; the retention setting ({setting} days) keeps "
                                     f"events for >= {min_days:.0f} days", evidence)
        return RuleOutcome(False, f"oldest event is only {age:.0f} days old and no retention setting guarantees "
                                  f"{min_days:.0f} days", evidence)
    return RuleOutcome(False, "no events stored", evidence)


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
    index = ctx.settings.index("rules")
    enabled = ctx.store.count(index, {"bool": {"should": [{"term": {"enabled": True}}, {"term": {"status": "enabled"}}],
                                               "minimum_should_match": 1}})
    fields = [f for f in _date_fields(ctx, index) if "run" in f or "checkpoint" in f or "executed" in f]
    last = None
    if fields:
        aggs = {f"f{i}": {"max": {"field": f}} for i, f in enumerate(fields)}
        values = ctx.store.search(index, {"size": 0, "aggs": aggs}).get("aggregations", {})
        stamps = [v.get("value_as_string") for v in values.values() if v.get("value_as_string")]
        last = max(stamps, key=parse_iso) if stamps else None
    idle = timedelta(minutes=float(p.get("max_idle_minutes", 60)))
    recent = last is not None and ctx.now - parse_iso(last) <= idle
    ok = enabled >= int(p.get("min_enabled", 1)) and recent
    text = f"{enabled} enabled rule(s) in {index}; last run {last or 'never recorded'} (fields: {', '.join(fields) or 'none'})"
    return RuleOutcome(ok, text, (_ev(ctx, f"index:{index}", {"enabled": enabled, "last_run": last}, text),))


def audit_trail(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    index = ctx.settings.index("audit")
    size = int(p.get("chain_sample", 200))
    resp = ctx.store.search(index, {"size": size, "sort": [{"seq": {"order": "desc", "unmapped_type": "long"}}]})
    docs = [h["_source"] for h in resp["hits"]["hits"]]
    if not docs:
        return RuleOutcome(False, f"no audit records in {index}", (_ev(ctx, f"index:{index}", [], "empty"),))
    newest = docs[0].get("time") or docs[0].get("@timestamp")
    problems: list[str] = []
    if not newest or ctx.now - parse_iso(str(newest)) > timedelta(days=float(p.get("max_age_days", 7))):
        problems.append(f"newest record is from {newest}")
    # Structure only (the HMAC secret stays with the audit module): consecutive seq and linked hashes.
    for newer, older in zip(docs, docs[1:], strict=False):
        if newer.get("seq") != (older.get("seq") or 0) + 1:
            problems.append(f"gap between seq {older.get('seq')} and {newer.get('seq')}")
            break
        if newer.get("prev_hash") != older.get("hash"):
            problems.append(f"record {newer.get('seq')} does not link to {older.get('seq')}")
            break
    # The audit module records its own verifications (`soc audit verify`) in the trail itself.
    verify = ctx.store.search(index, {"size": 1, "query": {"term": {"action": "audit.verify"}},
                                      "sort": [{"seq": {"order": "desc", "unmapped_type": "long"}}]})["hits"]["hits"]
    verified = ""
    if verify:
        last = verify[0]["_source"]
        verified = f"; last verification {last.get('time')}: {last.get('outcome')}"
        if last.get("outcome") != "success":
            problems.append(f"the last verification ({last.get('time')}) found problems")
    text = (f"{len(docs)} newest records checked, newest {newest}" + verified
            + (f"; {'; '.join(problems)}" if problems else "; chain linked"))
    return RuleOutcome(not problems, text, (_ev(ctx, f"index:{index} seq desc", [d.get("hash") for d in docs], text),))


def _latest_good(ctx: PlatformContext, index: str, preferred: tuple[str, ...]) -> tuple[str | None, str | None, int]:
    fields = _date_fields(ctx, index)
    field = _pick(fields, preferred)
    if field is None:
        return None, None, 0
    resp = ctx.store.search(index, {"size": 200, "sort": [{field: {"order": "desc"}}]})
    hits = [h["_source"] for h in resp["hits"]["hits"]]
    for doc in hits:
        if _good(doc):
            stamp = _get(doc, field)
            return (str(stamp) if stamp else None), field, len(hits)
    return None, field, len(hits)


def _recent(ctx: PlatformContext, index: str, limit: timedelta, label: str) -> RuleOutcome:
    stamp, field, seen = _latest_good(ctx, index, ("ended", "finished_at", "ended_at", "completed_at", "@timestamp",
                                                   "time", "started", "started_at"))
    ok = stamp is not None and ctx.now - parse_iso(stamp) <= limit
    text = (f"latest successful {label}: {stamp or 'none'} ({seen} records read from {index}, by {field or 'no date field'}); "
            f"required within {limit.total_seconds() / 3600:.0f} h")
    return RuleOutcome(ok, text, (_ev(ctx, f"index:{index}", {"latest": stamp, "field": field}, text),))


def backups_recent(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    return _recent(ctx, ctx.settings.index("backups-runs"), timedelta(hours=float(p.get("max_age_hours", 48))), "backup")


def offsite_recent(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    index = ctx.settings.index("backups-runs")
    field = _pick(_date_fields(ctx, index), ("ended", "finished_at", "@timestamp", "started"))
    limit = timedelta(hours=float(p.get("max_age_hours", 48)))
    latest = None
    if field:
        resp = ctx.store.search(index, {"size": 1, "query": {"terms": {"offsite.status": sorted(GOOD_STATUS)}},
                                        "sort": [{field: {"order": "desc"}}]})
        hits = resp["hits"]["hits"]
        latest = _get(hits[0]["_source"], field) if hits else None
    ok = latest is not None and ctx.now - parse_iso(str(latest)) <= limit
    text = (f"latest backup copied off-site: {latest or 'none'} (from {index}); required within "
            f"{limit.total_seconds() / 3600:.0f} h")
    return RuleOutcome(ok, text, (_ev(ctx, f"index:{index} offsite.status", {"latest": latest}, text),))


def drills_recent(ctx: PlatformContext, p: dict[str, Any]) -> RuleOutcome:
    index = ctx.settings.index("backups-drills")
    outcome = _recent(ctx, index, timedelta(days=float(p.get("max_age_days", 90))), "drill")
    trend, series = _objective_trend(ctx, index)
    if not trend:
        return outcome
    text = f"{outcome.detail}; {trend}"
    return RuleOutcome(outcome.passed, text, (*outcome.evidence,
                                              _ev(ctx, f"index:{index} rpo/rto per plan", series, trend)))


def _objective_trend(ctx: PlatformContext, index: str) -> tuple[str, dict[str, Any]]:
    """Per plan, the newest drills' RPO/RTO in order with the objective line they are held to."""
    try:
        hits = ctx.store.search(index, {"size": 200, "sort": [{"started": {"order": "desc", "unmapped_type": "date"}}],
                                        "_source": ["plan_id", "started", "status", "rpo_seconds", "rto_seconds",
                                                    "objectives"]})["hits"]["hits"]
    except SocError:
        return "", {}
    series: dict[str, Any] = {}
    for h in reversed(hits):
        d = h["_source"]
        if d.get("status") not in ("passed", "failed"):
            continue
        plan = series.setdefault(str(d.get("plan_id")), {"objectives": d.get("objectives") or {}, "drills": []})
        plan["drills"].append({k: d.get(k) for k in ("started", "status", "rpo_seconds", "rto_seconds")})
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
