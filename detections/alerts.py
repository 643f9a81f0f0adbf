"""Turning matching events into alert documents (``core.alerting.build_alert``) and writing them.

Alert ids are ``stable_id("alert", rule id, key)`` where key is the event id, or for suppressed
rules ``group values|window start``, or for correlations ``group values|first event time``, so
a rerun over the same window creates nothing new.

Departments: an alert is its event's department (``organization.id``), and an alert that stands
for several events (suppressed, grouped past the cap, correlations) never mixes departments: the
department is part of every group. It joins the key only when it is not the district's, so the
ids of alerts raised before departments existed (all the district's) stay the same.

Fields added to ``build_alert``'s document (read by the triage API):
``rule.version``/``rule.type``, ``threat.technique.id``/``threat.tactic.name`` (ATT&CK from the
rule tags), ``alert.group_key``, ``alert.suppressed_count``/``first_seen``/``last_seen`` (set
for suppressed and correlation alerts) and ``alert.last_event_ingested`` (suppression watermark).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.alerting import alerts_index, build_alert
from core.errors import Conflict
from core.es import Store
from core.schema import get_field
from core.scope import DISTRICT, ORG_FIELD, organization_of
from core.timeutil import iso, parse_iso, utcnow
from detections.models import CompiledRule

ENTITY_FIELDS = ("host.name", "host.ip", "user.name", "source.ip", "source.port", "destination.ip",
                 "destination.port", "process.name", "process.pid", "process.command_line")


def entities(event: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted in ENTITY_FIELDS:
        value = get_field(event, dotted)
        if value is None:
            continue
        if isinstance(value, list):
            value = value[0] if value else None
            if value is None:
                continue
        top, _, leaf = dotted.partition(".")
        out.setdefault(top, {})[leaf] = value
    return out


def org_of(src: Mapping[str, Any] | None) -> str:
    """An event's (or alert's) department; none named is the district's."""
    return organization_of(src) or DISTRICT


def org_key(org: str, grouped_by: tuple[str, ...] | list[str] = ()) -> str:
    """The part of a group key that keeps departments apart (empty for the district, and when the
    rule groups by ``organization.id`` itself)."""
    return "" if org == DISTRICT or ORG_FIELD in grouped_by else f"|org={org}"


def _threat(rule: CompiledRule) -> dict[str, Any]:
    return {"technique": {"id": rule.techniques}, "tactic": {"name": rule.tactics}}


def event_alert(rule: CompiledRule, hit: Mapping[str, Any], *, key: str | None = None,
                reason: str | None = None) -> tuple[str, dict[str, Any]]:
    src = hit.get("_source") or {}
    event = src.get("event") or {}
    alert_id, doc = build_alert(
        rule_id=rule.id, rule_name=rule.title, level=rule.level,
        reason=reason or f"{rule.title}: event {hit.get('_id')} matched",
        key=key or str(hit.get("_id")), tags=list(rule.tags), entities=entities(src), event=src,
        event_ref={"id": hit.get("_id"), "index": hit.get("_index"), "ingested": event.get("ingested")},
        timestamp=iso(utcnow()),
    )
    doc["rule"].update({"version": rule.version, "type": rule.kind})
    doc["threat"] = _threat(rule)
    ts = src.get("@timestamp")
    if ts:
        doc["alert"]["first_seen"] = doc["alert"]["last_seen"] = ts
    return alert_id, doc


def write_alerts(store: Store, prefix: str, alerts: list[tuple[str, dict[str, Any]]]) -> tuple[int, int]:
    """Create alerts; returns (created, already there). Raises if any was rejected."""
    if not alerts:
        return 0, 0
    index = alerts_index(prefix)
    result = store.bulk_create([(index, aid, doc) for aid, doc in alerts], refresh="wait_for")
    problems = result.rejected + result.retry
    if problems:
        raise RuntimeError(f"{len(problems)} alerts not written: {problems[0].error}")
    return result.created, result.exists


def suppressed_alerts(store: Store, prefix: str, rule: CompiledRule, hits: list[dict[str, Any]]) -> int:
    """Group hits by the suppression fields within clock-aligned windows; one alert per group.

    The surviving alert counts the others in ``alert.suppressed_count``; ``last_event_ingested``
    makes a rerun of the same window count nothing twice (no scripts on the core node, so
    updates are read-modify-write with ``if_seq_no``).
    """
    assert rule.suppression is not None
    window = max(1, rule.suppression.window_seconds)
    groups: dict[str, list[dict[str, Any]]] = {}
    for hit in hits:
        src = hit.get("_source") or {}
        values = [str(get_field(src, f)) for f in rule.suppression.fields]
        ts = src.get("@timestamp") or (src.get("event") or {}).get("ingested")
        try:
            epoch = int(parse_iso(str(ts)).timestamp())
        except ValueError:
            epoch = 0
        bucket = epoch - epoch % window
        org = org_key(org_of(src), rule.suppression.fields)
        groups.setdefault("|".join(values) + org + f"|{bucket}", []).append(hit)
    created = 0
    index = alerts_index(prefix)
    for key, group in groups.items():
        group.sort(key=lambda h: ((h["_source"].get("event") or {}).get("ingested") or "", h["_id"]))
        created += _upsert_group(store, index, rule, key, group)
    return created


