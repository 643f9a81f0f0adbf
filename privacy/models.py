"""Shapes of the personal-information inventory and unmask grants."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class InventoryRow:
    """One (dataset, field, kind) where personal information was found at ingest."""

    dataset: str
    field: str
    type: str
    events: int
    first_seen: str | None
    last_seen: str | None
    action: str          # what the policy in force does with it now
    hosts: tuple[str, ...]
    endpoints: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hosts"], d["endpoints"] = list(self.hosts), list(self.endpoints)
        return d


CSV_COLUMNS = ("dataset", "field", "type", "events", "first_seen", "last_seen", "action", "hosts", "endpoints")


@dataclass(frozen=True)
class UnmaskGrant:
    id: str
    user: str
    case_id: str
    reason: str
    created_at: str
    expires_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
