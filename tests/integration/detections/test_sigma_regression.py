"""SigmaHQ regression data: every EVTX imported through ``collectors.evtx`` (one scratch index,
in bulk), every rule run (batched ``_msearch``) over its own file's events, counts compared with
``match_count`` in ``info.yml`` (absent means 1, as in SigmaHQ's runner).

``|fieldref`` rules are searched as a superset with named clauses and checked per hit. Known
disagreements (printed): a few cases expect 1 where the rule, read by the Sigma specification,
matches several events of its file (e.g. three AnyDesk ``user.conf`` writes against
``|contains 'user.conf'``, two dtrace ``lkd(0)`` command lines)."""

from __future__ import annotations

import re
from pathlib import Path

from collectors.evtx import EvtxStats, iter_evtx_events
from core import yamlio
from core.schema import events_template
from detections.compiler import residual_matches
from detections.fanout import GroupRun, Limits, Work
from detections.loader import load_paths
from detections.service import load_scratch

FLOOR = 196
_ID = re.compile(r"^id:\s*([0-9a-fA-F-]{36})\s*$", re.M)


def regression_cases(sigma: Path) -> list[tuple[str, Path, int]]:
    cases = []
    for info in sorted(sigma.glob("regression_data/**/info.yml")):
        data = yamlio.load_file(info)
        rule_id = data["rule_metadata"][0]["id"]
        for test in data.get("regression_tests_info") or []:
            if test.get("type") == "evtx":
                cases.append((rule_id, sigma / test["path"], int(test.get("match_count", 1))))
    return cases


def rule_files(sigma: Path, wanted: set[str]) -> list[Path]:
    found = []
    for folder in ("rules", "rules-emerging-threats", "rules-threat-hunting"):
        for f in (sigma / folder).rglob("*.yml"):
            m = _ID.search(f.read_text("utf-8", errors="replace"))
            if m and m.group(1) in wanted:
                found.append(f)
    return found


def test_sigmahq_regression(store, prefix, shared_dir):
    sigma = shared_dir / "sigma"
    cases = regression_cases(sigma)
    assert len(cases) == 202
    report = load_paths(rule_files(sigma, {c[0] for c in cases}))
    rules = {r.id: r for r in report.rules}
    rejected = {e.rule_id: f"{e.category}: {e.reason}" for e in report.entries if e.status == "rejected"}

    index = f"{prefix}-events-windows.regression"
    template = events_template(prefix)["template"]
    store.ensure_index(index, mappings=template["mappings"], settings=template["settings"])
    ids_by_file: dict[Path, list[str]] = {}
    errors = []

    def all_events():
        for _rid, path, _n in cases:
            if path in ids_by_file:
                continue
            stats = EvtxStats(str(path))
            ids_by_file[path] = []
            for ev in iter_evtx_events(path, stats):
                ids_by_file[path].append(ev.id)
                yield ev.id, ev.doc
            if stats.errors:
                errors.append((path.name, stats.error_samples[:2]))

    load_scratch(store, index, all_events())
    assert not errors, errors

    runnable = [(rid, path, n) for rid, path, n in cases if rid in rules]
    # Rules with a residual check (|fieldref) need their candidate hits, not just a count.
    searches = [(index, {"query": {"bool": {"filter": [rules[rid].query, {"ids": {"values": ids_by_file[path]}}]}},
                         "size": 1000 if rules[rid].residual else 0, "track_total_hits": True})
                for rid, path, _n in runnable]
    responses = []
    for start in range(0, len(searches), 50):
        responses += store.msearch(searches[start:start + 50])
    exact = 0
    mismatches = [f"{rid} not loaded: {rejected.get(rid)}" for rid, _p, _n in cases if rid not in rules]
    for (rid, path, expected), resp in zip(runnable, responses, strict=True):
        if "error" in resp:
            mismatches.append(f"{rid} {path.parent.name}: error {resp['error']}")
            continue
        got = resp["hits"]["total"]["value"]
        if rules[rid].residual is not None:
            got = sum(1 for h in resp["hits"]["hits"]
                      if residual_matches(rules[rid].residual, h["_source"], set(h.get("matched_queries") or ())))
        if got == expected:
            exact += 1
        else:
            mismatches.append(f"{rid} {path.parent.name}: expected {expected}, got {got}")
    fanout_equals_per_rule(store, index, [rules[rid] for rid in dict.fromkeys(rid for rid, _p, _n in runnable)])
    print(f"\nSigmaHQ regression: {exact}/{len(cases)} exact")
    for line in mismatches:
        print("  mismatch:", line)
    assert exact >= FLOOR, f"{exact}/{len(cases)} exact (floor {FLOOR}):\n" + "\n".join(mismatches)


def fanout_equals_per_rule(store, index, rules):
    """The grouped named-clause searches find exactly the (rule, event) pairs that one search per
    rule finds, over every regression event (small pages and clause chunks force the paths that
    take noisy rules out and split chunks)."""
    lo, hi = "1970-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z"
    expected: dict[str, set[str]] = {}
    for start in range(0, len(rules), 50):
        part = rules[start:start + 50]
        responses = store.msearch([(index, {"query": r.query, "size": 10000, "_source": r.residual is not None})
                                   for r in part])
        for r, resp in zip(part, responses, strict=True):
            hits = resp["hits"]["hits"]
            if r.residual is not None:
                hits = [h for h in hits if residual_matches(r.residual, h["_source"], set(h.get("matched_queries") or ()))]
            expected[r.id] = {h["_id"] for h in hits}
    run = GroupRun(store, index, lo, hi, Limits(max_leaves=300, page=20, cap=10000))
    outcomes = run.run([Work(r, lo, hi) for r in rules])
    got = {rid: {h["_id"] for h in out.hits} for rid, out in outcomes.items() if out.error is None}
    assert not [rid for rid, out in outcomes.items() if out.error], "grouped searches failed"
    assert got == expected
    assert sum(map(len, expected.values())) > 150 and run.searches < len(rules) / 2
