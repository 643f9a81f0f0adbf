"""Running checks and turning their outcomes into per-item, per-asset results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from compliance import platform as platform_probes
from compliance.models import (
    COMPLIANT,
    NON_COMPLIANT,
    NOT_APPLICABLE,
    PARTIAL,
    PENDING,
    Catalog,
    Check,
    CheckResult,
    Item,
    ItemResult,
    RuleOutcome,
)
from compliance.probes import SYSTEMD_UNITS
from compliance.probes import evaluate as evaluate_host
from compliance.targets import Target
from core.errors import SocError

PLATFORM_ASSET = "platform"
SYSTEM_ASSET = "system"


def _combine(condition: str, outcomes: list[RuleOutcome]) -> bool:
    passed = [o.passed for o in outcomes]
    if condition == "any":
        return any(passed)
    if condition == "none":
        return not any(passed)
    return all(passed)


def _run_one(check: Check, asset: str, evaluate: Callable[[Any], RuleOutcome]) -> CheckResult:
    started = time.perf_counter()
    try:
        outcomes = [evaluate(rule) for rule in check.rules]
    except SocError as exc:
        return CheckResult(check.id, asset, PENDING, exc.message, (), time.perf_counter() - started, error=exc.message)
    except Exception as exc:  # a probe bug must not lose the rest of the run
        return CheckResult(check.id, asset, PENDING, f"check failed: {exc!r}", (), time.perf_counter() - started,
                           error=repr(exc))
    ok = _combine(check.condition, outcomes)
    # With "none" a rule that *passes* is the finding, so invert each rule's verdict in the detail.
    marks = [("✗" if o.passed else "✓") if check.condition == "none" else ("✓" if o.passed else "✗") for o in outcomes]
    detail = "; ".join(f"{m} {o.detail}" for m, o in zip(marks, outcomes, strict=True))
    evidence = tuple(e for o in outcomes for e in o.evidence)
    return CheckResult(check.id, asset, COMPLIANT if ok else NON_COMPLIANT, detail, evidence,
                       time.perf_counter() - started)


def host_commands(checks: Iterable[Check]) -> list[tuple[str, list[str]]]:
    """The commands host checks will run, to start them early (they are the slow part)."""
    return ([(r.params["id"], list(r.params["run"])) for c in checks if c.kind == "host" for r in c.rules
             if r.type == "command"] + [("systemd-units", SYSTEMD_UNITS)])


def run_host_checks(target: Target, checks: Iterable[Check]) -> list[CheckResult]:
    checks = [c for c in checks if c.kind == "host" and target.platform in c.platforms]
    target.prefetch(host_commands(checks))
    return [_run_one(c, target.name, lambda rule: evaluate_host(target, rule)) for c in checks if c.kind == "host"]


def run_platform_checks(ctx: platform_probes.PlatformContext, checks: Iterable[Check]) -> list[CheckResult]:
    return [_run_one(c, PLATFORM_ASSET, lambda rule: platform_probes.evaluate(ctx, rule))
            for c in checks if c.kind == "platform"]


def relevant_checks(catalog: Catalog, checks: dict[str, Check]) -> dict[str, list[str]]:
    """Item id -> ids of the checks whose results count for it (directly, via maps_to or listed)."""
    by_item: dict[str, set[str]] = {}
    for check in checks.values():
        for iid in check.items:
            by_item.setdefault(iid, set()).add(check.id)
    out: dict[str, list[str]] = {}
    for item in catalog.items:
        ids = set(by_item.get(item.id, set())) | {c for c in item.checks if c in checks}
        for other in item.maps_to:
            ids |= by_item.get(other, set())
        out[item.id] = sorted(ids)
    return out


def merge(results: Iterable[str]) -> str:
    """Several results for one thing: all compliant, all failing, or partly."""
    values = list(results)
    decided = [r for r in values if r not in (PENDING, NOT_APPLICABLE)]
    if not decided:
        return NOT_APPLICABLE if values and all(r == NOT_APPLICABLE for r in values) else PENDING
    if all(r == COMPLIANT for r in decided):
        return COMPLIANT
    if all(r == NON_COMPLIANT for r in decided):
        return NON_COMPLIANT
    return PARTIAL


def item_results(catalog: Catalog, checks: dict[str, Check], check_results: list[CheckResult],
                 manual: dict[tuple[str, str], ItemResult] | None = None) -> list[ItemResult]:
    """One result per item and asset; items nothing assessed get one ``待人工`` row for the system."""
    manual = manual or {}
    mapping = relevant_checks(catalog, checks)
    by_check_asset: dict[tuple[str, str], CheckResult] = {(r.check_id, r.asset): r for r in check_results}
    assets = sorted({r.asset for r in check_results})
    out: list[ItemResult] = []
    for item in catalog.items:
        rows: list[ItemResult] = []
        for asset in assets:
            found = [by_check_asset[(cid, asset)] for cid in mapping[item.id] if (cid, asset) in by_check_asset]
            if not found:
                continue
            result = merge([r.result for r in found])
            failed = [r.check_id for r in found if r.result == NON_COMPLIANT]
            detail = (f"{len(found) - len(failed)}/{len(found)} checks passed" +
                      (f"; failed: {', '.join(failed)}" if failed else ""))
            rows.append(ItemResult(item.id, asset, result, "check", tuple(r.check_id for r in found), detail))
        manual_rows = [m for (iid, _asset), m in manual.items() if iid == item.id]
        for m in manual_rows:
            rows = [r for r in rows if r.asset != m.asset]
            rows.append(m)
        if not rows:
            rows.append(ItemResult(item.id, SYSTEM_ASSET, PENDING, "none", (),
                                   "awaiting manual assessment" if item.method == "manual" else "no check ran for this item"))
        out.extend(rows)
    return out


def overall_by_item(catalog: Catalog, rows: list[ItemResult]) -> dict[str, str]:
    """The item's result across assets; a manual result for the whole system decides."""
    grouped: dict[str, list[ItemResult]] = {}
    for row in rows:
        grouped.setdefault(row.item_id, []).append(row)
    out: dict[str, str] = {}
    for item in catalog.items:
        group = grouped.get(item.id, [])
        system = [r for r in group if r.source == "manual" and r.asset == SYSTEM_ASSET]
        out[item.id] = system[0].result if system else merge([r.result for r in group])
    return out


def remediation_for(item: Item, checks: dict[str, Check], failed: Iterable[str], lang: str) -> list[str]:
    return [f"[{cid}] {checks[cid].remediation.get(lang)}" for cid in failed if cid in checks]
