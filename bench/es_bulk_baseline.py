"""Bulk indexing ceiling: the raw client's bulk helper (auto ids) vs ``core.es`` (deterministic ids,
``op_type=create``, per-item results), same synthetic ECS events, same node, same run.

    .venv/bin/python bench/es_bulk_baseline.py [--events 500000] [--batch 5000] [--url URL]

Without ``--url`` (or SOC_TEST_ES_URL) a managed node is started on free ports in a temp dir.
The collectors are measured against the first figure (the ceiling).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.es import Store  # noqa: E402
from core.event_layout import backing_index, events_alias  # noqa: E402
from core.ids import stable_id  # noqa: E402
from core.node import ManagedNode  # noqa: E402
from core.schema import install_templates  # noqa: E402
from core.settings import load_settings  # noqa: E402
from core.timeutil import iso, utcnow  # noqa: E402

USERS = ["root", "admin", "alice", "bob", "deploy", "oracle", "postgres"]


def synth_events(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    now = iso(utcnow())
    out = []
    for i in range(n):
        user = rnd.choice(USERS)
        ip = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        ok = rnd.random() < 0.7
        msg = (f"{'Accepted' if ok else 'Failed'} password for {user} from {ip} port {rnd.randrange(1024, 65535)} ssh2")
        out.append({
            "@timestamp": now,
            "message": msg,
            "event": {"kind": "event", "category": ["authentication"], "type": ["start" if ok else "info"],
                      "outcome": "success" if ok else "failure", "dataset": "system.auth", "module": "system",
                      "action": "ssh_login", "created": now},
            "host": {"name": f"web{i % 20:02d}"},
            "user": {"name": user},
            "source": {"ip": ip, "port": rnd.randrange(1024, 65535)},
            "process": {"name": "sshd", "pid": rnd.randrange(100, 60000)},
            "log": {"file": {"path": "/var/log/auth.log"}, "offset": i * 120},
        })
    return out


def run(url: str, n: int, batch: int) -> None:
    from elasticsearch import Elasticsearch, helpers  # bench only: the raw baseline

    store = Store.from_url(url, request_timeout=120)
    store.check()
    events = synth_events(n)
    prefix_raw, prefix_ours = "bench-raw", "bench-ours"
    for p in (prefix_raw, prefix_ours):
        store.delete_indices(f"{p}-*")
        install_templates(store, p)
    idx_raw = backing_index(events_alias(prefix_raw, "system.auth"))
    idx_ours = backing_index(events_alias(prefix_ours, "system.auth"))
    store.ensure_index(idx_raw, settings={"refresh_interval": "1s"})
    store.ensure_index(idx_ours, settings={"refresh_interval": "1s"})

    raw = Elasticsearch(url, request_timeout=120)
    # Warm the JVM and the mappings first so neither contender pays for it.
    warm = backing_index(events_alias("bench-warm", "system.auth"))
    install_templates(store, "bench-warm")
    helpers.bulk(raw, ({"_index": warm, "_source": e} for e in events[:20_000]), chunk_size=batch)
    store.delete_indices("bench-warm-*")
    store.delete_index_templates("bench-warm-*")
    t0 = time.perf_counter()
    ok, _ = helpers.bulk(raw, ({"_index": idx_raw, "_source": e} for e in events), chunk_size=batch,
                         stats_only=True)
    raw_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    created = 0
    for start in range(0, n, batch):
        chunk = events[start:start + batch]
        res = store.bulk_create(
            (idx_ours, stable_id("bench", "auth.log", start + j), e) for j, e in enumerate(chunk)
        )
        created += res.created
    ours_s = time.perf_counter() - t0

    # Replay: the same ids again must add nothing.
    t0 = time.perf_counter()
    dup = 0
    for start in range(0, min(n, 50_000), batch):
        chunk = events[start:start + batch]
        dup += store.bulk_create(
            (idx_ours, stable_id("bench", "auth.log", start + j), e) for j, e in enumerate(chunk)
        ).exists
    replay_s = time.perf_counter() - t0
    store.refresh(idx_raw)
    store.refresh(idx_ours)
    count_raw, count_ours = store.count(idx_raw), store.count(idx_ours)

    raw_rate, ours_rate = n / raw_s, n / ours_s
    print(f"events: {n}, batch: {batch}, node: {url}")
    print(f"raw bulk helper (auto ids):            {raw_rate:12,.0f} docs/s  ({raw_s:.1f} s, {ok} ok, {count_raw} stored)")
    print(f"core.es bulk_create (deterministic ids): {ours_rate:12,.0f} docs/s  ({ours_s:.1f} s, {created} created, {count_ours} stored)")
    print(f"ratio core.es / raw: {ours_rate / raw_rate:.2f}")
    print(f"replay of {min(n, 50_000)} events: {dup} reported as already stored, {replay_s:.1f} s, "
          f"stored count unchanged: {store.count(idx_ours) == count_ours}")
    for p in (prefix_raw, prefix_ours):
        store.delete_indices(f"{p}-*")
        store.delete_index_templates(f"{p}-*")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--url", default=os.environ.get("SOC_TEST_ES_URL"))
    args = ap.parse_args()
    if args.url:
        run(args.url, args.events, args.batch)
        return
    import socket

    def port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    with tempfile.TemporaryDirectory(prefix="soc-bench-") as tmp:
        node = ManagedNode(load_settings(data_dir=tmp, es={"port": port(), "transport_port": port(), "heap": "2g"}))
        node.start()
        try:
            run(node.url, args.events, args.batch)
        finally:
            node.stop()


if __name__ == "__main__":
    main()
