"""Graded systems (定级对象) per department: registration, runs per system, reports that name the
system, and the district roll-up; a department sees only its own systems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compliance import engine, reporting, rollup, service, systems
from compliance.models import NON_COMPLIANT, ItemResult
from core.auditing import Actor, MemoryAuditor
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.es import Store
from core.settings import Settings
from tests.unit.compliance.trees import build_compliant, build_noncompliant

DISTRICT_AUDITOR = Actor("dora", "auditor", organization="district")


def _open_high_risks(store: Store, settings: Settings, run: dict[str, Any]) -> int:
    """Failed high-importance items of a run, counted from its stored item results."""
    cats, _checks = service.load_definitions(settings)
    cat = cats[run["catalog"]]
    rows = [ItemResult(d["item_id"], d["asset"], d["result"], d.get("source", "check"))
            for d in service.get_results(store, settings, DISTRICT_AUDITOR, run["id"])]
    overall = engine.overall_by_item(cat, rows)
    return sum(1 for item in cat.items if item.risk == "high" and overall[item.id] == NON_COMPLIANT)


def register(store: Store, settings: Settings, audit: MemoryAuditor, tmp: Path) -> None:
    good, bad = build_compliant(tmp / "good"), build_noncompliant(tmp / "bad")
    for data in (
        {"id": "jw-xueji", "name": {"zh": "学籍管理系统", "en": "Student records"}, "level": 3,
         "hosts": [f"root:{good}", f"root:{bad}"], "organization": "jiaowei", "contact": "王老师"},
        {"id": "jw-portal", "name": "教委门户网站", "level": 2, "hosts": [f"root:{good}"], "organization": "jiaowei"},
        {"id": "wj-his", "name": {"zh": "医院信息系统", "en": "Hospital information system"}, "level": 3,
         "hosts": [f"root:{bad}"], "organization": "weijianwei"},
        {"id": "wj-never", "name": "预约挂号", "level": 2, "hosts": [], "organization": "weijianwei"},
    ):
        systems.register_system(store, settings, audit, DISTRICT_AUDITOR, data)


def test_runs_per_system_and_district_rollup(settings: Settings, store: Store, tmp_path: Path) -> None:
    audit = MemoryAuditor()
    # the department list as core.departments keeps it: names for the roll-up, ids checked
    for dept, zh, en in (("jiaowei", "教委", "Education Commission"), ("weijianwei", "卫健委", "Health Commission")):
        store.put(settings.index("departments"), dept, {"id": dept, "name_zh": zh, "name_en": en, "parent": "district"},
                  refresh=True)
    with pytest.raises(InvalidInput, match="no department 'nosuch'"):
        systems.register_system(store, settings, audit, DISTRICT_AUDITOR,
                                {"id": "x", "name": "x", "level": 2, "organization": "nosuch"})
    register(store, settings, audit, tmp_path)
    assert audit.records[-1]["action"] == "compliance.systems.register"
    with pytest.raises(Conflict):
        systems.register_system(store, settings, audit, DISTRICT_AUDITOR, {"id": "wj-his", "name": "x", "level": 2})
    for bad in ({"id": "Bad Id", "name": "x", "level": 3}, {"id": "a", "name": "x", "level": 4},
                {"id": "a", "name": "", "level": 2}, {"id": "a", "name": "x", "level": 2, "hosts": ["gopher://x"]},
                {"id": "a", "name": "x", "level": 2, "colour": "red"}, {"id": "a", "name": "x"}):
        with pytest.raises(InvalidInput):
            systems.register_system(store, settings, audit, DISTRICT_AUDITOR, bad)
    with pytest.raises(PermissionDenied):
        systems.register_system(store, settings, audit, Actor("ann", "analyst"), {"id": "a", "name": "x", "level": 2})

    # the system decides level, catalog and targets; contradicting it is refused
    with pytest.raises(InvalidInput):
        service.run_assessment(store, settings, audit, DISTRICT_AUDITOR, system_id="jw-portal", level=3)
    with pytest.raises(InvalidInput):
        service.run_assessment(store, settings, audit, DISTRICT_AUDITOR, system_id="jw-portal", targets=["local"])
    with pytest.raises(NotFound):
        service.run_assessment(store, settings, audit, DISTRICT_AUDITOR, system_id="nope")

    runs = {sid: service.run_assessment(store, settings, audit, DISTRICT_AUDITOR, system_id=sid, platform=False)
            for sid in ("jw-xueji", "jw-portal", "wj-his")}
    assert runs["jw-xueji"]["catalog"] == "mlps-2.0-l3" and runs["wj-his"]["catalog"] == "mlps-2.0-l3"
    assert runs["jw-portal"]["catalog"] == "mlps-2.0-l2" and runs["jw-portal"]["level"] == 2
    assert sum(runs["jw-portal"]["score"]["counts"].values()) == 135
    assert len(runs["jw-xueji"]["targets"]) == 2 and runs["wj-his"]["targets"] == [f"root:{tmp_path / 'bad'}"]
    for sid, run in runs.items():
        org = "jiaowei" if sid.startswith("jw") else "weijianwei"
        assert run["system"]["id"] == sid and run["organization"] == {"id": org}
        stored = store.search(settings.index("compliance-results"),
                              {"size": 1000, "query": {"term": {"run_id": run["id"]}}})["hits"]["hits"]
        assert stored and {(h["_source"]["organization"]["id"], h["_source"]["system_id"]) for h in stored} == {(org, sid)}
        # the department field is indexed (the scope filter matches on it)
        assert store.count(settings.index("compliance-runs"), {"term": {"organization.id": org}}) >= 1
    # a second run of a system compares with that system's previous run, not another's
    again = service.run_assessment(store, settings, audit, DISTRICT_AUDITOR, system_id="wj-his", platform=False)
    assert again["previous_run"] == runs["wj-his"]["id"]
    runs["wj-his"] = again
    assert [r["id"] for r in service.list_runs(store, settings, DISTRICT_AUDITOR, system="jw-portal")] == \
        [runs["jw-portal"]["id"]]

    # a manual result (evidence) belongs to the run's system and department
    service.record_manual(store, settings, audit, DISTRICT_AUDITOR, runs["wj-his"]["id"], "L3-PES1-01", "符合",
                          note="机房验收报告", attachments=[("a.txt", b"ok")])
    manual = store.search(settings.index("compliance-results"), {"query": {"bool": {"filter": [
        {"term": {"run_id": runs["wj-his"]["id"]}}, {"term": {"kind": "manual"}}]}}})["hits"]["hits"]
    assert manual and manual[0]["_source"]["organization"]["id"] == "weijianwei"
    runs["wj-his"] = service.get_run(store, settings, DISTRICT_AUDITOR, runs["wj-his"]["id"])

    data = rollup.rollup(store, settings, DISTRICT_AUDITOR, lang="zh-CN")
    rows = {r["system"]["id"]: r for r in data["rows"]}
    assert list(rows) == ["jw-portal", "jw-xueji", "wj-his", "wj-never"]
    for sid, run in runs.items():
        row = rows[sid]
        assert row["run"]["id"] == run["id"] and row["latest_run_at"] == run["finished_at"]
        assert row["score"] == run["overall"] and row["band"] == run["band"]
        assert row["high_risks"] == _open_high_risks(store, settings, run)
        assert row["system"]["level"] == run["level"] and not row["level_changed"]
    # the bad host alone fails high-importance items; beside a good host they are only partly met
    assert rows["wj-his"]["high_risks"] > 0 and rows["jw-xueji"]["high_risks"] == 0 < rows["jw-xueji"]["medium_risks"]
    assert rows["jw-xueji"]["system"]["name"] == "学籍管理系统" and rows["jw-xueji"]["organization"]["name"] == "教委"
    assert rows["wj-never"]["run"] is None and rows["wj-never"]["score"] is None
    summary = {d["organization"]["id"]: d for d in data["departments"]}
    jw = summary["jiaowei"]
    assert (jw["systems"], jw["assessed"], jw["never_assessed"]) == (2, 2, 0)
    assert jw["average_score"] == round((runs["jw-xueji"]["overall"] + runs["jw-portal"]["overall"]) / 2, 1)
    assert jw["lowest_score"] == min(runs["jw-xueji"]["overall"], runs["jw-portal"]["overall"])
    assert jw["high_risks"] == 0 and jw["levels"] == {"2": 1, "3": 1}
    wj = summary["weijianwei"]
    assert (wj["systems"], wj["assessed"], wj["never_assessed"]) == (2, 1, 1) and wj["worst_band"] == "差"
    assert wj["high_risks"] == rows["wj-his"]["high_risks"] and wj["systems_with_high_risks"] == 1
    assert data["total"] == {"systems": 4, "assessed": 3, "departments": 2,
                             "high_risks": jw["high_risks"] + wj["high_risks"]}
    english = rollup.rollup(store, settings, DISTRICT_AUDITOR, lang="en")
    assert english["rows"][0]["system"]["name"] == "教委门户网站"
    assert english["departments"][0]["organization"]["name"] == "Education Commission"

    # regrading a system flags its latest score as measured against the other level
    systems.update_system(store, settings, audit, DISTRICT_AUDITOR, "jw-portal", {"level": 3, "name_en": "Portal"})
    row = next(r for r in rollup.rollup(store, settings, DISTRICT_AUDITOR, lang="en")["rows"]
               if r["system"]["id"] == "jw-portal")
    assert row["level_changed"] and row["system"]["name"] == "Portal" and row["system"]["level"] == 3

    # the report names the system, its department and its level, in both languages
    model = reporting.report_model(store, settings, runs["jw-xueji"]["id"], "zh-CN")
    assert model["system"] == {"id": "jw-xueji", "name": "学籍管理系统", "level": 3}
    assert model["organization"] == {"id": "jiaowei", "name": "教委"}
    html = reporting.build_report(store, settings, DISTRICT_AUDITOR, runs["jw-xueji"]["id"], "html", "zh-CN")[0].decode()
    assert "定级对象" in html and "学籍管理系统" in html and "第三级" in html and "所属部门" in html
    body, _media, name = reporting.build_report(store, settings, DISTRICT_AUDITOR, runs["wj-his"]["id"], "html", "en")
    assert name.startswith("compliance-wj-his-")
    assert "Hospital information system" in body.decode() and "Level 3" in body.decode()
    assert "Health Commission" in body.decode()

    # removing a registration keeps its runs
    systems.remove_system(store, settings, audit, DISTRICT_AUDITOR, "wj-never")
    with pytest.raises(NotFound):
        systems.get_system(store, settings, DISTRICT_AUDITOR, "wj-never")
    assert service.get_run(store, settings, DISTRICT_AUDITOR, runs["wj-his"]["id"])["system"]["id"] == "wj-his"


def test_scheduled_runs_assess_every_registered_system(settings: Settings, store: Store, tmp_path: Path) -> None:
    from compliance.jobs import scheduled_system_runs

    audit = MemoryAuditor()
    register(store, settings, audit, tmp_path)
    out = {r["system"]: r for r in scheduled_system_runs(store, settings, audit)}
    assert set(out) == {"jw-xueji", "jw-portal", "wj-his", "wj-never"}
    assert all(r["status"] == "finished" for r in out.values()), out
    rows = {r["system"]["id"]: r for r in rollup.rollup(store, settings, DISTRICT_AUDITOR)["rows"]}
    assert {sid: row["run"]["id"] for sid, row in rows.items()} == {sid: r["run_id"] for sid, r in out.items()}
    # the system without hosts is assessed on the platform's own data only
    never = service.get_run(store, settings, DISTRICT_AUDITOR, out["wj-never"]["run_id"])
    assert never["targets"] == [] and never["catalog"] == "mlps-2.0-l2"
    assert {r["actor"] for r in audit.records if r["action"] == "compliance.run"} == {"system:compliance"}


def test_demo_registers_each_departments_systems_once(settings: Settings, store: Store) -> None:
    from soc.demo import DEMO_SYSTEMS, register_demo_systems, with_demo_departments

    demo = with_demo_departments(settings)
    audit = MemoryAuditor()
    assert register_demo_systems(store, demo, audit) == len(DEMO_SYSTEMS) == 3
    assert register_demo_systems(store, demo, audit) == 0
    rows = rollup.rollup(store, demo, DISTRICT_AUDITOR)
    assert {(r["organization"]["id"], r["system"]["level"]) for r in rows["rows"]} == {
        ("jiaowei", 3), ("weijianwei", 3), ("minzhengju", 2)}
    assert all(r["run"] is None for r in rows["rows"])
