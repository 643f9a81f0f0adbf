"""Exactly-once under faults, against a real node of our own (free ports, temporary data dir):
100k lines tailed by `soc collect run` in a subprocess while Elasticsearch is stopped for 30 s
and started again, then the collector is killed with SIGKILL in the middle of shipping and
restarted. End state: exactly 100k documents, each line once."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from core.es import Store
from core.node import ManagedNode
from core.settings import load_settings
from tests.conftest import TEST_SECRET, free_port, node_data_dir
from tests.integration.collectors.helpers import Writer, assert_exactly, count, wait_for, write_inputs

N = 100_000
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def own_node() -> Iterator[ManagedNode]:
    data_dir = node_data_dir()
    settings = load_settings(data_dir=data_dir, es={"port": free_port(), "transport_port": free_port(),
                                                    "heap": "512m"})
    node = ManagedNode(settings)
    node.start(log=lambda _m: None)
    yield node
    node.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def _collector(tmp: Path, url: str, prefix: str, inputs: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SOC_ES_URL": url, "SOC_DATA_DIR": str(tmp / "data"), "SOC_INDEX_PREFIX": prefix,
           "SOC_COLLECT_BATCH_SIZE": "1000", "SOC_COLLECT_STATUS_SECONDS": "0.5", "PYTHONPATH": str(ROOT),
           "SOC_AUDIT_SECRET_KEY": TEST_SECRET}
    env.pop("SOC_CONFIG", None)
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "soc", "collect", "run", "--inputs", str(inputs)],  # noqa: S603
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT))


def _status(tmp: Path) -> dict:
    try:
        return orjson.loads((tmp / "data" / "collect" / "status.json").read_bytes())
    except (OSError, ValueError):
        return {}


@pytest.mark.timeout(600)
def test_es_outage_and_collector_kill_lose_nothing_and_duplicate_nothing(own_node: ManagedNode, tmp_path: Path) -> None:
    prefix = "fault" + os.urandom(3).hex()
    store = Store.from_url(own_node.url, request_timeout=30)
    log_file = tmp_path / "app.log"
    log_file.touch()
    inputs = write_inputs(tmp_path / "inputs.yaml", [
        {"name": "app", "type": "file", "paths": [str(log_file)], "parser": "system.syslog"}])
    collector_log = tmp_path / "collector.log"
    writer = Writer(log_file, 1, N, per_second=2000)
    proc = _collector(tmp_path, own_node.url, prefix, inputs, collector_log)
    timeline = []
    try:
        writer.start()
        # SIGKILL while lines are being read, spooled and shipped at the same time.
        wait_for(lambda: count(store, prefix) >= 8_000, 120, "8k documents before the kill", interval=0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        timeline.append(f"collector killed at {count(store, prefix)} docs, writer at line {writer.next}")
        proc = _collector(tmp_path, own_node.url, prefix, inputs, collector_log)
        wait_for(lambda: count(store, prefix) >= 30_000, 120, "30k documents before the outage")
        t0 = time.monotonic()
        timeline.append(f"ES stopped at {count(store, prefix)} docs")
        own_node.stop()
        time.sleep(30)
        status_down = _status(tmp_path)
        own_node.start(log=lambda _m: None)
        timeline.append(f"ES back after {time.monotonic() - t0:.0f}s, writer at line {writer.next}")
        # While Elasticsearch was away the collector kept reading into its spool.
        assert status_down.get("es_unavailable") is True
        assert status_down.get("spool_pending_bytes", 0) > 0
        writer.join(120)
        assert not writer.is_alive()
        wait_for(lambda: count(store, prefix) >= N, 240, f"{N} documents")
        time.sleep(3)  # anything late would be a duplicate
        assert_exactly(store, prefix, N)
        wait_for(lambda: _status(tmp_path).get("spool_pending_bytes") == 0, 30, "an empty spool")
        print("; ".join(timeline), "| after restart:", _status(tmp_path).get("inputs"))
    finally:
        writer.stop.set()
        with contextlib.suppress(Exception):
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        with contextlib.suppress(Exception):
            store.delete_indices(f"{prefix}-*")
        store.close()
        if proc.returncode not in (0, -15, None):
            print(collector_log.read_text()[-3000:])
