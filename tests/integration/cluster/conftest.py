"""A 3-node managed cluster on loopback, started once for the tests of this package only.

Each node is a separate process launched like users' nodes (``core.node.ManagedNode``: the
unprivileged ``soc-es`` user when root), 512 MB heap each so three fit this machine beside the
suite's single node. Tests kill and restart members; ``cluster`` restarts any member a test left
down, so every test starts on a whole cluster.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cluster import ManagedCluster
from core.es import Store
from core.settings import Settings, load_settings
from tests.conftest import TEST_SECRET, free_port, node_data_dir

NODES = 3


@pytest.fixture(scope="package")
def managed_cluster() -> Iterator[ManagedCluster]:
    base = node_data_dir()
    settings = load_settings(data_dir=base, es={"heap": "512m", "start_timeout": 240})
    cluster = ManagedCluster(settings, base, [(free_port(), free_port()) for _ in range(NODES)])
    try:
        cluster.start(log=lambda _m: None)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def cluster(managed_cluster: ManagedCluster) -> ManagedCluster:
    for name, node in managed_cluster.nodes.items():
        if node.pid() is None:
            managed_cluster.start_node(name)
    return managed_cluster


@pytest.fixture
def cluster_store(cluster: ManagedCluster) -> Iterator[Store]:
    store = Store.from_url(cluster.url, request_timeout=60)
    yield store
    store.close()


@pytest.fixture
def cluster_prefix(cluster_store: Store) -> Iterator[str]:
    p = "c" + uuid.uuid4().hex[:10]
    yield p
    cluster_store.delete_indices(f"{p}-*")
    cluster_store.delete_index_templates(f"{p}-*")


@pytest.fixture
def cluster_settings(tmp_path: Path, cluster_prefix: str, cluster: ManagedCluster) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data", index_prefix=cluster_prefix, es={"url": cluster.url},
        api={"secret_key": TEST_SECRET}, audit={"secret_key": TEST_SECRET},
    )
