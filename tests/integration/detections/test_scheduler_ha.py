"""Scheduler processes against one node: kill -9 mid-run (no window skipped, no alert
duplicated) and a stopped scheduler (events keep arriving; on restart every matching event
raises exactly one alert; reruns add nothing)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.auditing import Actor, MemoryAuditor
from detections import repository as repo
from detections.runner import RunnerConfig, run_cycle
from detections.service import import_rules
from tests.integration.detections.conftest import alerts, ts, write_events

ROOT = Path(__file__).resolve().parents[3]
RULES = 8


def make_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for i in range(RULES):
        (folder / f"r{i}.yml").write_text(
            f"title: ha rule {i}\nid: 11111111-0000-4000-8000-{i:012d}\nstatus: test\n"
            "logsource:\n    product: linux\n    service: auth\n"
            f"detection:\n    sel:\n        labels.ha: 'hit{i}'\n    condition: sel\nlevel: high\n")
    return folder


def events(batch: int, n: int) -> list[dict]:
    out = []
    for k in range(n):
        out.append({"_id": f"b{batch}-e{k}", "@timestamp": ts(5), "event": {"dataset": "system.auth"},
                    "labels": {"ha": f"hit{k % RULES}" if k % 3 else "miss"}, "message": f"event {batch}/{k}"})
    return out


def expected_pairs(docs: list[dict]) -> set[tuple[str, str]]:
    return {(f"11111111-0000-4000-8000-{int(d['labels']['ha'][3:]):012d}", d["_id"]) for d in docs
            if d["labels"]["ha"] != "miss"}


# The window end lags "now" by the settle time: an event stamped event.ingested=t is only
# searchable after its bulk write and a refresh (1 s), so the settle must exceed both.
def spawn(settings, *extra: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update({"SOC_INDEX_PREFIX": settings.index_prefix, "SOC_ES_URL": settings.es_url,
                "SOC_DATA_DIR": str(settings.data_dir), "SOC_DETECT_TICK_SECONDS": "1",
                "SOC_DETECT_INTERVAL_SECONDS": "1", "SOC_DETECT_LEASE_SECONDS": "4",
                "SOC_DETECT_SETTLE_SECONDS": "3", "SOC_DETECT_PARTITIONS": "4", "PYTHONPATH": str(ROOT)})
    env.pop("SOC_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "tests.integration.detections.worker", *extra],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_alerts(store, prefix, want: set[tuple[str, str]], timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        got = alerts(store, prefix)
        if {(a["rule"]["id"], a["source_event"]["id"]) for a in got} >= want or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def check_exactly_once(got: list[dict], want: set[tuple[str, str]]) -> None:
    pairs = [(a["rule"]["id"], a["source_event"]["id"]) for a in got]
    assert len(pairs) == len(set(pairs)), "duplicate alerts"
    missing = want - set(pairs)
    assert not missing, f"{len(missing)} matching events raised no alert (a window was skipped): {sorted(missing)[:5]}"
    assert set(pairs) == want, f"unexpected alerts: {sorted(set(pairs) - want)[:5]}"


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_kill_9_mid_run_skips_no_window_and_duplicates_no_alert(store, settings, tmp_path):
    prefix = settings.index_prefix
    import_rules(store, prefix, [make_rules(tmp_path)], actor=Actor("cli:t", "cli"), auditor=MemoryAuditor())
    first = events(1, 60)
    write_events(store, prefix, first)
    marker = tmp_path / "paused"
    victim = spawn(settings, "--pause-first-commit", str(marker))
    peer = None
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert victim.poll() is None, victim.stderr.read().decode() if victim.stderr else ""
            assert time.monotonic() < deadline, "worker never reached its first commit"
            time.sleep(0.2)
        peer = spawn(settings)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        second = events(2, 60)
        write_events(store, prefix, second)
        time.sleep(1)
        third = events(3, 30)
        write_events(store, prefix, third)
        want = expected_pairs(first + second + third)
        got = wait_for_alerts(store, prefix, want)
        assert peer.poll() is None, peer.stderr.read().decode() if peer.stderr else ""
    finally:
        if victim.poll() is None:
            victim.kill()
        if peer is not None:
            stop(peer)
    check_exactly_once(got, want)


def test_stopped_scheduler_backfills_and_reruns_add_nothing(store, settings, tmp_path):
    prefix = settings.index_prefix
    import_rules(store, prefix, [make_rules(tmp_path)], actor=Actor("cli:t", "cli"), auditor=MemoryAuditor())
    first = events(1, 30)
    write_events(store, prefix, first)
    worker = spawn(settings)
    try:
        wait_for_alerts(store, prefix, expected_pairs(first), timeout=40)
    finally:
        stop(worker)
    # Down for a while; events keep arriving (some with event times older than the checkpoint).
    down = events(2, 45)
    for d in down[:15]:
        d["@timestamp"] = ts(3600)
    write_events(store, prefix, down[:20])
    time.sleep(1.5)
    write_events(store, prefix, down[20:])
    worker = spawn(settings)
    try:
        want = expected_pairs(first + down)
        got = wait_for_alerts(store, prefix, want, timeout=40)
    finally:
        stop(worker)
    check_exactly_once(got, want)
    # Reruns over the same data (checkpoints forgotten, everything re-judged) add no alert.
    cfg = RunnerConfig(prefix=prefix, worker_id="rerun", settle_seconds=0, partitions=4,
                       initial_lookback_seconds=7200)
    for _ in range(3):
        store.delete_indices(repo.state_index(prefix))
        run_cycle(store, cfg, force=True)
    check_exactly_once(alerts(store, prefix), want)
