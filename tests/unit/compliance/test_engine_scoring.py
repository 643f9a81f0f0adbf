"""Rule combination, item aggregation, scoring bands, check-file validation, target parsing."""

from __future__ import annotations

import pytest

from compliance.catalog import builtin_dir, load_catalogs
from compliance.checkset import parse_checks
from compliance.engine import item_results, merge, overall_by_item
from compliance.models import (
    COMPLIANT,
    NON_COMPLIANT,
    NOT_APPLICABLE,
    PARTIAL,
    PENDING,
    CheckResult,
    ItemResult,
)
from compliance.scoring import MlpsEstimateV1, get_scorer
from compliance.targets import parse_target
from core.errors import InvalidInput

L3 = load_catalogs([builtin_dir()])["mlps-2.0-l3"]


def test_merge() -> None:
    assert merge([COMPLIANT, COMPLIANT]) == COMPLIANT
    assert merge([NON_COMPLIANT, NON_COMPLIANT]) == NON_COMPLIANT
    assert merge([COMPLIANT, NON_COMPLIANT]) == PARTIAL
    assert merge([PENDING, COMPLIANT]) == COMPLIANT
    assert merge([NOT_APPLICABLE]) == NOT_APPLICABLE
    assert merge([]) == PENDING


def _score(results: dict[str, str]) -> dict:  # type: ignore[type-arg]
    return get_scorer().score(L3, results)


def test_all_compliant_scores_100_and_band_you() -> None:
    s = _score({i.id: COMPLIANT for i in L3.items})
    assert s["overall"] == 100.0 and s["band"] == "优"
    assert s["risks"] == {"high": 0, "medium": 0, "low": 0}
    assert s["coverage"] == 1.0 and s["pending"] == 0
    assert all(f["score"] == 100.0 for f in s["families"].values())


def test_one_high_risk_failure_means_cha() -> None:
    results = {i.id: COMPLIANT for i in L3.items}
    results["L3-CES1-01"] = NON_COMPLIANT  # weak passwords: a high risk item
    s = _score(results)
    assert s["overall"] > 95
    assert s["risks"]["high"] == 1 and s["band"] == "差"


def test_partial_lowers_risk_one_level_and_bands() -> None:
    results = {i.id: COMPLIANT for i in L3.items}
    results["L3-CES1-01"] = PARTIAL
    s = _score(results)
    assert s["risks"] == {"high": 0, "medium": 1, "low": 0}
    assert s["band"] == "良"
    assert MlpsEstimateV1.band(85, {"high": 0, "medium": 0, "low": 3}) == "良"
    assert MlpsEstimateV1.band(75, {"high": 0, "medium": 2, "low": 0}) == "中"
    assert MlpsEstimateV1.band(65, {"high": 0, "medium": 0, "low": 0}) == "差"


def test_pending_and_not_applicable_are_left_out() -> None:
    results = {i.id: PENDING for i in L3.items}
    results["L3-PES1-01"] = COMPLIANT
    results["L3-PES1-02"] = NOT_APPLICABLE
    s = _score(results)
    assert s["overall"] == 100.0
    assert s["pending"] == 209 and s["counts"][NOT_APPLICABLE] == 1
    assert s["families"]["CES"]["score"] is None


def test_unknown_scorer_is_refused() -> None:
    with pytest.raises(InvalidInput):
        get_scorer("nope/9")


def test_item_results_per_asset_and_manual_override() -> None:
    checks_yaml = {"checks": [
        {"id": "c1", "items": ["L3-CES1-01"], "rules": [{"accounts": {"property": "unique_uids"}}], "remediation": "x"},
        {"id": "c2", "items": ["L3-CES1-01"], "rules": [{"accounts": {"property": "unique_names"}}], "remediation": "y"}]}
    checks = {c.id: c for c in parse_checks(checks_yaml, "t.yaml")}
    results = [CheckResult("c1", "h1", COMPLIANT, "", (), 0.0), CheckResult("c2", "h1", COMPLIANT, "", (), 0.0),
               CheckResult("c1", "h2", COMPLIANT, "", (), 0.0), CheckResult("c2", "h2", NON_COMPLIANT, "", (), 0.0)]
    rows = item_results(L3, checks, results)
    by = {(r.item_id, r.asset): r.result for r in rows}
    assert by[("L3-CES1-01", "h1")] == COMPLIANT and by[("L3-CES1-01", "h2")] == PARTIAL
    assert by[("L3-PES1-01", "system")] == PENDING
    overall = overall_by_item(L3, rows)
    assert overall["L3-CES1-01"] == PARTIAL
    manual = {("L3-CES1-01", "system"): ItemResult("L3-CES1-01", "system", COMPLIANT, "manual")}
    assert overall_by_item(L3, item_results(L3, checks, results, manual))["L3-CES1-01"] == COMPLIANT


