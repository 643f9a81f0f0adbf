"""A full run on prepared trees and the platform, manual assessment with evidence, and all report formats."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from compliance import reporting, service
from compliance.models import COMPLIANT, NON_COMPLIANT, PENDING
from core.auditing import Actor, MemoryAuditor
from core.errors import InvalidInput, NotFound, PermissionDenied
from core.es import Store
from core.settings import Settings
from core.timeutil import utcnow
from tests.integration.compliance.seed import seed_platform
from tests.unit.compliance.trees import build_compliant, build_noncompliant

AUDITOR = Actor("alice", "auditor")
FAMILIES = ["安全物理环境", "安全通信网络", "安全区域边界", "安全计算环境", "安全管理中心", "安全管理制度",
            "安全管理机构", "安全管理人员", "安全建设管理", "安全运维管理"]


def _settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"compliance": settings.compliance.model_copy(update={"assets": ["web-01", "db-01"]})})


def test_run_assess_rerun_and_reports(settings: Settings, store: Store, prefix: str, tmp_path: Path) -> None:
    s = _settings(settings)
    seed_platform(s, store, utcnow(), tmp_path, healthy=True)
    good = build_compliant(tmp_path / "good")
    bad = build_noncompliant(tmp_path / "bad")
    audit = MemoryAuditor()

    with pytest.raises(PermissionDenied):
        service.run_assessment(store, s, audit, Actor("ann", "analyst"), targets=[f"root:{good}"])

    run = service.run_assessment(store, s, audit, AUDITOR, level=3, targets=[f"root:{good}", f"root:{bad}"])
    assert run["status"] == "finished" and run["catalog"] == "mlps-2.0-l3"
    assert audit.records[-1]["action"] == "compliance.run" and audit.records[-1]["target"] == run["id"]
    counts = run["score"]["counts"]
    assert sum(counts.values()) == 211
    # one good and one bad host: every host-checked item is partly met
    items = {(r["item_id"], r["asset"]): r for r in service.get_results(store, s, AUDITOR, run["id"])}
    assert items[("L3-CES1-06", f"root:{good}")]["result"] == COMPLIANT
    assert items[("L3-CES1-06", f"root:{bad}")]["result"] == NON_COMPLIANT
    assert items[("L3-SMC1-10", "platform")]["result"] == COMPLIANT
    assert items[("L3-PES1-01", "system")]["result"] == PENDING
    checks = service.get_results(store, s, AUDITOR, run["id"], kind="check")
    assert any(c["evidence"] and len(c["evidence"][0]["sha256"]) == 64 for c in checks)
    assert run["score"]["band"] == "差"  # the bad tree leaves high risks

    # manual assessment with an uploaded evidence file, audited and re-scored
    before_pending = run["score"]["pending"]
    out = service.record_manual(store, s, audit, AUDITOR, run["id"], "L3-PES1-01", "compliant",
                                note="机房位于抗震建筑内，已查看验收报告", attachments=[("acceptance.txt", b"fire and quake ok")])
    assert out["score"]["pending"] == before_pending - 1
    assert audit.records[-1]["action"] == "compliance.assess"
    assert service.get_run(store, s, AUDITOR, run["id"])["score"]["pending"] == before_pending - 1
    evidence = out["item"]["evidence"]
    digest = next(e["sha256"] for e in evidence if e["source"] == "upload:acceptance.txt")
    assert service.get_evidence(s, AUDITOR, digest) == b"fire and quake ok"
    with pytest.raises(NotFound):
        service.record_manual(store, s, audit, AUDITOR, run["id"], "L3-XXX-99", "符合")
    with pytest.raises(InvalidInput):
        service.record_manual(store, s, audit, AUDITOR, run["id"], "L3-PES1-02", "maybe")
    with pytest.raises(PermissionDenied):
        service.record_manual(store, s, audit, Actor("sam", "sysadmin"), run["id"], "L3-PES1-02", "符合")

    # the second run (good tree only) carries the manual result and reports what changed
    run2 = service.run_assessment(store, s, audit, AUDITOR, level=3, targets=[f"root:{good}"])
    assert run2["previous_run"] == run["id"]
    items2 = {(r["item_id"], r["asset"]): r for r in service.get_results(store, s, AUDITOR, run2["id"])}
    assert items2[("L3-PES1-01", "system")]["result"] == COMPLIANT
    assert items2[("L3-PES1-01", "system")]["source"] == "manual"
    assert run2["overall"] > run["overall"]
    assert [r["id"] for r in service.list_runs(store, s, AUDITOR)][:2] == [run2["id"], run["id"]]

    model = reporting.report_model(store, s, run2["id"], "zh-CN")
    changed = {c["id"]: c for c in model["changes"]["items"]}
    assert changed["L3-CES1-06"]["before"] == "部分符合" and changed["L3-CES1-06"]["after"] == "符合"
    assert model["changes"]["score_delta"] > 0

    # JSON and CSV
    data = json.loads(reporting.build_report(store, s, AUDITOR, run["id"], "json")[0])
    assert data["summary"]["overall"] == service.get_run(store, s, AUDITOR, run["id"])["overall"]
    assert len(data["families"]) == 10 and data["failed"] and data["evidence"]
    assert all(f["remediation"] for f in data["failed"] if f["method"] == "host")
    body, media, name = reporting.build_report(store, s, AUDITOR, run["id"], "csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert media.startswith("text/csv") and name.endswith(".csv")
    assert {r["item_id"] for r in rows} >= {"L3-CES1-01", "L3-MMS1-48"}
    # English HTML
    html = reporting.build_report(store, s, AUDITOR, run2["id"], "html", "en")[0].decode()
    assert "Evidence appendix" in html and "estimate" in html and "<svg" in html

    # PDF (Chinese): text extracted with pdftotext has the summary, all ten families and the evidence appendix
    pdf, media, _name = reporting.build_report(store, s, AUDITOR, run2["id"], "pdf")
    assert media == "application/pdf" and pdf.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(tmp_path / "r.pdf"), "-"], capture_output=True,
                          check=True, timeout=120).stdout.decode("utf-8")
    squashed = "".join(text.split())
    for needle in ["结果摘要", "得分", "结论等级", "高风险", "不代表等级测评机构的测评结论", "证据附录",
                   "不符合项及整改建议", "与上次检查相比的变化", "L3-CES1-01", "sha256".upper()[:3]]:
        assert needle in squashed or needle in text, needle
    for family in FAMILIES:
        assert family in squashed, family


def test_unknown_run_and_format(settings: Settings, store: Store) -> None:
    with pytest.raises(NotFound):
        service.get_run(store, settings, AUDITOR, "cr-nope")
    with pytest.raises(InvalidInput):
        reporting.build_report(store, settings, AUDITOR, "cr-nope", "docx")


def test_unreachable_ssh_target_is_reported_not_fatal(settings: Settings, store: Store, tmp_path: Path) -> None:
    good = build_compliant(tmp_path / "good")
    run = service.run_assessment(store, settings, MemoryAuditor(), AUDITOR, level=2, platform=False,
                                 targets=[f"root:{good}", "ssh://audit@127.0.0.1:1"])
    assert run["status"] == "finished" and run["catalog"] == "mlps-2.0-l2"
    assert any("127.0.0.1" in e for e in run["errors"])
    rows = service.get_results(store, settings, AUDITOR, run["id"])
    by = {(r["item_id"], r["asset"]): r["result"] for r in rows}
    assert by[("L2-CES1-01", f"root:{good}")] == COMPLIANT  # level 2 items reuse level 3 checks via maps_to
