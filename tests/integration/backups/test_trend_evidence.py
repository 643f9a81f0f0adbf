"""RPO/RTO per plan over time, against the objective, in the compliance evidence (备份与恢复)."""

from __future__ import annotations

from backup_orchestrator.catalog import Catalog
from compliance.platform import PlatformContext, drills_recent
from core.es import Store
from core.settings import Settings
from core.timeutil import parse_iso


def test_drill_evidence_carries_the_rpo_rto_trend_per_plan(settings: Settings, store: Store, prefix: str) -> None:
    catalog = Catalog(store, prefix)
    for i, (rpo, rto, status) in enumerate([(600, 40, "passed"), (900, 55, "passed"), (4000, 70, "failed")]):
        catalog.put_drill({"drill_id": f"d{i}", "plan_id": "platform", "status": status,
                           "started": f"2026-12-0{i + 1}T02:00:00Z", "ended": f"2026-12-0{i + 1}T02:01:00Z", "rpo_seconds": rpo, "rto_seconds": rto,
                           "objectives": {"rpo_seconds": 3600, "rto_seconds": 60}})
    out = drills_recent(PlatformContext(store=store, settings=settings, now=parse_iso("2026-12-04T00:00:00Z")), {})
    assert out.passed
    assert "plan platform: RPO s [600, 900, 4000] vs objective 3600, RTO s [40, 55, 70] vs objective 60" in out.detail
    assert len(out.evidence) == 2 and "objective 3600" in out.evidence[1].excerpt
