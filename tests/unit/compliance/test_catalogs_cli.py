"""`soc compliance catalogs` prints a table per catalog (family, name, items, total), not a dict."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from soc.cli import main


def _run(tmp_path: Path, lang: str, *args: str) -> str:
    cfg = tmp_path / f"{lang}.yml"
    cfg.write_text(f"language: {lang}\ndata_dir: {tmp_path}\nes: {{url: 'http://127.0.0.1:9'}}\n")
    with CliRunner().isolation() as streams:
        assert main(["--config", str(cfg), "compliance", "catalogs", *args]) == 0
        return streams[0].getvalue().decode()


def test_catalogs_table(tmp_path: Path) -> None:
    out = _run(tmp_path, "en")
    assert "{" not in out
    assert "mlps-2.0-l3 — GB/T 22239-2019, level 3" in out
    l3 = out.split("mlps-2.0-l3")[1]
    assert l3.splitlines()[1].split() == ["Family", "Name", "Items"]
    assert any(line.split()[-1] == "211" and "Total" in line for line in l3.splitlines())
    zh = _run(tmp_path, "zh-CN")
    assert "安全计算环境" in zh and "合计" in zh
    assert '"items": 211' in _run(tmp_path, "en", "--json").replace(" ", "").replace('"items":211', '"items": 211')


def test_band_is_said_in_the_report_language() -> None:
    from compliance.reports.data import band_label

    assert band_label("差", "en") == "Poor (差)" and band_label("优", "en") == "Excellent (优)"
    assert band_label("良", "zh-CN") == "良" and band_label(None, "en") is None
