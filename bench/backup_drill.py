"""Backup and restore-drill throughput vs a plain ``tar`` of the same data, same run.

    .venv/bin/python bench/backup_drill.py [--size-mb 1024] [--url URL] [--keep]

Half of ``--size-mb`` goes into one Elasticsearch index (synthetic events, measured by the
index's primary store size), half into a directory of files (half random, half text). The
orchestrator backs both up (ES snapshot + restic, with fingerprints for the manifest), then a drill
restores them into scratch targets and verifies counts, fingerprints and samples. The baseline is ``tar``
of the directory and of the index's shard files (``tar -c``), then ``tar -x`` + SHA-256 of
every extracted file. Prints MB/s for each, the ratios, and the drill's measured RTO.

Without ``--url`` (or SOC_TEST_ES_URL/SOC_ES_URL) a managed node is started on free ports.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backup_orchestrator import es_snapshots, service  # noqa: E402
from core import yamlio  # noqa: E402
from core.auditing import Actor, MemoryAuditor  # noqa: E402
from core.es import Store  # noqa: E402
from core.node import ManagedNode  # noqa: E402
from core.settings import load_settings  # noqa: E402

MB = 1024 * 1024
WORDS = ["login", "failed", "accepted", "session", "opened", "closed", "sshd", "sudo", "cron", "kernel", "audit", "user", "root", "admin", "alice", "bob", "connection", "from", "port", "denied", "allowed", "policy", "firewall"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill_index(store: Store, index: str, target_bytes: int) -> int:
    rnd = random.Random(11)
    store.ensure_index(index, settings={"refresh_interval": "-1"})
    n = 0
    while True:
        docs = []
        for _ in range(5000):
            msg = " ".join(rnd.choice(WORDS) for _ in range(rnd.randrange(40, 120)))
            docs.append((index, f"e{n}", {"@timestamp": f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:00:00.000Z",
                                          "message": msg, "host": {"name": f"host{n % 50}"},
                                          "event": {"sequence": n, "dataset": "bench.backup"},
                                          "blob": os.urandom(96).hex()}))
            n += 1
        result = store.bulk_create(docs)
        assert result.all_stored, result.rejected[:1]
        if n % 50000 == 0:
            store.request("POST", f"/{index}/_flush")
            if _store_bytes(store, index) >= target_bytes:
                break
    store.request("PUT", f"/{index}/_settings", body={"index": {"refresh_interval": "1s"}})
    store.request("POST", f"/{index}/_forcemerge", params={"max_num_segments": "1"})
    store.refresh(index)
    return n


def _store_bytes(store: Store, index: str) -> int:
    stats = store.request("GET", f"/{index}/_stats/store")
    return int(stats["indices"][index]["primaries"]["store"]["size_in_bytes"])


def fill_directory(root: Path, target_bytes: int) -> int:
    rnd = random.Random(5)
    size = 8 * MB
    written = 0
    i = 0
    while written < target_bytes:
        sub = root / f"d{i % 8}"
        sub.mkdir(parents=True, exist_ok=True)
        chunk = min(size, target_bytes - written)
        if i % 2:
            data = os.urandom(chunk)
        else:
            line = (" ".join(rnd.choice(WORDS) for _ in range(12)) + "\n").encode()
            data = (line * (chunk // len(line) + 1))[:chunk]
        (sub / f"f{i}.dat").write_bytes(data)
        written += chunk
        i += 1
    return written


def shard_dir(store: Store, index: str) -> Path:
    uuid_ = store.request("GET", f"/{index}/_settings")[index]["settings"]["index"]["uuid"]
    data_paths = store.request("GET", "/_nodes/settings", params={"filter_path": "nodes.*.settings.path.data"})
    for node in data_paths["nodes"].values():
        paths = node["settings"]["path"]["data"]
        for p in [paths] if isinstance(paths, str) else paths:
            cand = Path(p) / "indices" / uuid_
            if cand.is_dir():
                return cand
    raise SystemExit(f"cannot find the shard files of {index} on this host (is the node local?)")


def tar_baseline(work: Path, sources: list[Path]) -> tuple[float, float]:
    archive = work / "baseline.tar"
    t0 = time.monotonic()
    subprocess.run(["tar", "-cf", str(archive), *[str(s) for s in sources]], check=True,
                   stderr=subprocess.DEVNULL)
    os.sync()
    backup_s = time.monotonic() - t0
    out = work / "baseline-out"
    out.mkdir()
    t1 = time.monotonic()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(out)], check=True)
    for dirpath, _dirs, files in os.walk(out):
        for f in files:
            h = hashlib.sha256()
            with open(os.path.join(dirpath, f), "rb") as fh:
                while block := fh.read(MB):
                    h.update(block)
    restore_s = time.monotonic() - t1
    archive.unlink()
    shutil.rmtree(out)
    return backup_s, restore_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024, help="total data (half index, half files)")
    ap.add_argument("--url", default=os.environ.get("SOC_TEST_ES_URL") or os.environ.get("SOC_ES_URL"))
    ap.add_argument("--work", type=Path, default=None, help="working directory (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="qinglang-bench-", dir=args.work))
    node = None
    url = args.url
    if not url:
        node_settings = load_settings(data_dir=work / "node", es={"port": free_port(), "transport_port": free_port()})
        node = ManagedNode(node_settings)
        print("starting a managed node …", flush=True)
        node.start(log=lambda _m: None)
        url = node.url
    prefix = "bench" + uuid.uuid4().hex[:8]
    store = Store.from_url(url, request_timeout=300)
    half = args.size_mb * MB // 2
    index = f"{prefix}-events-bench"
    src = work / "src"
    try:
        print(f"preparing {args.size_mb} MB: index {index} and directory {src} …", flush=True)
        docs = fill_index(store, index, half)
        dir_bytes = fill_directory(src, half)
        index_bytes = _store_bytes(store, index)
        total_mb = (index_bytes + dir_bytes) / MB
        print(f"  index: {docs} docs, {index_bytes / MB:.0f} MB on disk; directory: {dir_bytes / MB:.0f} MB")

        pw = work / "restic.pw"
        pw.write_text(uuid.uuid4().hex)
        pw.chmod(0o600)
        plans_file = work / "plans.yaml"
        plans_file.write_text(yamlio.dumps({"plans": [{
            "id": "bench", "assets": {"elasticsearch": {"indices": [index]}, "paths": [str(src)]},
            "primary": {"restic": str(work / "restic")}, "objectives": {"rpo": "1h", "rto": "1h"},
            "drill": {"check_subset": "10%"}}]}))
        settings = load_settings(data_dir=work / "data", index_prefix=prefix, es={"url": url},
                                 backup={"plans_file": str(plans_file), "restic_password_file": str(pw)})
        actor, auditor = Actor("bench", "sysadmin"), MemoryAuditor()
        ctx = service.context(settings, store)

        t0 = time.monotonic()
        run = service.run_backup(ctx, actor, auditor, "bench")
        backup_s = time.monotonic() - t0
        if run["status"] != "success":
            print(f"backup failed: {run.get('error')}")
            return 1
        drill = service.run_drill(ctx, actor, auditor, "bench")
        if drill["status"] != "passed":
            print(f"drill failed at {drill.get('failed_check')}: {drill['checks']}")
            return 1
        rto = drill["rto_seconds"]

        tar_b, tar_r = tar_baseline(work, [src, shard_dir(store, index)])
        ours_b, ours_r = total_mb / backup_s, total_mb / rto
        base_b, base_r = total_mb / tar_b, total_mb / tar_r
        split = drill["rto"]
        print(f"data: {total_mb:.0f} MB (index {index_bytes / MB:.0f} MB + files {dir_bytes / MB:.0f} MB)")
        print(f"backup (snapshot + restic + fprint): {backup_s:7.1f} s  {ours_b:7.1f} MB/s")
        print(f"tar -c baseline:                       {tar_b:7.1f} s  {base_b:7.1f} MB/s")
        print(f"restore + verify (drill):              {rto:7.1f} s  {ours_r:7.1f} MB/s "
              f"(fetch {split['fetch_seconds']:.1f} s, restore {split['restore_seconds']:.1f} s, "
              f"verify {split['verify_seconds']:.1f} s)")
        print(f"tar -x + sha256 baseline:              {tar_r:7.1f} s  {base_r:7.1f} MB/s")
        print(f"ratio backup ours/tar: {ours_b / base_b:.2f}   ratio restore+verify ours/tar: {ours_r / base_r:.2f}")
        print(f"measured RTO: {rto:.1f} s   RPO at drill: {drill['rpo_seconds']:.1f} s   drill: {drill['status']}")
        print("what the drill verified, and how:")
        for check in drill["checks"]:
            print(f"  {check['name']:<24} {check['status']:<7} {check['seconds']:6.2f} s  {check['detail']}")
        return 0
    finally:
        store.delete_indices(f"{prefix}-*")
        store.delete_indices(f"drill-*-{prefix}-*")
        for repo in store.request("GET", "/_snapshot/_all") or {}:
            if repo.startswith(prefix):
                es_snapshots.unregister(store, repo)
        shutil.rmtree(es_snapshots.path_repo(store)[0] / prefix, ignore_errors=True)
        store.close()
        if node is not None:
            node.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
