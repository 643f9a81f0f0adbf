"""The 个人信息保护 items (L3-CES1-34/35, and L2-CES1-22/23 through maps_to) are assessed from the
pii.* tags, the policy in force and the audit trail of unmasking, with hashed evidence; the
report has a PIPL / GB/T 35273 view."""

from __future__ import annotations

from audit.trail import AuditTrail
from collectors import service as collect
from collectors.models import Event
from compliance.catalog import builtin_dir as catalogs_dir
from compliance.catalog import load_catalogs
from compliance.checkset import builtin_dir, load_checks
from compliance.engine import relevant_checks, run_platform_checks
from compliance.models import COMPLIANT, NON_COMPLIANT
from compliance.platform import PlatformContext
from compliance.reports.data import build
from compliance.reports.render import render_html
from core.auditing import Actor
from core.es import Store
from core.settings import Settings
from core.timeutil import iso, utcnow
from tests.integration.privacy.test_never_in_clear import RIC

CHECKS = load_checks([builtin_dir()])
PII_CHECKS = [CHECKS["plat-pii-minimised"], CHECKS["plat-pii-access"]]


def _ship(settings: Settings, store: Store, dataset: str) -> None:
    now = iso(utcnow())
    events = [Event(f"{dataset}-{i}", dataset, {"@timestamp": now, "message": f"apply id={RIC} tel=13812345678",
                                                "host": {"name": "portal-1"}}) for i in range(2)]
    assert collect.ship_events(settings, store, events, source="t").shipped == 2
    store.refresh(f"{settings.index_prefix}-events-*")


def test_pii_items_pass_with_evidence_then_fail_on_violations(settings: Settings, store: Store, prefix: str) -> None:
    _ship(settings, store, "web.access")
    trail = AuditTrail(settings, store)
    trail.record(Actor("admin", "admin"), "privacy.grant", "case:C-7", detail={"grant": "g1", "reason": "leak"})
    trail.record(Actor("admin", "admin"), "privacy.unmask", f"{prefix}-events-web.access-000001/e1",
                 detail={"grant": "g1", "case_id": "C-7", "reason": "leak"})
    store.refresh(f"{prefix}-audit*")
    now = utcnow()
    results = {r.check_id: r for r in run_platform_checks(PlatformContext(store, settings, now), PII_CHECKS)}
    mini, access = results["plat-pii-minimised"], results["plat-pii-access"]
    assert mini.result == COMPLIANT, mini.detail
    assert "2 events with personal information" in mini.detail
    assert any("cn_ric@*/*=mask" in e.excerpt for e in mini.evidence)
    assert all(len(e.sha256) == 64 for e in mini.evidence + access.evidence)
    assert access.result == COMPLIANT, access.detail
    assert "1 grants, 1 unmaskings" in access.detail and "case C-7" in access.evidence[0].excerpt

    # the L2 and L3 items are covered by these checks
    cats = load_catalogs([catalogs_dir()])
    l3 = next(c for c in cats.values() if c.level == 3)
    l2 = next(c for c in cats.values() if c.level == 2)
    assert "plat-pii-minimised" in relevant_checks(l3, CHECKS)["L3-CES1-34"]
    assert "plat-pii-access" in relevant_checks(l2, CHECKS)["L2-CES1-23"]

    # the report's PIPL view lists where PI is processed, the policy, and who unmasked what
    check_docs = [{"check_id": r.check_id, "asset": r.asset, "result": r.result, "detail": r.detail,
                   "evidence": [e.__dict__ for e in r.evidence], "checks": []} for r in results.values()]
    model = build({"id": "r1", "score": {}}, l3, CHECKS, [], check_docs, [], None, [], "en")
    html = render_html(model)
    assert "Personal information protection (PIPL, GB/T 35273)" in html and "case C-7" in html

    # violations: PI in a dataset that must carry none, and a policy keeping identity numbers in clear
    strict = settings.model_copy(update={"pii": settings.pii.model_copy(update={"forbidden_datasets": ["hr.*"]})})
    _ship(strict, store, "hr.app")
    keep = Settings.model_validate({**strict.model_dump(), "pii": {**strict.pii.model_dump(),
                                                                    "rules": [{"type": "cn_ric", "action": "keep"}]}})
    trail.record(Actor("analyst", "analyst"), "privacy.unmask", "x/y", detail={"grant": "g2"})
    store.refresh(f"{prefix}-audit*")
    results = {r.check_id: r for r in run_platform_checks(PlatformContext(store, keep, utcnow()), PII_CHECKS)}
    assert results["plat-pii-minimised"].result == NON_COMPLIANT
    assert "hr.app (2)" in results["plat-pii-minimised"].detail
    assert "kept in clear" in results["plat-pii-minimised"].detail
    assert results["plat-pii-access"].result == NON_COMPLIANT
    assert "without a case id" in results["plat-pii-access"].detail
