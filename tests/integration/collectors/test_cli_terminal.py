"""Every command that draws a progress bar (collect file|evtx|pcap, hunt evtx), run on a real pseudo-terminal (issue 15.1: the bar
crashed `soc collect file|evtx` on a terminal while every piped test passed)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from core.es import Store
from core.settings import Settings
from tests.conftest import TEST_SECRET
from tests.pty_run import run_in_pty


def _env(settings: Settings) -> dict[str, str]:
    return {"SOC_ES_URL": settings.es_url or "", "SOC_INDEX_PREFIX": settings.index_prefix,
            "SOC_DATA_DIR": str(settings.data_dir), "SOC_LANGUAGE": "en", "SOC_AUDIT_SECRET_KEY": TEST_SECRET}


def _evtx_dir(shared_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "case"
    nested = root / "host1" / "Logs"
    nested.mkdir(parents=True)
    sources = sorted((shared_dir / "sigma" / "regression_data").rglob("*.evtx"))[:2]
    for i, src in enumerate(sources):
        shutil.copy(src, (nested if i else root) / f"{i}-{src.name}")
    return root


def _pcap_gz(shared_dir: Path, tmp_path: Path) -> Path:
    src = shared_dir / "pcaps" / "tests" / "ftp" / "ftp-upload-active" / "input.pcap"
    out = tmp_path / "trace.pcap.gz"
    out.write_bytes(gzip.compress(src.read_bytes()))
    return out


@pytest.mark.parametrize("command", ["file", "evtx", "pcap", "hunt"])
def test_progress_bar_commands_work_on_a_terminal(command: str, settings: Settings, store: Store, prefix: str,
                                                  shared_dir: Path, tmp_path: Path) -> None:
    args = {
        "file": lambda: ["collect", "file", "--parser", "system.auth",
                 str(shared_dir / "logs" / "beats" / "system" / "auth" / "secure-rhel7.log")],
        "evtx": lambda: ["collect", "evtx", str(_evtx_dir(shared_dir, tmp_path))],
        "pcap": lambda: ["collect", "pcap", str(_pcap_gz(shared_dir, tmp_path))],
        "hunt": lambda: ["hunt", "evtx", str(_evtx_dir(shared_dir, tmp_path)), "--rules",
                 str(shared_dir / "sigma" / "rules" / "windows" / "builtin" / "system")],
    }[command]()
    result = run_in_pty(args, _env(settings))
    assert "Traceback" not in result.output, result.output
    assert result.returncode == 0, result.output
    # The bar was drawn (its label) and the summary printed after it.
    labels = {"pcap": ["Reading captures"], "hunt": ["Importing EVTX", "Running rules", "rules run"]}
    for label in labels.get(command, ["Importing"]):
        assert label in result.output, result.output
    store.refresh(f"{prefix}-events-*")
    assert store.count(f"{prefix}-events-*") > 0
