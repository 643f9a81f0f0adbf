"""Network collector results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CaptureSummary:
    """What reading one or more captures produced (before shipping)."""

    files: list[str] = field(default_factory=list)
    packets: int = 0
    bytes: int = 0
    flows: int = 0
    events: dict[str, int] = field(default_factory=dict)
    parse_errors: int = 0
    errors_by_reason: dict[str, int] = field(default_factory=dict)
    evicted_flows: int = 0
    unsupported: int = 0
    file_errors: list[str] = field(default_factory=list)

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["total_events"] = self.total_events
        return out


@dataclass(frozen=True)
class PcapImportSummary:
    capture: CaptureSummary
    shipped: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    failed: int = 0
    seconds: float = 0.0
    error: str | None = None
    unassigned: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.capture.to_dict(), "shipped": self.shipped, "duplicates": self.duplicates,
                "dead_lettered": self.dead_lettered, "failed": self.failed, "seconds": self.seconds,
                "error": self.error, "unassigned": self.unassigned}


@dataclass
class DecodeStats:
    """What the decoder (and the fragment reassembly it drives) counted and dropped."""

    malformed: int = 0
    unsupported: int = 0
    fragments: int = 0
    reassembled: int = 0
    fragments_dropped: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def bad(self, reason: str) -> None:
        self.malformed += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
