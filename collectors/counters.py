"""Per-input counters, the status file and their Prometheus view.

The collector daemon keeps counters in memory and writes them, with its pid and spool level, to
``<data_dir>/collect/status.json`` every few seconds. ``soc collect status`` and the API's
``/metrics`` read that file, so they work from any process (the daemon need not share memory with
the API). Use ``register_metrics(registry, settings)`` to add the collector families to a
``prometheus_client.CollectorRegistry`` (or ``metrics_registry(settings)`` for a fresh one).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from core.settings import Settings

COUNTER_NAMES = ("read", "parsed", "parse_failures", "shipped", "duplicates", "dead_lettered", "dropped",
                 "failed", "unassigned")


class Counters:
    """Thread-safe counters keyed by input name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, int]] = {}
        self._types: dict[str, str] = {}

    def declare(self, input_name: str, input_type: str) -> None:
        with self._lock:
            self._data.setdefault(input_name, dict.fromkeys(COUNTER_NAMES, 0))
            self._types[input_name] = input_type

    def add(self, input_name: str, counter: str, n: int = 1) -> None:
        if n == 0:
            return
        with self._lock:
            row = self._data.get(input_name)
            if row is None:
                row = self._data[input_name] = dict.fromkeys(COUNTER_NAMES, 0)
            row[counter] += n

    def get(self, input_name: str, counter: str) -> int:
        with self._lock:
            return self._data.get(input_name, {}).get(counter, 0)

    def total(self, counter: str) -> int:
        with self._lock:
            return sum(row[counter] for row in self._data.values())

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: {"type": self._types.get(name, "unknown"), **row} for name, row in self._data.items()}


def status_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "collect" / "status.json"


def write_status(settings: Settings, counters: Counters, *, spool_pending_bytes: int, state: str,
                 started: float, extra: dict[str, Any] | None = None) -> None:
    path = status_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "pid": os.getpid(),
        "state": state,
        "started": started,
        "updated": time.time(),
        "spool_pending_bytes": spool_pending_bytes,
        "inputs": counters.snapshot(),
        **(extra or {}),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def read_status(settings: Settings) -> dict[str, Any] | None:
    try:
        data = orjson.loads(status_path(settings).read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StatusFileCollector(Collector):
    """Prometheus families read from the daemon's status file at scrape time."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def collect(self) -> Iterator[Any]:
        status = read_status(self._settings) or {}
        inputs: dict[str, dict[str, Any]] = status.get("inputs") or {}
        for counter in COUNTER_NAMES:
            fam = CounterMetricFamily(f"qinglang_collect_{counter}", f"Collector events {counter.replace('_', ' ')}",
                                      labels=["input", "type"])
            for name, row in sorted(inputs.items()):
                fam.add_metric([name, str(row.get("type", "unknown"))], float(row.get(counter, 0)))
            yield fam
        up = GaugeMetricFamily("qinglang_collect_up", "1 when the collector daemon is running")
        up.add_metric([], 1.0 if pid_alive(status.get("pid")) and status.get("state") == "running" else 0.0)
        yield up
        spool = GaugeMetricFamily("qinglang_collect_spool_pending_bytes",
                                  "Bytes in the spool not yet acknowledged by Elasticsearch")
        spool.add_metric([], float(status.get("spool_pending_bytes", 0) or 0))
        yield spool


def register_metrics(registry: CollectorRegistry, settings: Settings) -> Collector:
    collector = StatusFileCollector(settings)
    registry.register(collector)
    return collector


def metrics_registry(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry()
    register_metrics(registry, settings)
    return registry
