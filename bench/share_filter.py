"""What a share grant costs the grantee's reads: hunt and alert paging of a department user with
no grant (the baseline), with a typical grant (one case: 16 documents), 1 000 and the largest grant
(``MAX_COVERED`` documents of another department), same data, same node, same run.

    .venv/bin/python bench/share_filter.py [--events 100000] [--alerts 30000] [--pages 5] [--reps 7]
                                           [--sizes N ...] [--url URL]

Every shared id rides in the scope's read filter (``ids`` clause) of every search the grantee
makes, so its cost grows with the number of covered documents; this prints it.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scope_filter import _load, _pages  # noqa: E402

from core import scope as scoping  # noqa: E402
from core.auditing import Actor  # noqa: E402
from core.es import Store  # noqa: E402
from core.settings import load_settings  # noqa: E402
from detections.triage.alerts import list_alerts  # noqa: E402
from detections.triage.hunt import search_events  # noqa: E402
from detections.triage.share_records import MAX_COVERED  # noqa: E402


def _other_ids(store: Store, prefix: str, other: str, n: int) -> frozenset[str]:
    """``n`` ids of another department's events and alerts (what a grant would cover)."""
    ids: list[str] = []
    for index in (f"{prefix}-alerts", f"{prefix}-events-*"):
        want = n // 4 if index.endswith("alerts") else n - len(ids)
        resp = store.search(index, {"size": want, "_source": False,
                                    "query": {"term": {scoping.ORG_FIELD: other}}})
        ids += [h["_id"] for h in resp["hits"]["hits"]]
    return frozenset(ids[:n])


def run(url: str, n_events: int, n_alerts: int, pages: int, reps: int, sizes: list[int]) -> None:
    store = Store.from_url(url, request_timeout=120)
    store.check()
    prefix = f"benchshare{uuid.uuid4().hex[:6]}"
    departments = ["dept0", "dept1", "dept2"]
    dept, other = departments[0], departments[1]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), index_prefix=prefix, es={"url": url})
        try:
            t0 = time.perf_counter()
            _load(store, prefix, n_events, n_alerts, departments)
            print(f"loaded {n_events:,} events and {n_alerts:,} alerts over 3 departments in "
                  f"{time.perf_counter() - t0:.1f} s (node {url})")
            member = Actor(name="dept-analyst", role="analyst", organization=dept)
            scopes = {"no grant": scoping.Scope(organizations=frozenset({dept}), home=dept, user=member.name)}
            for n in sorted({16, 1000, MAX_COVERED, *sizes}):
                label = f"{n:,} shared" + (" (max)" if n == MAX_COVERED else "")
                scopes[label] = scoping.Scope(organizations=frozenset({dept}), home=dept, user=member.name,
                                              shared_ids=_other_ids(store, prefix, other, n))
            workloads: dict[str, Callable[[], float]] = {
                "hunt (events, 100 a page)": lambda: _pages(lambda a: search_events(
                    store, settings, actor=member, query="event.outcome:failure", start="now-1d", size=100,
                    after=a), pages),
                "alerts (50 a page, facets)": lambda: _pages(lambda a: list_alerts(
                    store, settings, actor=member, status=["new"], size=50, after=a, facets=True), pages),
            }
            for name, fn in workloads.items():
                times: dict[str, list[float]] = {s: [] for s in scopes}
                for scope in scopes.values():  # warm every variant before timing any
                    with scoping.acting(scope):
                        fn()
                for _ in range(reps):
                    for label, scope in scopes.items():
                        with scoping.acting(scope):
                            times[label].append(fn())
                med = {s: statistics.median(v) * 1000 for s, v in times.items()}
                base = med["no grant"]
                print(f"{name}: first page + {pages} pages, median of {reps}")
                for label, ms in med.items():
                    print(f"  {label:<20} {ms:8.1f} ms   {ms / base:5.2f}x of no grant")
        finally:
            store.delete_indices(f"{prefix}-*")
            store.delete_index_templates(f"{prefix}-*")
            store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--alerts", type=int, default=30_000)
    ap.add_argument("--pages", type=int, default=5)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--sizes", type=int, nargs="*", default=[], help="more shared-id counts to time")
    ap.add_argument("--url", default=os.environ.get("SOC_TEST_ES_URL", "http://127.0.0.1:9200"))
    args = ap.parse_args()
    run(args.url, args.events, args.alerts, args.pages, args.reps, args.sizes)


if __name__ == "__main__":
    main()
