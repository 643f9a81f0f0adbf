"""What "nothing indexed twice across rollovers" costs: ``EventWriter`` (an ``ids`` query on the
dataset's alias before every create bulk) vs a plain ``op_type=create`` bulk into the write
index, same events, same batch size, same node, same run. Then a replay of everything after a
rollover (the case the check exists for): the plain bulk would store every event again.

    .venv/bin/python bench/event_dedupe.py [--events 100000] [--batch 2000] [--backing 3] [--url URL]

``--backing`` rolls the alias over so the check spans that many backing indices.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from core.es import Store  # noqa: E402
from core.event_layout import EventWriter, ensure_write_alias, events_alias  # noqa: E402
from core.ids import stable_id  # noqa: E402
from core.schema import install_templates  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from es_bulk_baseline import synth_events  # noqa: E402


def _batches(docs: list[tuple[str, str, bytes]], size: int) -> list[list[tuple[str, str, bytes]]]:
    return [docs[i:i + size] for i in range(0, len(docs), size)]


def run(url: str, n: int, batch: int, backing: int) -> None:
    store = Store.from_url(url, request_timeout=120)
    store.check()
    events = [orjson.dumps(e) for e in synth_events(n)]
    results = {}
    for mode in ("plain", "checked"):
        prefix = f"benchdd{mode}{uuid.uuid4().hex[:6]}"
        install_templates(store, prefix)
        alias = events_alias(prefix, "system.auth")
        ensure_write_alias(store, alias, None)
        # Older backing indices with other events, so the check has several indices to ask.
        writer = EventWriter(store)
        for k in range(backing - 1):
            # Older indices hold older events (rolled over at ingest time, days ago).
            day = f"2026-01-{k + 1:02d}T10:00:00.000Z"
            writer.create_raw([(alias, f"old-{k}-{i}", orjson.dumps({**orjson.loads(e), "@timestamp": day}))
                               for i, e in enumerate(events[:20_000])])
            store.rollover(alias)
        write_index = next(i for i, w in store.aliases(alias)[alias].items() if w)
        docs = [(alias, stable_id("bench", "dd", i), e) for i, e in enumerate(events)]
        t0 = time.perf_counter()
        created = 0
        for chunk in _batches(docs, batch):
            if mode == "plain":
                created += store.bulk_create_raw([(write_index, i, s) for _a, i, s in chunk]).created
            else:
                created += writer.create_raw(chunk).created
        seconds = time.perf_counter() - t0
        store.refresh(alias)
        store.rollover(alias)
        t0 = time.perf_counter()
        dup = 0
        for chunk in _batches(docs, batch):
            if mode == "plain":
                dup += store.bulk_create_raw([(alias, i, s) for _a, i, s in chunk], require_alias=True).exists
            else:
                dup += writer.create_raw(chunk).exists
        replay = time.perf_counter() - t0
        store.refresh(alias)
        results[mode] = (seconds, created, replay, dup, store.count(alias) - 20_000 * (backing - 1))
        store.delete_indices(f"{prefix}-*")
        store.delete_index_templates(f"{prefix}-*")
    (ps, pc, pr, pd, pstored), (cs, cc, cr, cd, cstored) = results["plain"], results["checked"]
    print(f"events: {n}, batch: {batch}, backing indices asked: {backing}, node: {url}")
    print(f"plain create bulk (baseline): {n / ps:10,.0f} docs/s ({ps:.1f} s, {pc} created)")
    print(f"create bulk + ids check:      {n / cs:10,.0f} docs/s ({cs:.1f} s, {cc} created)")
    print(f"ratio checked / plain: {ps / cs:.2f} of the baseline's throughput")
    print(f"replay after a rollover, plain:   {pr:.1f} s, {pd} duplicates recognised, events stored: {pstored} "
          f"(should be {n})")
    print(f"replay after a rollover, checked: {cr:.1f} s, {cd} duplicates recognised, events stored: {cstored}")
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--backing", type=int, default=3)
    ap.add_argument("--url", default=os.environ.get("SOC_TEST_ES_URL", "http://127.0.0.1:9200"))
    args = ap.parse_args()
    run(args.url, args.events, args.batch, args.backing)


if __name__ == "__main__":
    main()
