"""What the department scope costs: hunt and alert paging of a department user vs the same
query without the scope filter, same data, same node, same run (issue 18: ≤ 1.1×).

    .venv/bin/python bench/scope_filter.py [--events 300000] [--alerts 100000] [--departments 3]
                                           [--pages 5] [--reps 9] [--url URL]

Three timings per workload, interleaved and repeated (median of ``--reps``), each one first
page plus ``--pages`` follow-up pages through the platform's own service functions:
- district: no filter (the baseline the issue names: the same query without the scope);
- department: the same query as a user of one department (the store adds the filter);
- hand-written: the district query with ``organization.id:<dept>`` written into it (same hits
  as the department's, so it separates the filter's cost from returning fewer documents).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from core import scope as scoping  # noqa: E402
from core.alerting import ALERTS_MAPPING, alerts_index  # noqa: E402
from core.auditing import Actor  # noqa: E402
from core.es import Store  # noqa: E402
from core.event_layout import ensure_write_alias, events_alias  # noqa: E402
from core.ids import stable_id  # noqa: E402
from core.schema import install_templates  # noqa: E402
from core.settings import load_settings  # noqa: E402
from core.timeutil import iso, utcnow  # noqa: E402
from detections.triage.alerts import build_alert_query, build_list_body, list_alerts  # noqa: E402
from detections.triage.common import decode_cursor, encode_cursor  # noqa: E402
from detections.triage.hunt import search_events  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from es_bulk_baseline import synth_events  # noqa: E402

LEVELS = ("low", "medium", "high", "critical")


def _load(store: Store, prefix: str, n_events: int, n_alerts: int, departments: list[str]) -> None:
    install_templates(store, prefix)
    alias = events_alias(prefix, "system.auth")
    ensure_write_alias(store, alias, None)
    batch: list[tuple[str, str, bytes]] = []
    for i, event in enumerate(synth_events(n_events)):
        event["organization"] = {"id": departments[i % len(departments)]}
        batch.append((alias, stable_id("bench", "scope", str(i)), orjson.dumps(event)))
        if len(batch) == 5000:
            assert store.bulk_create_raw(batch, require_alias=True).all_stored
            batch = []
    if batch:
        assert store.bulk_create_raw(batch, require_alias=True).all_stored
    alerts = alerts_index(prefix)
    store.ensure_index(alerts, mappings=ALERTS_MAPPING)
    now = iso(utcnow())
    docs: list[tuple[str, str, dict[str, Any]]] = []
    for i in range(n_alerts):
        aid = stable_id("bench", "alert", str(i))
        docs.append((alerts, aid, {
            "@timestamp": now, "organization": {"id": departments[i % len(departments)]},
            "alert": {"id": aid, "status": "new", "level": LEVELS[i % 4], "audience": ["analyst"], "created": now},
            "rule": {"id": f"r{i % 50}", "name": f"Rule {i % 50}"}, "host": {"name": f"web{i % 20:02d}"},
            "user": {"name": f"u{i % 30}"}, "message": f"alert {i}",
        }))
        if len(docs) == 5000:
            assert store.bulk_create(docs).all_stored
            docs = []
    if docs:
        assert store.bulk_create(docs).all_stored
    store.refresh(f"{prefix}-*")


def _pages(first: Callable[[str | None], dict[str, Any]], pages: int) -> float:
    t0 = time.perf_counter()
    after = None
    for _ in range(pages + 1):
        page = first(after)
        after = page.get("next")
        if not after:
            break
    return time.perf_counter() - t0


def run(url: str, n_events: int, n_alerts: int, n_departments: int, pages: int, reps: int) -> None:
    store = Store.from_url(url, request_timeout=120)
    store.check()
    prefix = f"benchscope{uuid.uuid4().hex[:6]}"
    departments = [f"dept{k}" for k in range(n_departments)]
    dept = departments[0]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), index_prefix=prefix, es={"url": url})
        try:
            t0 = time.perf_counter()
            _load(store, prefix, n_events, n_alerts, departments)
            print(f"loaded {n_events:,} events and {n_alerts:,} alerts over {n_departments} departments "
                  f"in {time.perf_counter() - t0:.1f} s (node {url})")
            district = Actor(name="district-analyst", role="analyst", organization=scoping.DISTRICT)
            member = Actor(name="dept-analyst", role="analyst", organization=dept)
            scope = scoping.Scope(organizations=frozenset({dept}), home=dept, user=member.name)
            hunt_q = "event.outcome:failure"
            workloads: dict[str, dict[str, Callable[[], float]]] = {
                "hunt (events, 100 a page)": {
                    "district": lambda: _pages(lambda a: search_events(
                        store, settings, actor=district, query=hunt_q, start="now-1d", size=100, after=a), pages),
                    "department": lambda: _scoped(scope, lambda: _pages(lambda a: search_events(
                        store, settings, actor=member, query=hunt_q, start="now-1d", size=100, after=a), pages)),
                    "hand-written": lambda: _pages(lambda a: search_events(
                        store, settings, actor=district, query=f"({hunt_q}) AND organization.id:{dept}",
                        start="now-1d", size=100, after=a), pages),
                },
                "alerts (50 a page, facets)": {
                    "district": lambda: _pages(lambda a: list_alerts(
                        store, settings, actor=district, status=["new"], size=50, after=a, facets=True), pages),
                    "department": lambda: _scoped(scope, lambda: _pages(lambda a: list_alerts(
                        store, settings, actor=member, status=["new"], size=50, after=a, facets=True), pages)),
                    "hand-written": lambda: _pages(lambda a: _alerts_with_term(store, prefix, dept, a), pages),
                },
            }
            for name, modes in workloads.items():
                times: dict[str, list[float]] = {m: [] for m in modes}
                for fn in modes.values():  # warm caches for every mode before timing any
                    fn()
                for _ in range(reps):
                    for mode, fn in modes.items():
                        times[mode].append(fn())
                med = {m: statistics.median(v) * 1000 for m, v in times.items()}
                print(f"{name}: first page + {pages} pages, median of {reps}")
                for mode, ms in med.items():
                    print(f"  {mode:<13} {ms:8.1f} ms")
                print(f"  department / district (baseline): {med['department'] / med['district']:.2f}x   "
                      f"department / hand-written filter: {med['department'] / med['hand-written']:.2f}x")
        finally:
            store.delete_indices(f"{prefix}-*")
            store.delete_index_templates(f"{prefix}-*")
            store.close()


def _alerts_with_term(store: Store, prefix: str, dept: str, after: str | None) -> dict[str, Any]:
    """``list_alerts``' own query and body with the department written in as a term."""
    query = build_alert_query(status=["new"])
    query["bool"]["filter"].append({"term": {scoping.ORG_FIELD: dept}})
    body = build_list_body(query, size=50, after=decode_cursor(after), facets=True)
    hits = store.search(alerts_index(prefix), body)["hits"]["hits"]
    return {"next": encode_cursor(hits[-1]["sort"]) if len(hits) == body["size"] else None}


def _scoped(scope: scoping.Scope, fn: Callable[[], float]) -> float:
    with scoping.acting(scope):
        return fn()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--departments", type=int, default=3)
    ap.add_argument("--pages", type=int, default=5)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--url", default=os.environ.get("SOC_TEST_ES_URL", "http://127.0.0.1:9200"))
    args = ap.parse_args()
    run(args.url, args.events, args.alerts, args.departments, args.pages, args.reps)


if __name__ == "__main__":
    main()
