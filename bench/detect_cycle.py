"""Detection cycle benchmark: every SigmaHQ rule that loads, over an index of N events.

Prints: rules loaded, one full detection cycle (lease, batched ``_msearch``, alerts, checkpoints)
with rules/s and events/s, then in the same run the same rule searches one by one without
batching, and the ratio. Goal: a full cycle over 1M events in <= 60 s on the dev machine.

    .venv/bin/python bench/detect_cycle.py [--events 1000000] [--quick] [--es URL] [--keep]

The event index is kept between runs (``--keep``) because writing 1M events takes minutes.
"""

from __future__ import annotations

import argparse
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
from detections.loader import load_paths  # noqa: E402
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k events")
    parser.add_argument("--es", default="http://127.0.0.1:9250")
    parser.add_argument("--keep", action="store_true", help="keep the event index for the next run")
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

    cfg = RunnerConfig(prefix=PREFIX, worker_id="bench", settle_seconds=0, partitions=8, batch_size=100,
                       max_alerts_per_run=100, initial_lookback_seconds=86400 * 3)
    docs = repo.list_rule_docs(store, PREFIX, enabled_only=True)
    began = time.monotonic()
    result = run_cycle(store, cfg, force=True, rule_docs=docs)
    cycle = time.monotonic() - began
    print(f"full cycle: {result.rules_run} rules in {cycle:.1f} s → {result.rules_run / cycle:.0f} rules/s, "
          f"{count / cycle:,.0f} events/s; alerts {result.alerts_created}, errors {result.errors}")

    # Same searches, batched vs one by one (no alert writing in either): the batching gain.
    hi = iso(utcnow())
    lo = "1970-01-01T00:00:00.000Z"
    bodies = [(r.indices(PREFIX), {"query": {"bool": {"filter": [r.query, {"range": {"event.ingested": {
        "gt": lo, "lte": hi}}}]}}, "size": 100, "track_total_hits": True}) for r in rules if r.query is not None]
    began = time.monotonic()
    for chunk in repo.chunked(bodies, 100, lambda b: b[1]):
        store.msearch(chunk)
    batched = time.monotonic() - began
    began = time.monotonic()
    for index, body in bodies:
        try:
            store.search(index, body)
        except Exception as exc:  # one failing rule must not end the baseline
            print("  search failed:", str(exc)[:120])
    single = time.monotonic() - began
    print(f"searches only: batched _msearch {batched:.1f} s ({len(bodies) / batched:.0f} rules/s) vs one by one "
          f"{single:.1f} s ({len(bodies) / single:.0f} rules/s); ratio {single / batched:.2f}x")
    print(f"goal: full cycle <= 60 s: {'met' if cycle <= 60 else 'NOT met'} ({cycle:.1f} s)")
    if not args.keep:
        store.delete_indices(f"{PREFIX}-*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
