"""Detection cycle on one node vs a 3-node cluster, measured in the same run.

Starts a managed single node, then a managed 3-node cluster (loopback, same heap per node),
writes the same synthetic Sysmon events into each (``bench/detect_cycle.py``'s generator and
index, i.e. the platform's layout: one primary, a replica once there are two data nodes), loads
the SigmaHQ rules and times full detection cycles. Prints both figures and the speed-up.

    .venv/bin/python bench/cluster_cycle.py [--events 200000] [--rules 0] [--heap 512m] [--cycles 2]

The nodes share this machine's cores: on a 2-core host three nodes cannot be 3x one node; the
figure says what distribution over nodes buys (or costs) here, not on three machines.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import detect_cycle as dc  # noqa: E402

from core.cluster import ManagedCluster  # noqa: E402
from core.es import Store  # noqa: E402
from core.node import ManagedNode  # noqa: E402
from core.settings import load_settings  # noqa: E402
from detections import repository as repo  # noqa: E402
from detections.loader import load_paths  # noqa: E402
from detections.models import CompiledRule  # noqa: E402
from detections.runner import RunnerConfig, run_cycle  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def data_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="soc-bench-cluster-"))
    path.chmod(0o755)  # the unprivileged Elasticsearch user must traverse it when we are root
    return path


def measure(url: str, label: str, n: int, rules: list[CompiledRule], cycles: int, concurrency: int) -> list[float]:
    store = Store.from_url(url, request_timeout=600)
    info = store.check()
    began = time.monotonic()
    count, index = dc.ensure_events(store, n)
    store.wait_for_status("green", "300s", index=index)
    print(f"[{label}] {info.nodes} node(s): {count} events indexed in {time.monotonic() - began:.0f} s", flush=True)
    shards = store.request("GET", f"/_cat/shards/{index}", params={"format": "json", "h": "prirep,node"})
    print(f"[{label}] event index copies: {sorted((r['prirep'], r['node']) for r in shards)}")
    repo.save_rules(store, dc.PREFIX, rules, enabled=True)
    docs = repo.list_rule_docs(store, dc.PREFIX, enabled_only=True)
    # Platform indices exist before timing (creating them is a one-off cluster-state change).
    repo.ensure_indices(store, dc.PREFIX)
    store.wait_for_status("green", "120s", index=f"{dc.PREFIX}-*")
    times = []
    for i in range(cycles):
        # Forget the checkpoints so every cycle judges all events again.
        for partition in range(8):
            store.delete(repo.state_index(dc.PREFIX), f"partition-{partition}", refresh=True)
        cfg = RunnerConfig(prefix=dc.PREFIX, worker_id=f"bench-{i}", settle_seconds=0, partitions=8,
                           max_alerts_per_run=100, initial_lookback_seconds=86400 * 3,
                           search_concurrency=concurrency)
        print(f"[{label}] before cycle {i + 1}: {dc.load()}", flush=True)
        began = time.monotonic()
        result = run_cycle(store, cfg, force=True, rule_docs=docs)
        took = time.monotonic() - began
        times.append(took)
        print(f"[{label}] cycle {i + 1}: {result.rules_run} rules in {took:.1f} s, alerts {result.alerts_created} "
              f"(grouped events {sum(r.grouped for r in result.results)}), "
              f"errors {result.errors}", flush=True)
    store.close()
    return times


def with_topology(nodes: int, heap: str, run: Callable[[str], list[float]]) -> list[float]:
    base = data_dir()
    settings = load_settings(data_dir=base, es={"heap": heap, "start_timeout": 300, "port": free_port(),
                                                "transport_port": free_port()})
    cluster: ManagedCluster | None = None
    node: ManagedNode | None = None
    try:
        began = time.monotonic()
        if nodes == 1:
            node = ManagedNode(settings)
            node.start(log=lambda _m: None)
            url = node.url
        else:
            cluster = ManagedCluster(settings, base, [(free_port(), free_port()) for _ in range(nodes)])
            cluster.start(log=lambda _m: None)
            url = cluster.url
        print(f"started {nodes} node(s) with {heap} heap each in {time.monotonic() - began:.0f} s", flush=True)
        return run(url)
    finally:
        if cluster is not None:
            cluster.stop()
        if node is not None:
            node.stop()
        shutil.rmtree(base, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rules", type=int, default=0, help="use only the first N rules (0 = all)")
    parser.add_argument("--heap", default="512m", help="heap of every node")
    parser.add_argument("--cycles", type=int, default=2, help="cycles per topology (the best counts)")
    parser.add_argument("--concurrency", type=int, default=RunnerConfig.search_concurrency,
                        help="searches in flight per cycle (the runner's search_concurrency)")
    args = parser.parse_args()
    report = load_paths([p for p in sorted(dc.SIGMA.iterdir()) if p.is_dir() and p.name.startswith("rules")])
    rules = [r for r in report.rules if r.query is not None or r.correlation is not None]
    if args.rules:
        rules = rules[:args.rules]
    print(f"rules: {len(rules)}; events: {args.events}; cores: {os.cpu_count()}", flush=True)
    one = with_topology(1, args.heap, lambda url: measure(url, "1 node", args.events, rules, args.cycles,
                                                                   args.concurrency))
    three = with_topology(3, args.heap, lambda url: measure(url, "3 nodes", args.events, rules, args.cycles,
                                                                      args.concurrency))
    best1, best3 = min(one), min(three)
    print(f"cycle, best of {args.cycles}: 1 node {best1:.1f} s (baseline, same run), 3 nodes {best3:.1f} s; "
          f"speed-up {best1 / best3:.2f}x (linear would be 3.00x; {os.cpu_count()} cores shared by all nodes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
