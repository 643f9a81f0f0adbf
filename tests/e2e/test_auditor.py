"""An auditor runs a compliance assessment, records a manual result, downloads the PDF report,
and verifies the audit trail."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Console, login, shot, wait_ready


def test_auditor_runs_compliance_and_downloads_the_pdf(page: Page, console: Console, tmp_path: Path) -> None:
    login(page, console, "aud")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    page.get_by_test_id("nav-compliance").click()
    wait_ready(page, "compliance")
    page.get_by_test_id("compliance-level").select_option("3")
    page.get_by_test_id("compliance-run").click()
    expect(page.get_by_test_id("flash-success")).to_be_visible(timeout=120_000)
    wait_ready(page, "compliance")
    score = page.get_by_test_id("compliance-score")
    expect(score).to_have_text(re.compile(r"^\d+(\.\d)?$"))
    expect(page.get_by_test_id("family-row")).to_have_count(10)
    expect(page.get_by_test_id("run-row")).to_have_count(1)
    run_id = page.get_by_test_id("compliance-run-id").inner_text()
    assert run_id.startswith("cr-")
    # Failed items are listed with their evidence.
    failed = page.get_by_test_id("failed-row")
    assert failed.count() > 0
    evidence = failed.first.get_by_test_id("item-evidence")
    evidence.locator("summary").click()
    expect(evidence.locator(".check-evidence code").first).to_be_visible()
    shot(page, "20-compliance")

    # Manual assessment of an item that awaits one.
    page.get_by_test_id("compliance-item-filter").select_option("pending")
    pending = page.get_by_test_id("failed-row")
    pending_before = pending.count()
    assert pending_before > 0
    item_id = pending.first.get_attribute("data-item")
    pending.first.get_by_test_id("assess-button").click()
    page.get_by_test_id("assess-result").select_option("符合")
    page.get_by_test_id("assess-note").fill("机房门禁记录已检查,见附件。")
    attachment = tmp_path / "门禁记录.txt"
    attachment.write_text("2026-11 access log reviewed\n", encoding="utf-8")
    page.get_by_test_id("assess-file").set_input_files(str(attachment))
    page.get_by_test_id("assess-ok").click()
    expect(page.get_by_test_id("flash-success").filter(has_text="人工评估已保存")).to_be_visible()
    wait_ready(page, "compliance")
    page.get_by_test_id("compliance-item-filter").select_option("all")
    # 25 items a page; the search box finds the one just assessed (by id, or by its requirement text).
    expect(page.get_by_test_id("items-page")).to_contain_text("/")
    page.get_by_test_id("compliance-item-search").fill(item_id or "")
    row = page.locator(f"[data-testid=failed-row][data-item='{item_id}']").first
    expect(row.get_by_test_id("item-requirement")).not_to_be_empty()
    expect(row).to_contain_text("符合")
    expect(row).to_contain_text("人工评估")

    # The PDF report downloads and is a real PDF with the summary in it.
    with page.expect_download(timeout=90_000) as info:
        page.get_by_test_id("download-pdf").click()
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(str(target))
    assert target.suffix == ".pdf"
    data = target.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 5000
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext is missing: scripts/bootstrap.sh installs it (Debian package poppler-utils)"
    text = subprocess.run([pdftotext, str(target), "-"], capture_output=True, text=True, timeout=60, check=True).stdout
    # The report is the one of this run, not merely some compliance report.
    assert run_id in text, text[:2000]
    assert "GB/T 22239" in text, text[:2000]


def test_auditor_verifies_the_audit_trail(page: Page, console: Console) -> None:
    login(page, console, "aud")
    page.wait_for_selector("main[data-ready]:not([data-ready='login'])")
    page.get_by_test_id("nav-audit").click()
    wait_ready(page, "audit")
    rows = page.get_by_test_id("audit-row")
    expect(rows.first).to_be_visible()
    # The table fits the page and each date stays on one line.
    fits = page.evaluate("() => { const t = document.querySelector('[data-testid=audit-table]');"
                         " return t.getBoundingClientRect().right <= document.documentElement.clientWidth + 1; }")
    assert fits
    lines = page.locator("[data-testid=audit-row] td:nth-child(2)").evaluate_all(
        "els => els.map(e => { const r = document.createRange(); r.selectNodeContents(e);"
        " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; })")
    assert lines and max(lines) == 1, lines
    # Search: this auditor's own logins.
    page.get_by_test_id("audit-user").fill("aud")
    page.get_by_test_id("audit-action").fill("auth.login")
    page.get_by_test_id("audit-search").click()
    expect(page.locator("[data-testid=audit-row]:not([data-action='auth.login'])")).to_have_count(0)
    expect(page.locator("[data-testid=audit-row][data-action='auth.login']").first).to_be_visible()
    page.get_by_test_id("audit-verify").click()
    outcome = page.get_by_test_id("audit-verify-outcome")
    expect(outcome).to_have_attribute("data-ok", "true", timeout=60_000)
    expect(outcome).to_contain_text("Elasticsearch")
    shot(page, "30-audit-verified")

    # Someone edits a record straight in Elasticsearch: the verify button names it.
    index = console.settings.index("audit")
    hits = console.store.search(index, {"size": 1, "sort": [{"seq": "asc"}], "query": {"term": {"seq": 3}}})["hits"]["hits"]
    original = hits[0]["_source"]
    try:
        console.store.put(index, hits[0]["_id"], {**original, "actor": "mallory"}, refresh="wait_for")
        page.get_by_test_id("audit-verify").click()
        expect(outcome).to_have_attribute("data-ok", "false", timeout=60_000)
        expect(page.get_by_test_id("audit-first-problem")).to_contain_text("#3")
        shot(page, "31-audit-tampered")
    finally:
        console.store.put(index, hits[0]["_id"], original, refresh="wait_for")
