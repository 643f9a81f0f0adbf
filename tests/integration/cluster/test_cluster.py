"""The platform on a real 3-node cluster: replicas, several URLs, a node killed (SIGKILL)
mid-import and mid-detection-cycle with nothing lost or doubled."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from core.alerting import alerts_index
from core.cluster import ManagedCluster
from core.errors import Unavailable
from core.es import Store
from core.event_layout import EventWriter, backing_index, events_alias
from core.schema import install_templates
from core.settings import Settings
from core.timeutil import iso, utcnow
from detections import repository as repo
from detections.loader import load_sources
from detections.models import CompiledRule, CycleResult
from detections.runner import RunnerConfig, run_cycle
from tests.conftest import TEST_SECRET
from tests.integration.collectors.helpers import line

ROOT = Path(__file__).resolve().parents[3]


def test_indices_get_one_replica(cluster: ManagedCluster, cluster_store: Store,
                                                         cluster_prefix: str) -> None:
    info = cluster_store.check()
    assert info.nodes == 3
    install_templates(cluster_store, cluster_prefix)
    idx = backing_index(events_alias(cluster_prefix, "system.auth"))
    cluster_store.bulk_create([(idx, str(i), {"n": i}) for i in range(50)], refresh=True)
    cluster_store.ensure_index(f"{cluster_prefix}-plain")
    cluster_store.wait_for_status("green", "60s", index=f"{cluster_prefix}-*")
    shards = cluster_store.request("GET", f"/_cat/shards/{cluster_prefix}-*", params={"format": "json"})
    copies = {(r["index"], r["prirep"]) for r in shards if r["state"] == "STARTED"}
    assert copies == {(idx, "p"), (idx, "r"), (f"{cluster_prefix}-plain", "p"), (f"{cluster_prefix}-plain", "r")}
    assert len({r["node"] for r in shards if r["index"] == idx}) == 2, "primary and replica on one node"


# -- a node killed mid-import ------------------------------------------------------------------

EVENTS = 20_000


def _soc(args: list[str], settings: Settings) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOC_")}
    env.update({"SOC_ES_URL": settings.es_url, "SOC_INDEX_PREFIX": settings.index_prefix,
                "SOC_DATA_DIR": str(settings.data_dir), "SOC_LANGUAGE": "en",
                "SOC_API_SECRET_KEY": TEST_SECRET, "SOC_AUDIT_SECRET_KEY": TEST_SECRET,
                # small bulks: the kill lands between many requests, not after the last one
                "SOC_COLLECT_BATCH_SIZE": "500"})
    return subprocess.Popen([sys.executable, "-m", "soc", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _busiest(cluster: ManagedCluster, pattern: str) -> str:
    """The node holding most primaries of ``pattern``: killing it forces replica promotions."""
    rows = cluster_shards(cluster, pattern)
    counts = Counter(r["node"] for r in rows if r["prirep"] == "p" and r["state"] == "STARTED")
    assert counts, f"no started primary for {pattern}: {rows}"
    return counts.most_common(1)[0][0]


def cluster_shards(cluster: ManagedCluster, pattern: str) -> list[dict[str, str]]:
    store = Store.from_url(cluster.url)
    try:
        return list(store.request("GET", f"/_cat/shards/{pattern}", params={"format": "json"}))
    finally:
        store.close()


def _all_ids(store: Store, pattern: str, sort_field: str) -> list[tuple[str, str, int]]:
    """``(index, id, sort value)`` of every document, paged with ``search_after``."""
    store.refresh(pattern)
    out: list[tuple[str, str, int]] = []
    after: list[object] | None = None
    while True:
        body: dict[str, object] = {"size": 10000, "_source": False, "track_total_hits": False,
                                   "sort": [{sort_field: "asc"}, {"@timestamp": "asc"}],
                                   "query": {"match_all": {}}}
        if after is not None:
            body["search_after"] = after
        hits = store.search(pattern, body)["hits"]["hits"]
        if not hits:
            return out
        out += [(h["_index"], h["_id"], int(h["sort"][0])) for h in hits]
        after = hits[-1]["sort"]


def _assert_exactly_once(store: Store, pattern: str, offsets: list[int]) -> None:
    docs = _all_ids(store, pattern, "log.offset")
    assert store.count(pattern) == len(offsets), "lost or duplicated events"
    assert len(docs) == len(offsets)
    assert len({doc_id for _i, doc_id, _o in docs}) == len(offsets), "an event stored twice (two indices)"
    assert [o for _i, _d, o in docs] == offsets, "an event lost"


def test_node_killed_mid_import_loses_and_doubles_nothing(cluster: ManagedCluster, cluster_store: Store,
                                                          cluster_settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    lines = [line(i) for i in range(EVENTS)]
    log.write_text("".join(lines))
    offsets = list(itertools.accumulate((len(x) for x in lines[:-1]), initial=0))
    pattern = f"{cluster_settings.index_prefix}-events-*"
    proc = _soc(["collect", "file", "--json", "--parser", "syslog", str(log)], cluster_settings)
    try:
        deadline = time.monotonic() + 120
        stored = 0
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(Unavailable):  # the index exists, its shard not yet started
                stored = cluster_store.count(pattern)
            if stored >= EVENTS // 10:
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"the import ended before the kill ({stored} stored): {proc.communicate()}"
        # Both copies started (a replica still recovering can't be promoted), the import going on.
        cluster_store.wait_for_status("green", "60s", index=pattern)
        victim = _busiest(cluster, pattern)
        killed_at = cluster_store.count(pattern)
        cluster.kill(victim)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed_at < EVENTS, "the node died after the import had finished"
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["read"] == EVENTS and summary["failed"] == 0 and summary["dead_lettered"] == 0
    assert summary["shipped"] + summary["duplicates"] == EVENTS
    health = cluster.health()
    assert health["number_of_nodes"] == 2 and health["status"] in ("yellow", "green")
    _assert_exactly_once(cluster_store, pattern, offsets)
    # The dead node comes back with its stale copies: recovery must not resurrect or drop anything.
    cluster.start_node(victim)
    cluster_store.wait_for_status("green", "120s", index=pattern)
    _assert_exactly_once(cluster_store, pattern, offsets)


# -- a node killed mid-cycle -------------------------------------------------------------------

RULES = 24
HITS_PER_RULE = 150


def _rules() -> list[CompiledRule]:
    texts = [(f"r{r}.yml",
              f"title: cluster rule {r}\nid: 44444444-0000-4000-8000-{r:012d}\nstatus: test\n"
              "logsource:\n    product: linux\n    service: auth\n"
              f"detection:\n    sel:\n        labels.k: r{r}\n    condition: sel\nlevel: low\n")
             for r in range(RULES)]
    report = load_sources(texts)
    assert len(report.rules) == RULES, report
    return list(report.rules)


def _load(store: Store, prefix: str) -> None:
    """The same events under the same ids in every prefix, so alert ids (rule id, event id) compare."""
    install_templates(store, prefix)
    stamp = iso(utcnow() - timedelta(seconds=30))
    docs = []
    for i in range(RULES * HITS_PER_RULE):
        doc = {"@timestamp": stamp, "event": {"dataset": "system.auth", "ingested": stamp},
               "labels": {"k": f"r{i % RULES}"}, "message": f"event {i}"}
        docs.append((events_alias(prefix, "system.auth"), f"ev-{i}", doc))
    result = EventWriter(store).create(docs, refresh="wait_for")
    assert result.created == len(docs)
    repo.save_rules(store, prefix, _rules())


def _alert_ids(store: Store, prefix: str) -> tuple[int, set[str]]:
    pattern = f"{alerts_index(prefix)}*"
    store.refresh(pattern)
    ids: set[str] = set()
    after: list[object] | None = None
    while True:
        body: dict[str, object] = {"size": 10000, "_source": ["alert.id"], "sort": [{"alert.id": "asc"}]}
        if after is not None:
            body["search_after"] = after
        hits = store.search(pattern, body)["hits"]["hits"]
        if not hits:
            return store.count(pattern), ids
        ids |= {h["_source"]["alert"]["id"] for h in hits}
        after = hits[-1]["sort"]


def _cycles_until_clean(store: Store, cfg: RunnerConfig, first: RunnerConfig | None = None,
                        on_partition_done: Callable[[int], None] | None = None) -> list[CycleResult]:
    """What the scheduler does: cycle after cycle; a rule in error keeps its window for the next."""
    results = [run_cycle(store, first or cfg, force=True, on_partition_done=on_partition_done)]
    while results[-1].errors and len(results) < 8:
        time.sleep(1)
        results.append(run_cycle(store, cfg, force=True))
    return results


def test_node_killed_mid_cycle_loses_and_doubles_no_alert(cluster: ManagedCluster, cluster_store: Store,
                                                          cluster_prefix: str) -> None:
    intact, hit = f"{cluster_prefix}-intact", f"{cluster_prefix}-killed"
    for prefix in (intact, hit):
        _load(cluster_store, prefix)
    base = RunnerConfig(prefix=intact, worker_id="w1", settle_seconds=0, partitions=8, batch_size=4,
                        initial_lookback_seconds=3600, lease_seconds=30)
    reference = _cycles_until_clean(cluster_store, base)
    assert len(reference) == 1 and reference[0].errors == 0
    expected_count, expected = _alert_ids(cluster_store, intact)
    assert expected_count == len(expected) == RULES * HITS_PER_RULE

    cluster_store.wait_for_status("green", "60s", index=f"{hit}-*")
    victim = _busiest(cluster, f"{hit}-*")
    partitions_done: list[int] = []

    def kill_after_first_partition(partition: int) -> None:
        partitions_done.append(partition)
        if len(partitions_done) == 1:
            cluster.kill(victim)

    cfg = replace(base, prefix=hit)
    cycles = _cycles_until_clean(cluster_store, cfg, on_partition_done=kill_after_first_partition)
    assert len(partitions_done) == 8 and not cluster.nodes[victim].pid(), "the node did not die mid-cycle"
    assert cycles[-1].errors == 0, cycles[-1].results
    assert cluster.health()["status"] in ("yellow", "green")
    count, ids = _alert_ids(cluster_store, hit)
    assert ids == expected, f"{len(expected - ids)} alerts lost, {len(ids - expected)} unexpected"
    assert count == len(expected), f"{count - len(expected)} alerts doubled"
    assert sum(c.alerts_created for c in cycles) == len(expected), "alerts reported created twice or not at all"
    cluster.start_node(victim)
    count, ids = _alert_ids(cluster_store, hit)
    assert ids == expected and count == len(expected)
