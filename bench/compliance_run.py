"""Full MLPS level-3 run on the local host: total time and per-check breakdown (goal <= 10 s).

    .venv/bin/python bench/compliance_run.py            # host checks + scoring, no Elasticsearch
    .venv/bin/python bench/compliance_run.py --es URL   # the whole service: host + platform checks, stored, scored
    .venv/bin/python bench/compliance_run.py --quick    # skip the baseline measurement

Baseline, measured in the same run: the slowest thing a run cannot avoid, the package manager's
list of pending updates (``apt list --upgradable``) run on its own. The ratio says how much the
other 60-odd checks, scoring and storage add on top of that floor.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_SECONDS = 10.0


def baseline() -> float:
    started = time.perf_counter()
    try:
        subprocess.run(["apt", "list", "--upgradable"], capture_output=True, timeout=120, check=False)
    except FileNotFoundError:
        return 0.0
    return time.perf_counter() - started


def engine_only() -> tuple[float, dict[str, float], dict[str, object]]:
    from compliance.catalog import builtin_dir, load_catalogs
    from compliance.checkset import builtin_dir as checks_dir
    from compliance.checkset import load_checks
    from compliance.engine import item_results, overall_by_item, relevant_checks, run_host_checks
    from compliance.scoring import get_scorer
    from compliance.targets import LocalTarget

    started = time.perf_counter()
    cat = load_catalogs([builtin_dir()])["mlps-2.0-l3"]
    checks = load_checks([checks_dir()])
    wanted = sorted({c for ids in relevant_checks(cat, checks).values() for c in ids})
    target = LocalTarget()
    try:
        results = run_host_checks(target, [checks[c] for c in wanted])
    finally:
        target.close()
    score = get_scorer().score(cat, overall_by_item(cat, item_results(cat, checks, results)))
    total = time.perf_counter() - started
    return total, {r.check_id: r.seconds for r in results}, score


def full_service(es_url: str) -> tuple[float, dict[str, float], dict[str, object]]:
    import uuid

    from compliance import service
    from core.auditing import Actor, MemoryAuditor
    from core.es import Store
    from core.settings import load_settings

    prefix = "bench" + uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as data:
        settings = load_settings(data_dir=data, index_prefix=prefix, es={"url": es_url})
        store = Store.connect(settings)
        try:
            started = time.perf_counter()
            run = service.run_assessment(store, settings, MemoryAuditor(), Actor("bench", "cli"), level=3,
                                         targets=["local"])
            total = time.perf_counter() - started
        finally:
            store.delete_indices(f"{prefix}-*")
            store.close()
    return total, dict(run["check_seconds"]), run["score"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--es", help="Elasticsearch URL: run the whole service (stores results in a scratch prefix)")
    parser.add_argument("--quick", action="store_true", help="skip the baseline measurement")
    parser.add_argument("--top", type=int, default=15, help="slowest checks to list")
    args = parser.parse_args()

    base = 0.0 if args.quick else baseline()
    total, per_check, score = full_service(args.es) if args.es else engine_only()
    print(f"level-3 run on the local host ({'service + Elasticsearch' if args.es else 'engine, no storage'})")
    print(f"  checks run:       {len(per_check)}")
    print(f"  total:            {total:.2f} s   (goal <= {GOAL_SECONDS:.0f} s: {'met' if total <= GOAL_SECONDS else 'MISSED'})")
    print(f"  sum of checks:    {sum(per_check.values()):.2f} s (slow commands overlap with file probes)")
    if base:
        print(f"  baseline:         {base:.2f} s  (apt list --upgradable alone)")
        print(f"  ratio:            {total / base:.2f}x baseline")
    print(f"  score:            {score.get('overall')} ({score.get('band')}), pending {score.get('pending')}")
    print("  slowest checks:")
    for cid, secs in sorted(per_check.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"    {cid:30} {secs * 1000:9.1f} ms")
    print("  all checks (ms): " + ", ".join(f"{c}={s * 1000:.1f}" for c, s in sorted(per_check.items())))
    return 0 if total <= GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
