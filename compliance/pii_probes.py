"""Platform probes for 个人信息保护 (GB/T 22239 L2-CES1-22/23, L3-CES1-34/35).

They read the published document model, not the privacy domain: the ``pii.*`` tags the
collectors write on events (``core.pii``: types, fields, locations, policy_violation), the
policy in force (``core.pii.config``), the permission table and the audit records of unmasking
(``privacy.grant`` / ``privacy.unmask``). Evidence is hashed like every platform probe's.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from compliance.models import Evidence, RuleOutcome
from core.contracts import AuditRecord
from core.errors import SocError
from core.permissions import TABLE
from core.pii.config import policy_from_settings
from core.pii.detectors import DETECTORS
from core.schema import events_pattern
from core.timeutil import iso


def _ev(ctx: Any, source: str, data: Any, excerpt: str) -> Evidence:
    raw = json.dumps(data, ensure_ascii=False, default=str, sort_keys=True).encode()
    return Evidence(source=source, excerpt=excerpt[:600], sha256=hashlib.sha256(raw).hexdigest(), time=iso(ctx.now))


def _inventory(ctx: Any, since: str) -> dict[str, Any]:
    body = {"size": 0, "query": {"bool": {"filter": [{"exists": {"field": "pii.locations"}},
                                                     {"range": {"@timestamp": {"gte": since}}}]}},
            "aggs": {"where": {"terms": {"field": "pii.locations", "size": 200}},
                     "datasets": {"terms": {"field": "event.dataset", "size": 200}},
                     "violations": {"filter": {"term": {"pii.policy_violation": True}},
                                    "aggs": {"datasets": {"terms": {"field": "event.dataset", "size": 50}}}}}}
    try:
        resp = ctx.store.search(events_pattern(ctx.settings.index_prefix), body)
    except SocError:
        return {"events": 0, "locations": {}, "datasets": {}, "violations": {}}
    aggs = resp.get("aggregations") or {}

    def buckets(agg: dict[str, Any]) -> dict[str, int]:
        return {str(b["key"]): int(b["doc_count"]) for b in (agg or {}).get("buckets", [])}

    return {"events": resp["hits"]["total"]["value"], "locations": buckets(aggs.get("where", {})),
            "datasets": buckets(aggs.get("datasets", {})),
            "violations": buckets((aggs.get("violations") or {}).get("datasets", {}))}


def pii_minimised(ctx: Any, p: dict[str, Any]) -> RuleOutcome:
    """Only what the business needs is kept: scanning is on, sensitive kinds are never kept in clear,
    and no personal information showed up in a dataset that must carry none."""
    settings = ctx.settings
    policy = policy_from_settings(settings)
    since = iso(ctx.now - timedelta(days=float(p.get("window_days", 30))))
    inv = _inventory(ctx, since)
    problems: list[str] = []
    if not settings.pii.enabled:
        problems.append("personal-information scanning at ingest is switched off (SOC_PII_ENABLED=false)")
    sensitive = {d.name for d in DETECTORS if d.sensitive}
    kept = sorted(loc for loc in inv["locations"]
                  if loc.rsplit("|", 1)[-1] in sensitive and any(
                      policy.action(ds, *loc.rsplit("|", 1)) == "keep" for ds in inv["datasets"] or ["*"]))
    kept += [f"rule {r.dataset}/{r.field}/{r.type}" for r in policy.rules
             if r.action == "keep" and r.type in sensitive]
    if kept:
        problems.append("sensitive personal information kept in clear: " + ", ".join(kept[:10]))
    if inv["violations"]:
        problems.append("personal information in datasets that must carry none: "
                        + ", ".join(f"{k} ({v})" for k, v in inv["violations"].items()))
    text = (f"{inv['events']} events with personal information since {since} in {len(inv['datasets'])} datasets; "
            f"policy: {len(policy.rules)} rules, forbidden datasets {list(policy.forbidden_datasets) or '-'}")
    return RuleOutcome(not problems, "; ".join(problems) or text, (
        _ev(ctx, "settings:pii.policy", policy.to_dict(), "policy in force: " + ", ".join(
            f"{r.type}@{r.dataset}/{r.field}={r.action}" for r in policy.rules)),
        _ev(ctx, f"index:{events_pattern(settings.index_prefix)} pii.*", inv, text)))


def pii_access_controlled(ctx: Any, p: dict[str, Any]) -> RuleOutcome:
    """Unauthorised access is prevented: display masking for everyone, unmasking held by the security
    administrator only, and every unmask in the window carries a grant with a case id."""
    holders = sorted(TABLE.get("privacy.unmask", frozenset()))
    allowed = set(p.get("unmask_roles", ["admin"]))
    since = iso(ctx.now - timedelta(days=float(p.get("window_days", 30))))
    a = AuditRecord
    index = ctx.settings.index(str(a.INDEX))
    records: list[dict[str, Any]] = []
    try:
        resp = ctx.store.search(index, {"size": 500, "sort": [{a.time: {"order": "desc", "unmapped_type": "date"}}],
                                        "query": {"bool": {"filter": [
                                            {"terms": {a.action: ["privacy.unmask", "privacy.grant"]}},
                                            {"range": {a.time: {"gte": since}}}]}}})
        records = [h["_source"] for h in resp["hits"]["hits"]]
    except SocError:
        records = []
    unmasks = [r for r in records if r.get(a.action) == "privacy.unmask"]
    who = [{"time": r.get(a.time), "user": r.get(a.actor), "role": r.get(a.role), "target": r.get(a.target),
            "case_id": (r.get(a.detail) or {}).get("case_id"), "outcome": r.get(a.outcome)} for r in unmasks]
    problems: list[str] = []
    if not holders or not set(holders) <= allowed:
        problems.append(f"unmasking is held by {holders or 'nobody'}, expected only {sorted(allowed)}")
    bad = [w for w in who if w["outcome"] == "success" and (not w["case_id"] or w["role"] not in allowed)]
    if bad:
        problems.append(f"{len(bad)} unmaskings without a case id or by a role that may not unmask")
    text = (f"unmask permission: {', '.join(holders) or '-'}; since {since}: "
            f"{sum(1 for r in records if r.get(a.action) == 'privacy.grant')} grants, {len(unmasks)} unmaskings")
    return RuleOutcome(not problems, "; ".join(problems) or text, (
        _ev(ctx, f"index:{index} privacy.*", who, text + "".join(
            f"; {w['time']} {w['user']} case {w['case_id']} {w['target']}" for w in who[:10])),
        _ev(ctx, "permissions:privacy.unmask", holders, "roles that may unmask: " + (", ".join(holders) or "-"))))
