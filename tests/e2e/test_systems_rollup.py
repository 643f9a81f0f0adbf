"""The compliance page's roll-up of graded systems (定级对象): rows and department summaries as
the API computes them, a run started from a row, and the row opening that run's view."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, login, shot, wait_ready
from tests.unit.compliance.trees import build_compliant


def test_auditor_sees_the_rollup_and_runs_a_system(page: Page, console: Console, tmp_path: Path) -> None:
    tree = build_compliant(tmp_path / "good")
    console.ensure_departments()
    headers = {"authorization": f"Bearer {console.api_token('aud')}"}
    for body in ({"id": "e2e-jw-portal", "name": {"zh": "教委门户", "en": "Education portal"}, "level": 2,
                  "hosts": [f"root:{tree}"], "organization": "jiaowei"},
                 {"id": "e2e-wj-his", "name": "医院信息系统", "level": 3, "hosts": [f"root:{tree}"],
                  "organization": "weijianwei"}):
        resp = httpx.post(f"{console.url}/api/v1/compliance/systems", json=body, headers=headers)
        assert resp.status_code == 201, resp.text

    login(page, console, "aud")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    page.get_by_test_id("nav-compliance").click()
    wait_ready(page, "compliance")
    portal = page.locator("[data-testid=rollup-row][data-system=e2e-jw-portal]")
    expect(portal).to_contain_text("教委门户")
    expect(portal).to_contain_text("未检查")
    expect(page.locator("[data-testid=rollup-row][data-system=e2e-wj-his]")).to_be_visible()

    portal.get_by_test_id("rollup-run").click()
    expect(page.get_by_test_id("flash-success")).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("compliance-run-system")).to_contain_text("e2e-jw-portal")
    rollup = httpx.get(f"{console.url}/api/v1/compliance/rollup", headers=headers).json()
    row = next(r for r in rollup["rows"] if r["system"]["id"] == "e2e-jw-portal")
    assert row["run"] is not None and row["run"]["catalog"] == "mlps-2.0-l2"
    expect(portal.get_by_test_id("rollup-score")).to_have_text(f"{row['score']:.1f}")
    expect(portal.get_by_test_id("rollup-high")).to_have_text(str(row["high_risks"]))
    expect(page.get_by_test_id("compliance-run-id")).to_have_text(row["run"]["id"])
    expect(page.locator("[data-testid=rollup-department][data-org=jiaowei]")).to_contain_text("1/1")
    expect(page.locator("[data-testid=rollup-department][data-org=weijianwei]")).to_contain_text("0/1")
    shot(page, "21-compliance-rollup")

    # English: the same table in the other language, names from the system's English name
    page.get_by_test_id("lang-switch").select_option("en")
    page.goto(f"{console.url}/console/#/compliance")
    wait_ready(page, "compliance")
    expect(page.get_by_test_id("compliance-rollup").locator("h2")).to_have_text("Graded systems")
    expect(portal).to_contain_text("Education portal")
