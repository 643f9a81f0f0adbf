"""Collector throughput end to end (lines → parser → spool → bulk → Elasticsearch) against the
raw bulk ceiling measured in the same run, plus the collector's resident memory.

    .venv/bin/python bench/collect_throughput.py               # 200k lines per scenario
    .venv/bin/python bench/collect_throughput.py --quick       # 50k
    .venv/bin/python bench/collect_throughput.py --url http://127.0.0.1:9250 --events 300000

Scenarios, each on its own throwaway index prefix:

* ceiling: the elasticsearch client's ``helpers.bulk`` (auto ids) indexing the very documents
  our parser makes from the same lines (parsed beforehand, outside the clock);
* file: ``soc collect run`` (a separate process) tailing a file of N syslog lines that appears
  atomically once the daemon runs; clock from the file's appearance to the last acknowledgement;
* tcp: the same daemon with a syslog TCP input, N newline-framed lines sent by this process;
* evtx (unless --no-evtx): ``collectors.evtx`` + spool + bulk for the shared EVTX samples
  vs the bare ``evtx`` parser reading the same files.

Prints events/s for each, the ratio to the ceiling (goal >= 0.70 and >= 20,000 events/s) and
the collector's peak RSS (goal <= 300 MB). Without --url a managed node is started on free
ports in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import psutil  # noqa: E402

from core.auditing import Actor  # noqa: E402
from core.es import Store  # noqa: E402
from core.event_layout import backing_index, events_alias  # noqa: E402
from core.node import ManagedNode  # noqa: E402
from core.schema import install_templates  # noqa: E402
from core.settings import load_settings  # noqa: E402
from core.yamlio import dumps  # noqa: E402

USERS = ["root", "admin", "alice", "bob", "deploy", "oracle", "postgres"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_lines(n: int) -> list[bytes]:
    rnd = random.Random(7)
    out = []
    for i in range(n):
        user = rnd.choice(USERS)
        ip = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        verb = "Accepted" if rnd.random() < 0.7 else "Failed"
        sec = i % 60
        out.append(f"Nov 26 10:{(i // 60) % 60:02d}:{sec:02d} web{i % 20:02d} sshd[{1000 + i % 50000}]: "
                   f"{verb} password for {user} from {ip} port {rnd.randrange(1024, 65535)} ssh2\n".encode())
    return out


def ceiling(store: Store, url: str, lines: list[bytes], batch: int) -> float:
    from elasticsearch import Elasticsearch, helpers  # bench only: the raw baseline

    from collectors.parsers import get_parser

    parser = get_parser("syslog")
    docs = []
    for raw in lines:
        dataset, doc, _ok = parser.parse([raw.decode().rstrip("\n")])
        docs.append(doc)
    prefix = "benchceil" + uuid.uuid4().hex[:6]
    install_templates(store, prefix)
    index = backing_index(events_alias(prefix, "system.auth"))
    store.ensure_index(index)
    client = Elasticsearch(url, request_timeout=120)
    warm = docs[: min(20_000, len(docs))]
    helpers.bulk(client, ({"_index": index + "-warm", "_source": d} for d in warm), chunk_size=batch)
    t0 = time.perf_counter()
    helpers.bulk(client, ({"_index": index, "_source": d} for d in docs), chunk_size=batch, stats_only=True)
    seconds = time.perf_counter() - t0
    store.refresh(index)
    assert store.count(index) == len(docs)
    store.delete_indices(f"{prefix}-*")
    store.delete_index_templates(f"{prefix}-*")
    client.close()
    return len(docs) / seconds


class Collector:
    """``soc collect run`` in a child process, with RSS sampling."""

    def __init__(self, url: str, tmp: Path, inputs: list[dict[str, Any]], batch: int) -> None:
        self.prefix = "benchcol" + uuid.uuid4().hex[:6]
        self.data = tmp / self.prefix
        self.data.mkdir()
        inputs_file = self.data / "inputs.yaml"
        inputs_file.write_text(dumps({"inputs": inputs}))
        env = {**os.environ, "SOC_ES_URL": url, "SOC_DATA_DIR": str(self.data), "SOC_INDEX_PREFIX": self.prefix,
               "SOC_COLLECT_BATCH_SIZE": str(batch), "SOC_COLLECT_STATUS_SECONDS": "0.1",
               "SOC_AUDIT_SECRET_KEY": uuid.uuid4().hex * 2}
        env.pop("SOC_CONFIG", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "soc", "collect", "run", "--inputs", str(inputs_file)],  # noqa: S603
                                     env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.peak_rss = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        try:
            ps = psutil.Process(self.proc.pid)
            while not self._stop.is_set():
                self.peak_rss = max(self.peak_rss, ps.memory_info().rss)
                time.sleep(0.1)
        except psutil.Error:
            pass

    def status(self) -> dict[str, Any]:
        try:
            return dict(orjson.loads((self.data / "collect" / "status.json").read_bytes()))
        except (OSError, ValueError):
            return {}

    def wait_running(self) -> None:
        deadline = time.monotonic() + 60
        while self.status().get("state") != "running":
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"collector did not start: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            time.sleep(0.1)

    def wait_acked(self, n: int, timeout: float = 600) -> float:
        deadline = time.monotonic() + timeout
        while True:
            inputs = self.status().get("inputs") or {}
            done = sum(row.get("shipped", 0) + row.get("duplicates", 0) + row.get("dead_lettered", 0)
                       for row in inputs.values())
            if done >= n:
                return time.perf_counter()
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done}/{n} acknowledged after {timeout}s")
            time.sleep(0.02)

    def stop(self, store: Store) -> int:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self._stop.set()
        store.refresh(f"{self.prefix}-events-*")
        stored = store.count(f"{self.prefix}-events-*")
        store.delete_indices(f"{self.prefix}-*")
        store.delete_index_templates(f"{self.prefix}-*")
        return stored


def file_scenario(store: Store, url: str, tmp: Path, lines: list[bytes], batch: int) -> tuple[float, int, int]:
    target = tmp / "bench-file" / "auth.log"
    target.parent.mkdir(exist_ok=True)
    staging = tmp / "auth.log.staging"
    staging.write_bytes(b"".join(lines))
    col = Collector(url, tmp, [{"name": "file", "type": "file", "paths": [str(target)], "parser": "syslog",
                                "poll_seconds": 0.05}], batch)
    col.wait_running()
    time.sleep(1.0)  # templates installed, first poll done
    t0 = time.perf_counter()
    os.replace(staging, target)
    t1 = col.wait_acked(len(lines))
    stored = col.stop(store)
    return len(lines) / (t1 - t0), col.peak_rss, stored


def tcp_scenario(store: Store, url: str, tmp: Path, lines: list[bytes], batch: int) -> tuple[float, int, int]:
    port = free_port()
    col = Collector(url, tmp, [{"name": "tcp", "type": "syslog", "protocol": "tcp", "port": port}], batch)
    col.wait_running()
    time.sleep(1.0)
    payload = b"".join(b"<38>" + line for line in lines)
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        view = memoryview(payload)
        for i in range(0, len(view), 1 << 20):
            sock.sendall(view[i:i + (1 << 20)])
    t1 = col.wait_acked(len(lines))
    stored = col.stop(store)
    return len(lines) / (t1 - t0), col.peak_rss, stored


def evtx_scenario(store: Store, url: str, tmp: Path) -> None:
    from evtx import PyEvtxParser

    from collectors import service

    files = sorted((ROOT.parent / "shared" / "sigma" / "regression_data").rglob("*.evtx"))
    if not files:
        print("evtx: no samples found, skipped")
        return
    t0 = time.perf_counter()
    bare = sum(sum(1 for _ in PyEvtxParser(str(f)).records_json()) for f in files)
    bare_s = time.perf_counter() - t0
    prefix = "benchevtx" + uuid.uuid4().hex[:6]
    settings = load_settings(data_dir=tmp / prefix, index_prefix=prefix, es={"url": url})
    t0 = time.perf_counter()
    summary = service.import_evtx(settings, store, files, actor=Actor("cli:bench", "cli"))
    ours_s = time.perf_counter() - t0
    store.delete_indices(f"{prefix}-*")
    store.delete_index_templates(f"{prefix}-*")
    print(f"evtx: {len(files)} files, {bare} records; bare parser {bare / bare_s:,.0f} records/s; "
          f"import into Elasticsearch {summary.read / ours_s:,.0f} records/s ({summary.shipped} stored, "
          f"{summary.parse_failures} unreadable); ratio {bare_s / ours_s:.2f}")


def run(url: str, n: int, batch: int, evtx: bool) -> None:
    store = Store.from_url(url, request_timeout=120)
    store.check()
    lines = make_lines(n)
    print(f"{n} syslog lines per scenario, batch {batch}, node {url}")
    ceil = ceiling(store, url, lines, batch)
    print(f"ceiling (helpers.bulk, same documents): {ceil:12,.0f} events/s")
    with tempfile.TemporaryDirectory(prefix="soc-collect-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for name, scenario in (("file", file_scenario), ("tcp", tcp_scenario)):
            rate, rss, stored = scenario(store, url, tmp, lines, batch)
            print(f"{name:4s} end to end: {rate:12,.0f} events/s   ratio to ceiling {rate / ceil:.2f}   "
                  f"collector peak RSS {rss / 2**20:.0f} MB   stored {stored}/{n}")
        if evtx:
            evtx_scenario(store, url, tmp)
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--quick", action="store_true", help="50k lines")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--no-evtx", action="store_true")
    ap.add_argument("--url", default=os.environ.get("SOC_TEST_ES_URL"))
    args = ap.parse_args()
    n = 50_000 if args.quick else args.events
    if args.url:
        run(args.url, n, args.batch, not args.no_evtx)
        return
    with tempfile.TemporaryDirectory(prefix="soc-bench-node-") as tmp:
        os.chmod(tmp, 0o755)
        node = ManagedNode(load_settings(data_dir=tmp, es={"port": free_port(), "transport_port": free_port(),
                                                           "heap": "1g"}))
        node.start()
        try:
            run(node.url, n, args.batch, not args.no_evtx)
        finally:
            node.stop()


if __name__ == "__main__":
    main()
