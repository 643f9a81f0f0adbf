"""Shared helpers of the collector integration tests: line writers and exactly-once checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.es import Store
from core.yamlio import dumps


def line(i: int) -> str:
    # The sequence number is the pid so Elasticsearch can aggregate on it (process.pid is a long).
    return f"2026-11-26T10:00:00.000Z testhost app[{i}]: message number {i} of the exactly-once test\n"


def write_inputs(path: Path, inputs: list[dict[str, Any]]) -> Path:
    path.write_text(dumps({"inputs": inputs}))
    return path


class Writer(threading.Thread):
    """Appends ``line(i)`` for i in [first, last] to a file at a bounded rate; can pause."""

    def __init__(self, path: Path, first: int, last: int, per_second: int, chunk: int = 250) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.next = first
        self.last = last
        self.per_second = per_second
        self.chunk = chunk
        self.paused = threading.Event()
        self.idle = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while self.next <= self.last and not self.stop.is_set():
            if self.paused.is_set():
                self.idle.set()
                time.sleep(0.02)
                continue
            self.idle.clear()
            with self.lock:
                end = min(self.last, self.next + self.chunk - 1)
                with self.path.open("a") as fh:
                    fh.write("".join(line(i) for i in range(self.next, end + 1)))
                self.next = end + 1
            time.sleep(self.chunk / self.per_second)
        self.idle.set()

    def pause(self) -> None:
        self.paused.set()
        self.idle.wait(5)
        # the write in progress (if any) finishes under the lock
        with self.lock:
            pass

    def resume(self) -> None:
        self.paused.clear()


def count(store: Store, prefix: str) -> int:
    try:
        store.refresh(f"{prefix}-events-*")
        return store.count(f"{prefix}-events-*")
    except Exception:
        return -1


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def assert_exactly(store: Store, prefix: str, n: int) -> None:
    """Exactly the sequence numbers 1..n, each once."""
    index = f"{prefix}-events-*"
    store.refresh(index)
    total = store.count(index)
    resp = store.search(index, {
        "size": 0,
        "aggs": {
            "dups": {"terms": {"field": "process.pid", "min_doc_count": 2, "size": 5}},
            "lo": {"min": {"field": "process.pid"}},
            "hi": {"max": {"field": "process.pid"}},
            "distinct": {"cardinality": {"field": "process.pid", "precision_threshold": 40000}},
        },
    })
    aggs = resp["aggregations"]
    summary = {k: aggs[k].get("value", aggs[k].get("buckets")) for k in aggs}
    assert total == n, f"{total} documents instead of {n}: {summary}"
    assert aggs["dups"]["buckets"] == [], f"duplicates: {aggs['dups']['buckets']}"
    assert aggs["lo"]["value"] == 1
    assert aggs["hi"]["value"] == n
