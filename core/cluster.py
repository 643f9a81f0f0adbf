"""A managed multi-node cluster on one host: several ``ManagedNode`` processes that find each
other over loopback transport ports.

Each node is started exactly like the single managed node (same distribution, same
unprivileged user when we are root, own data/log directories) with a node name, the
transport addresses of all members as ``discovery.seed_hosts`` and every member as
``cluster.initial_master_nodes`` (all are master-eligible data nodes, so any one may die and the
remaining two still elect a master). Used by the test suite and benchmarks to prove the platform
on a real cluster; a production cluster is run by its operators and reached with
``SOC_ES_URL=http://a:9200,http://b:9200,…``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import Unavailable
from core.node import ClusterMember, ManagedNode, NodeStatus
from core.settings import Settings


class ManagedCluster:
    def __init__(self, settings: Settings, base_dir: Path, ports: Sequence[tuple[int, int]]) -> None:
        """``ports``: one ``(http, transport)`` pair per node; node ``i`` lives in ``base_dir/node-i``."""
        if len(ports) < 2:
            raise ValueError("a cluster needs at least two nodes; use ManagedNode for one")
        host = settings.es.host
        names = tuple(f"soc-node-{i}" for i in range(len(ports)))
        seeds = tuple(f"{host}:{t}" for _h, t in ports)
        self.settings = settings
        self.nodes: dict[str, ManagedNode] = {
            name: ManagedNode(settings, ClusterMember(name, base_dir / name, http, tport, seeds, names))
            for name, (http, tport) in zip(names, ports, strict=True)
        }

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes.values()]

    @property
    def url(self) -> str:
        """All nodes, comma-separated, as ``SOC_ES_URL`` takes them."""
        return ",".join(self.urls)

    def start(self, *, log: Callable[[str], None] = print) -> None:
        """Start every node without waiting (they must meet to elect a master), then wait for
        all of them to have joined."""
        for node in self.nodes.values():
            node.start(wait=False, log=log)
        self.wait_for_nodes(len(self.nodes))

    def start_node(self, name: str) -> NodeStatus:
        """(Re)start one member; it rejoins with its data directory."""
        node = self.nodes[name]
        node.start(wait=False, log=lambda _m: None)
        self.wait_for_nodes(len(self.nodes))
        return node.status()

    def kill(self, name: str) -> int | None:
        return self.nodes[name].kill()

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def alive(self) -> list[ManagedNode]:
        return [n for n in self.nodes.values() if n.pid()]

    def health(self, params: str = "") -> dict[str, object]:
        """``_cluster/health`` from the first member that answers."""
        last: Exception | None = None
        for node in self.alive():
            try:
                with urllib.request.urlopen(f"{node.url}/_cluster/health{params}", timeout=65) as resp:
                    return dict(json.loads(resp.read()))
            except urllib.error.HTTPError as exc:  # 408 on a wait that timed out still has a body
                return dict(json.loads(exc.read() or b"{}"))
            except (OSError, ValueError) as exc:
                last = exc
        raise Unavailable(f"no member of the managed cluster answers ({last})")

    def wait_for_nodes(self, count: int, status: str = "yellow") -> None:
        timeout = self.settings.es.start_timeout
        deadline = time.monotonic() + timeout
        body: dict[str, object] = {}
        while time.monotonic() < deadline:
            try:
                body = self.health(f"?wait_for_nodes={count}&wait_for_status={status}&timeout=5s")
            except Unavailable:
                body = {}
            if body.get("number_of_nodes") == count and not body.get("timed_out"):
                return
            time.sleep(0.5)
        tails = "\n".join(f"-- {n.name} --\n{n.log_tail(8)}" for n in self.nodes.values())
        raise Unavailable(
            f"The managed cluster did not reach {count} nodes ({status}) within {timeout:.0f}s "
            f"(last health: {body}).\n{tails}"
        )

    def primary_holders(self, index_pattern: str) -> list[str]:
        """Names of the nodes holding started primaries of ``index_pattern``."""
        node = self.alive()[0]
        url = f"{node.url}/_cat/shards/{index_pattern}?format=json&h=index,prirep,state,node"
        with urllib.request.urlopen(url, timeout=30) as resp:
            rows = json.loads(resp.read())
        return sorted({r["node"] for r in rows if r.get("prirep") == "p" and r.get("state") == "STARTED"})
