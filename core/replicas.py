"""How many copies of each shard the platform asks for: decided here, once, for every index.

One replica as soon as the cluster has a second data node, none on a single node (where a
replica could never be allocated and the cluster would stay yellow). ``auto_expand_replicas``
is a server-core index setting: Elasticsearch itself moves between 0 and 1 as data nodes join
and leave, so a single node that later becomes a cluster needs no migration, and a 3-node
cluster that loses one node keeps its replicas (two data nodes remain).
"""

from __future__ import annotations

from typing import Any

REPLICAS = "0-1"


def index_settings(**extra: Any) -> dict[str, Any]:
    """Shard and replica settings of a platform index (or template), plus ``extra``."""
    return {"number_of_shards": 1, "auto_expand_replicas": REPLICAS, **extra}
