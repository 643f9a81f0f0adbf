"""Audit domain values: the sealed head of the trail and what verification reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.contracts import AuditRecord as AuditRecord  # the published record (read by compliance)


@dataclass(frozen=True)
class Head:
    """The newest record of the trail as it was sealed outside both copies.

    ``kind`` says who sealed it: ``append`` (a record was written), ``verify`` (a verification
    saw this head).
    """

    seq: int
    hash: str
    time: str
    kind: str = "append"

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "time": self.time, "kind": self.kind}


@dataclass(frozen=True)
class AnchorReport:
    """What verification learnt from the head file and where heads are also sent."""

    path: str
    sealed: Head | None  # the highest authentic head in the file
    append_only: bool  # chattr +a is set on the file
    journal: str  # sent | unavailable
    problems: tuple[str, ...] = ()  # unreadable or forged lines

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sealed_head": self.sealed.to_dict() if self.sealed else None,
                "append_only": self.append_only, "journal": self.journal, "problems": list(self.problems)}
