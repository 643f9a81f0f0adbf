"""Cost of deciding each event's department (``organization.id``) where events are normalised
(``collectors.shipper.encode``), against ``encode`` without it, in the same run.

    .venv/bin/python bench/org_assign.py             # 200k events per scenario
    .venv/bin/python bench/org_assign.py --events 50000

Events are the demo network's (logs, DNS, flows, web; many distinct addresses). Scenarios:

* baseline: ``encode`` as before departments (no PII guard, to isolate the step);
* no maps: every event falls back to the district (the tag and the counter);
* maps: 50 host-name globs and about 400 subnets of mixed prefix lengths (the demo's among them).

Scenarios alternate over several rounds (the machine is shared: the best round of each counts).
Prints events/s per scenario and the ratio to the baseline. No Elasticsearch needed.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collectors.counters import Counters  # noqa: E402
from collectors.organization import Organizer  # noqa: E402
from collectors.shipper import encode  # noqa: E402
from soc.demo import DEMO_ORG_HOSTS, DEMO_ORG_SUBNETS, demo_events  # noqa: E402


def _maps() -> tuple[dict[str, str], dict[str, str]]:
    hosts = {f"site{i:02d}-*": f"dept{i % 7}" for i in range(47)} | DEMO_ORG_HOSTS
    subnets = dict(DEMO_ORG_SUBNETS)
    for i in range(497):
        length = (16, 20, 24, 28)[i % 4]
        second, third = 20 + i // 16, (i % 16) * 16
        subnets[f"172.{second % 256}.{third}.0/{length}" if length >= 20 else f"172.{second % 256}.0.0/16"] = \
            f"dept{i % 7}"
    return hosts, subnets


def _run(events: list, organizer: Organizer | None) -> float:
    counters = Counters()
    began = time.perf_counter()
    for event in events:
        encode("bench", "soc", event, None, organizer=organizer, counters=counters)
    return len(events) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pool = list(demo_events())
    events = list(itertools.islice(itertools.cycle(pool), args.events))
    hosts, subnets = _maps()
    scenarios = [("baseline (no department step)", None), ("no maps (all district)", Organizer()),
                 (f"maps ({len(hosts)} globs, {len(subnets)} subnets)", Organizer(hosts, subnets))]
    _run(events[:5000], None)  # warm-up
    rates = dict.fromkeys((name for name, _o in scenarios), 0.0)
    for r in range(args.rounds):
        for name, org in scenarios[r % len(scenarios):] + scenarios[:r % len(scenarios)]:
            rates[name] = max(rates[name], _run(events, org))
    base = rates[scenarios[0][0]]
    print(f"{args.events} demo events per scenario, best of {args.rounds} rounds")
    for name, rate in rates.items():
        print(f"  {name:<42} {rate:>10,.0f} events/s   {rate / base:5.2f}x baseline")


if __name__ == "__main__":
    main()
