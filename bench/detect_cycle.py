"""Detection cycle benchmark: every SigmaHQ rule that loads, over an index of N events.

Prints, in one run:
- one full detection cycle (lease, grouped named-clause searches, alerts, checkpoints) over all
  N events, with rules/s and events/s;
- an empty cycle right after (every rule due, no new events);
- the per-rule baseline: the previous engine (one search per rule in ``_msearch`` batches of
  100, alerts written per batch) over the same window, and the ratio.
Goals (issue 13): full cycle over 1M events <= 30 s on one node, empty cycle <= 2 s. The machine
is shared: the load average is printed with the figures.

    .venv/bin/python bench/detect_cycle.py [--events 1000000] [--quick] [--es URL] [--keep]

The event index is kept between runs (``--keep``) because writing 1M events takes minutes.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.es import Store  # noqa: E402
from core.schema import install_templates  # noqa: E402
from core.timeutil import iso, utcnow  # noqa: E402
from detections import repository as repo  # noqa: E402
from detections.alerts import event_alert  # noqa: E402
from detections.exceptions import compile_all  # noqa: E402
from detections.fieldref import residual_matches  # noqa: E402
from detections.loader import load_paths  # noqa: E402
from detections.models import CompiledRule  # noqa: E402
from detections.runner import RunnerConfig, run_cycle  # noqa: E402

SIGMA = ROOT.parent / "shared" / "sigma"
PREFIX = "benchdetect"
IMAGES = ["C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\explorer.exe", "C:\\Program Files\\App\\app.exe",
          "C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
          "C:\\Users\\bob\\AppData\\Local\\Temp\\setup.exe", "C:\\Windows\\System32\\rundll32.exe"]
WORDS = ["update", "sync", "report", "backup", "index", "scan", "render", "print", "query", "load"]


def synthetic(i: int, rng: random.Random, ingested: str) -> dict:
    image = rng.choice(IMAGES)
    code = rng.choice(["1", "1", "1", "3", "11", "13", "7"])
    cmd = f"\"{image}\" /{rng.choice(WORDS)} {rng.choice(WORDS)}-{rng.randrange(10000)}"
    doc: dict = {
        "@timestamp": ingested, "event": {"code": code, "dataset": "windows.sysmon", "ingested": ingested},
        "host": {"name": f"ws{rng.randrange(200):03d}"},
        "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": code,
                   "computer_name": f"ws{i % 200:03d}", "record_id": i,
                   "event_data": {"User": f"CORP\\user{rng.randrange(500)}", "IntegrityLevel": "Medium"}},
        "process": {"executable": image, "name": image.rsplit("\\", 1)[-1], "pid": rng.randrange(65535),
                    "command_line": cmd, "parent": {"executable": rng.choice(IMAGES)}},
    }
    if code == "11":
        doc["file"] = {"path": f"C:\\Users\\bob\\Documents\\{rng.choice(WORDS)}{rng.randrange(999)}.docx"}
    elif code == "13":
        doc["registry"] = {"path": f"HKLM\\SOFTWARE\\Vendor\\{rng.choice(WORDS)}\\Value{rng.randrange(99)}"}
    elif code == "3":
        doc["destination"] = {"ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                              "port": rng.choice([80, 443, 445, 3389, 8080])}
    return doc


def ensure_events(store: Store, n: int) -> tuple[int, str]:
    index = f"{PREFIX}-events-windows.sysmon-bench{n}"
    install_templates(store, PREFIX)
    if store.index_exists(index) and store.count(index) >= n:
        return store.count(index), index
    store.delete_indices(index)
    store.ensure_index(index, settings={"refresh_interval": "-1"})
    rng = random.Random(1)
    ingested = iso(utcnow())
    began = time.monotonic()
    batch = []
    for i in range(n):
        batch.append((index, f"e{i}", synthetic(i, rng, ingested)))
        if len(batch) == 5000:
            store.bulk_create(batch)
            batch = []
            if i % 100_000 < 5000:
                print(f"  indexed {i + 1} events ({time.monotonic() - began:.0f} s)", flush=True)
    if batch:
        store.bulk_create(batch)
    store.request("PUT", f"/{index}/_settings", {"index": {"refresh_interval": "1s"}})
    store.refresh(index)
    store.request("POST", f"/{index}/_forcemerge", params={"max_num_segments": 1})
    return store.count(index), index


def per_rule_baseline(store: Store, rules: list[CompiledRule], lo: str, hi: str, cap: int) -> tuple[int, int, int]:
    """The previous engine: one search per rule (``_msearch`` batches of 100, sized by bytes),
    residual check per hit, each batch's alerts in one bulk. Returns (hits, alerts, errors)."""
    index = f"{PREFIX}old-alerts"
    store.delete_indices(index)
    hits_total = alerts_total = errors = 0
    items = [r for r in rules if r.query is not None and r.generate]

    def body(rule: CompiledRule) -> dict:
        query: dict = {"bool": {"filter": [rule.query, {"range": {"event.ingested": {"gt": lo, "lte": hi}}}]}}
        must_not = compile_all(None)
        if must_not:
            query["bool"]["must_not"] = must_not
        return {"query": query, "size": min(cap, 10000), "track_total_hits": True, "timeout": "30s",
                "sort": [{"event.ingested": {"order": "asc", "unmapped_type": "date"}}, {"_doc": "asc"}]}

    for batch in repo.chunked(items, 100, lambda r: r.query):
        try:
            responses = store.msearch([(r.indices(PREFIX), body(r)) for r in batch])
        except Exception:  # noqa: BLE001 - the old engine failed the whole batch
            errors += len(batch)
            continue
        alerts = []
        for rule, resp in zip(batch, responses, strict=True):
            if "error" in resp or resp.get("timed_out"):
                errors += 1
                continue
            found = resp["hits"]["hits"]
            if rule.residual is not None:
                found = [h for h in found if residual_matches(rule.residual, h["_source"],
                                                             set(h.get("matched_queries") or ()))]
            hits_total += int(resp["hits"]["total"]["value"])
            alerts += [event_alert(rule, h) for h in found]
        if alerts:
            alerts_total += store.bulk_create([(index, aid, doc) for aid, doc in alerts]).created
    store.delete_indices(index)
    return hits_total, alerts_total, errors


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k events")
    parser.add_argument("--es", default="http://127.0.0.1:9250")
    parser.add_argument("--keep", action="store_true", help="keep the event index for the next run")
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    n = 100_000 if args.quick else args.events
    store = Store.from_url(args.es, request_timeout=600)
    store.check()
    print(f"events: preparing {n} synthetic Sysmon events …", flush=True)
    count, _index = ensure_events(store, n)
    print(f"events: {count}")

    began = time.monotonic()
    report = load_paths([p for p in sorted(SIGMA.iterdir()) if p.is_dir() and p.name.startswith("rules")])
    rules = [r for r in report.rules if r.query is not None or r.correlation is not None]
    print(f"rules: {report.summary()} (lint+compile {time.monotonic() - began:.1f} s)")
    for name in ("rules", "rules-state"):
        store.delete_indices(f"{PREFIX}-{name}")
    store.delete_indices(f"{PREFIX}-alerts")
    repo.save_rules(store, PREFIX, rules, enabled=True)

    cfg = RunnerConfig(prefix=PREFIX, worker_id="bench", settle_seconds=0, partitions=args.partitions,
                       max_alerts_per_run=100, initial_lookback_seconds=86400 * 3)
    docs = repo.list_rule_docs(store, PREFIX, enabled_only=True)
    print(f"before the cycle: {load()}")
    began = time.monotonic()
    result = run_cycle(store, cfg, force=True, rule_docs=docs)
    cycle = time.monotonic() - began
    grouped = sum(r.grouped for r in result.results)
    print(f"full cycle (grouped searches): {result.rules_run} rules in {cycle:.1f} s → "
          f"{result.rules_run / cycle:.0f} rules/s, {count / cycle:,.0f} events/s; alerts {result.alerts_created} "
          f"(of which grouped: {sum(1 for r in result.results if r.grouped)} rules, {grouped} events), "
          f"errors {result.errors}")

    began = time.monotonic()
    empty = run_cycle(store, cfg, force=True, rule_docs=docs)
    empty_s = time.monotonic() - began
    print(f"empty cycle: {empty.rules_run} rules in {empty_s:.2f} s, alerts {empty.alerts_created}, "
          f"errors {empty.errors}")

    print(f"before the baseline: {load()}")
    hi = iso(utcnow())
    lo = "1970-01-01T00:00:00.000Z"
    began = time.monotonic()
    b_hits, b_alerts, b_errors = per_rule_baseline(store, rules, lo, hi, 100)
    base = time.monotonic() - began
    print(f"per-rule baseline (one search per rule, _msearch batches of 100): {base:.1f} s; hits {b_hits}, "
          f"alerts {b_alerts} (the rest dropped by the cap), errors {b_errors}")
    print(f"ratio baseline/grouped: {base / cycle:.2f}x; after: {load()}")
    print(f"goal full cycle <= 30 s: {'met' if cycle <= 30 else 'NOT met'} ({cycle:.1f} s); "
          f"goal empty cycle <= 2 s: {'met' if empty_s <= 2 else 'NOT met'} ({empty_s:.2f} s)")
    if not args.keep:
        store.delete_indices(f"{PREFIX}-*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
