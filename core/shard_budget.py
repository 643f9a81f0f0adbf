"""The shard budget: the platform stops creating indices before the cluster's hard limit.

Elasticsearch refuses new indices once ``cluster.max_shards_per_node`` × data nodes shards are
open, and then every write that needs a new index fails — in the middle of an import, and for
the audit index too. The platform keeps below a lower budget (80% of that by default, or
``SOC_EVENTS_SHARD_BUDGET``) and checks it *before* it starts work that creates indices, so an
import is refused up front with what to do instead of failing half-way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core.errors import InvalidInput
from core.es import Store
from core.settings import EventsSettings

DEFAULT_RATIO = 0.8


class ShardBudgetExceeded(InvalidInput):
    """Creating the index would pass the shard budget (CLI exit code 2, HTTP 422)."""

    code = "shard_budget_exceeded"


@dataclass(frozen=True)
class ShardUsage:
    used: int
    budget: int
    limit: int
    data_nodes: int

    @property
    def room(self) -> int:
        return self.budget - self.used

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "room": self.room}


def usage(store: Store, events: EventsSettings) -> ShardUsage:
    used, per_node, nodes = store.shard_limits()
    limit = per_node * nodes
    budget = events.shard_budget if events.shard_budget is not None else int(limit * DEFAULT_RATIO)
    return ShardUsage(used=used, budget=min(budget, limit), limit=limit, data_nodes=nodes)


def require_room(store: Store, events: EventsSettings, shards: int, what: str) -> ShardUsage:
    """Raise ``ShardBudgetExceeded`` unless ``shards`` more shards fit in the budget."""
    current = usage(store, events)
    if shards > 0 and current.used + shards > current.budget:
        raise ShardBudgetExceeded(
            f"{what} needs {shards} new shard(s), but the cluster already uses {current.used} of the platform's "
            f"budget of {current.budget} (limit {current.limit}: cluster.max_shards_per_node × {current.data_nodes} "
            "data node(s)). Nothing was written. Free shards first: migrate old daily event indices "
            "(`soc es migrate`), set SOC_EVENTS_RETENTION_DAYS so expired indices are deleted, delete indices "
            "you no longer need, or add data nodes; SOC_EVENTS_SHARD_BUDGET raises the budget "
            "(`soc es status` shows the usage).",
            detail=current.as_dict(),
        )
    return current
