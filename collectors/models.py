"""Collector data shapes shared by every input (system logs, EVTX, network)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.contracts import CollectorStatus as CollectorStatus  # the published status file


@dataclass(frozen=True)
class Event:
    """One normalised ECS event ready for the spool.

    ``id`` is deterministic (``core.ids.stable_id`` of source identity and position, see
    design.md), ``dataset`` is ``event.dataset`` and picks the index, ``doc`` is the nested ECS
    document with at least ``@timestamp``. ``event.ingested`` is stamped by the shipper.
    """

    id: str
    dataset: str
    doc: dict[str, Any] = field(hash=False, compare=False)