def _ingested(hit: Mapping[str, Any]) -> str:
    return str(((hit.get("_source") or {}).get("event") or {}).get("ingested") or "")


def _upsert_group(store: Store, index: str, rule: CompiledRule, key: str, group: list[dict[str, Any]]) -> int:
    first = group[0]
    alert_id, doc = event_alert(rule, first, key=key,
                                reason=f"{rule.title}: {len(group)} matching events grouped by "
                                       f"{', '.join(rule.suppression.fields if rule.suppression else ())}")
    times = [str(h["_source"].get("@timestamp") or "") for h in group]
    doc["alert"].update({"group_key": key, "suppressed_count": len(group) - 1, "first_seen": min(times),
                         "last_seen": max(times), "last_event_ingested": _ingested(group[-1])})
    for _attempt in range(5):
        existing = store.get(index, alert_id)
        if existing is None:
            try:
                store.put(index, alert_id, doc, create=True)
                return 1
            except Conflict:
                continue
        src = existing["_source"]["alert"]
        watermark = str(src.get("last_event_ingested") or "")
        fresh = [h for h in group if _ingested(h) > watermark]
        if not fresh:
            return 0
        fresh_times = [str(h["_source"].get("@timestamp") or "") for h in fresh]
        partial = {"alert": {
            "suppressed_count": int(src.get("suppressed_count") or 0) + len(fresh),
            "first_seen": min([str(src.get("first_seen") or fresh_times[0])] + fresh_times),
            "last_seen": max([str(src.get("last_seen") or "")] + fresh_times),
            "last_event_ingested": _ingested(fresh[-1]), "updated": iso(utcnow()),
        }}
        try:
            store.update(index, alert_id, partial, if_seq_no=existing["_seq_no"],
                         if_primary_term=existing["_primary_term"])
            return 0
        except Conflict:
            continue
    return 0


def merge_district_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups whose keys differ only in naming the district or no department at all are one
    group (both are the district's, and both give the same alert key)."""
    merged: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
    for g in groups:
        key = dict(g.get("key") or {})
        if ORG_FIELD in key and key[ORG_FIELD] in (None, DISTRICT):
            key[ORG_FIELD] = DISTRICT
        ident = tuple(sorted((k, str(v)) for k, v in key.items()))
        seen = merged.get(ident)
        if seen is None:
            merged[ident] = {**g, "key": key}
            continue
        seen["count"] = int(seen["count"]) + int(g["count"])
        firsts = [t for t in (seen.get("first"), g.get("first")) if t]
        lasts = [t for t in (seen.get("last"), g.get("last")) if t]
        seen["first"] = min(firsts) if firsts else None
        seen["last"] = max(lasts) if lasts else None
        seen["sample"] = seen.get("sample") or g.get("sample")
    return list(merged.values())


def group_alert(rule: CompiledRule, group: Mapping[str, Any], *, window_start: str, cap: int
                ) -> tuple[str, dict[str, Any]]:
    """One alert for a group of matches beyond the per-run cap (same rule, same entity, same
    department): the analyst sees how many events matched and when, instead of losing them."""
    raw = group.get("key") or {}
    sample = group.get("sample") or {}
    org = str(raw.get(ORG_FIELD) or org_of(sample.get("_source")))
    key_values = {k: v for k, v in raw.items() if v is not None and k != ORG_FIELD}
    label = ", ".join(f"{k}={v}" for k, v in sorted(key_values.items())) or "no entity fields"
    count = int(group["count"])
    key = ("group|" + "|".join(f"{k}={v}" for k, v in sorted(key_values.items())) + org_key(org)
           + f"|{window_start}")
    reason = (f"{rule.title}: {count} matching events for {label} (more than the per-run limit of {cap} "
              "alerts; grouped)")
    alert_id, doc = event_alert(rule, sample, key=key, reason=reason)
    doc["organization"] = {"id": org}
    first, last = group.get("first"), group.get("last")
    doc["alert"].update({"group_key": key, "grouped": True, "event_count": count, "suppressed_count": count - 1,
                         **({"first_seen": first} if first else {}), **({"last_seen": last} if last else {})})
    return alert_id, doc