@pytest.mark.parametrize("bad, message", [
    ({"checks": [{"id": "x", "items": ["a"], "rules": [{"rm_rf": {}}], "remediation": "r"}]}, "unknown rule type"),
    ({"checks": [{"id": "x", "items": ["a"], "rules": [{"file_regex": {"paths": ["/etc/x"]}}], "remediation": "r"}]}, "needs pattern"),
    ({"checks": [{"id": "x", "items": ["a"], "rules": [{"accounts": {"property": "unique_uids"}}]}]}, "remediation"),
    ({"checks": [{"id": "x", "rules": [{"accounts": {"property": "unique_uids"}}], "remediation": "r"}]}, "at least one catalog item"),
    ({"checks": [{"id": "x", "items": ["a"], "condition": "some", "rules": [{"accounts": {}}], "remediation": "r"}]}, "condition"),
    ({"checks": "nope"}, "`checks:` list"),
    ({"checks": [{"id": "x", "items": ["a"], "rules": [{"file_regex": {"paths": ["/e"], "pattern": "(("}}],
                  "remediation": "r"}]}, "not a valid regular expression"),
    ({"checks": [{"id": "x", "items": ["a"], "rules": [{"command": {"id": "c", "run": "rm -rf /", "pattern": "x"}}],
                  "remediation": "r"}]}, "list of strings"),
])
def test_malformed_checks_are_rejected(bad, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=message):
        parse_checks(bad, "bad.yaml")


def test_parse_target() -> None:
    assert parse_target("local").kind == "local"
    spec = parse_target("ssh://audit@10.0.0.7:2222", key_file="/k")
    assert (spec.kind, spec.host, spec.port, spec.user, spec.key_file) == ("ssh", "10.0.0.7", 2222, "audit", "/k")
    assert parse_target("root:/srv/copy").root == "/srv/copy"
    for bad in ("ftp://x", "ssh://", "ssh://h:port"):
        with pytest.raises(InvalidInput):
            parse_target(bad)


def test_scheduled_job_is_registered_from_settings(offline_settings) -> None:  # type: ignore[no-untyped-def]
    from apscheduler.schedulers.background import BackgroundScheduler

    from compliance.jobs import schedule, scheduled_run, scheduled_system_runs

    scheduler = BackgroundScheduler(timezone="UTC")
    assert schedule(scheduler, None, offline_settings, None) is False  # type: ignore[arg-type]
    cfg = offline_settings.compliance.model_copy(update={"schedule_cron": "0 2 * * 1"})
    assert schedule(scheduler, None, offline_settings.model_copy(update={"compliance": cfg}), None) is True  # type: ignore[arg-type]
    job = scheduler.get_job("compliance.scheduled_run")
    assert job is not None and job.func is scheduled_run
    systems_job = scheduler.get_job("compliance.scheduled_system_runs")
    assert systems_job is not None and systems_job.func is scheduled_system_runs


def test_checks_for_other_platforms_are_not_run_on_linux(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from compliance.engine import run_host_checks
    from compliance.targets import RootDirTarget

    checks = parse_checks({"checks": [
        {"id": "win-only", "items": ["L3-CES1-01"], "platforms": ["windows"],
         "rules": [{"file_exists": {"path": "/x"}}], "remediation": "r"},
        {"id": "linux", "items": ["L3-CES1-01"], "rules": [{"file_exists": {"path": "/x", "expect": "absent"}}],
         "remediation": "r"}]}, "t.yaml")
    results = run_host_checks(RootDirTarget(tmp_path), checks)
    assert [(r.check_id, r.result) for r in results] == [("linux", COMPLIANT)]
