"""The port through which every domain records what it did (implemented by ``audit/``).

Domains depend on this protocol, not on ``audit/``: the composition root (``soc/``, ``api/``)
passes the real trail in; unit tests pass ``MemoryAuditor``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    address: str | None = None
    # The department the actor acts for (``core.scope.DISTRICT`` for district-wide roles).
    organization: str | None = None

    @classmethod
    def system(cls, component: str = "scheduler") -> Actor:
        return cls(name=f"system:{component}", role="system")


class Auditor(Protocol):
    def record(self, actor: Actor, action: str, target: str, outcome: str = "success",
               detail: dict[str, Any] | None = None) -> None: ...


@dataclass
class MemoryAuditor:
    records: list[dict[str, Any]] = field(default_factory=list)

    def record(self, actor: Actor, action: str, target: str, outcome: str = "success",
               detail: dict[str, Any] | None = None) -> None:
        self.records.append({"actor": actor.name, "role": actor.role, "action": action, "target": target,
                             "outcome": outcome, "detail": detail or {}})
