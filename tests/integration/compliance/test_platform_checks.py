"""Platform checks read the platform's own indices and settings (real Elasticsearch)."""

from __future__ import annotations

from pathlib import Path

from compliance.checkset import builtin_dir, load_checks
from compliance.engine import run_platform_checks
from compliance.models import COMPLIANT, NON_COMPLIANT
from compliance.platform import PlatformContext
from core.es import Store
from core.settings import Settings
from core.timeutil import utcnow
from tests.integration.compliance.seed import seed_events, seed_platform

CHECKS = load_checks([builtin_dir()])
PLATFORM = [c for c in CHECKS.values() if c.kind == "platform"]


def _with(settings: Settings, **compliance: object) -> Settings:
    return settings.model_copy(update={"compliance": settings.compliance.model_copy(update=compliance)})


def test_platform_checks_pass_on_healthy_data(settings: Settings, store: Store, prefix: str, tmp_path: Path) -> None:
    now = utcnow()
    seed_platform(settings, store, now, tmp_path, healthy=True)
    store.ensure_index(f"{prefix}-compliance-runs")
    store.put(f"{prefix}-compliance-runs", "old", {"id": "old", "status": "finished",
                                                   "finished_at": now.isoformat()}, refresh=True)
    s = _with(settings, assets=["web-01", "db-01"])
    results = {r.check_id: r for r in run_platform_checks(PlatformContext(store, s, now), PLATFORM)}
    assert len(results) == len(PLATFORM) >= 9
    for cid, r in results.items():
        assert r.result == COMPLIANT, f"{cid}: {r.detail} {r.error}"
        assert r.evidence and r.evidence[0].sha256 and r.evidence[0].source.startswith(("index:", "settings:"))


def test_platform_checks_fail_on_unhealthy_data(settings: Settings, store: Store, prefix: str, tmp_path: Path) -> None:
    now = utcnow()
    seed_platform(settings, store, now, tmp_path, healthy=False)
    s = _with(settings, assets=["web-01", "db-01"])
    s = s.model_copy(update={"api": s.api.model_copy(update={"lockout_threshold": 10, "idle_timeout_minutes": 120}),
                             "events": s.events.model_copy(update={"retention_days": 30})})
    results = {r.check_id: r for r in run_platform_checks(PlatformContext(store, s, now), PLATFORM)}
    for cid in ("plat-assets-reporting", "plat-event-retention", "plat-detections-active", "plat-audit-trail",
                "plat-backups-recent", "plat-drill-recent", "plat-offsite-copy", "plat-auth-settings", "plat-compliance-regular"):
        assert results[cid].result == NON_COMPLIANT, f"{cid}: {results[cid].detail}"
    assert "db-01" in results["plat-assets-reporting"].detail
    assert "gap" in results["plat-audit-trail"].detail
    assert "last verification" in results["plat-audit-trail"].detail and "found problems" in results["plat-audit-trail"].detail


def _events_kept(settings: Settings, days: int | None) -> Settings:
    return settings.model_copy(update={"events": settings.events.model_copy(update={"retention_days": days})})


def test_retention_setting_can_guarantee_185_days(settings: Settings, store: Store, prefix: str, tmp_path: Path) -> None:
    now = utcnow()
    seed_events(store, prefix, now, healthy=False)  # oldest event 20 days
    check = CHECKS["plat-event-retention"]
    for days in (None, 190):
        (r,) = run_platform_checks(PlatformContext(store, _events_kept(settings, days), now), [check])
        assert r.result == COMPLIANT and "retention setting" in r.detail, r.detail
    # what the platform really deletes decides, not what compliance.event_retention_days declares
    lying = _with(_events_kept(settings, 30), event_retention_days=190)
    (r,) = run_platform_checks(PlatformContext(store, lying, now), [check])
    assert r.result == NON_COMPLIANT and "after 30 days" in r.detail


def test_missing_indices_fail_cleanly(settings: Settings, store: Store) -> None:
    results = run_platform_checks(PlatformContext(store, _with(settings, assets=["x"]), utcnow()), PLATFORM)
    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    by = {r.check_id: r.result for r in results}
    assert by["plat-backups-recent"] == NON_COMPLIANT and by["plat-detections-active"] == NON_COMPLIANT
