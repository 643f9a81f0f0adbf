"""Which recovery points a retention policy keeps: a pure function of the points and a clock.

Semantics follow restic's ``forget``: ``keep_daily: 7`` keeps the newest point of each of the
7 most recent UTC days *that have points* (so a pause in backups never erodes the history),
likewise ISO weeks and calendar months. The newest point is always kept, and so is any point
dated after ``now`` (a skewed clock must not make us delete fresh data). An empty policy keeps
everything rather than nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from backup_orchestrator.models import Retention


@dataclass(frozen=True)
class Decision:
    keep: dict[str, tuple[str, ...]] = field(default_factory=dict)
    remove: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"keep": {k: list(v) for k, v in self.keep.items()}, "remove": list(self.remove)}


def _buckets() -> list[tuple[str, Callable[[datetime], tuple[int, ...]]]]:
    return [
        ("daily", lambda t: (t.year, t.month, t.day)),
        ("weekly", lambda t: tuple(t.isocalendar()[:2])),
        ("monthly", lambda t: (t.year, t.month)),
    ]


def decide(points: Sequence[tuple[str, datetime]], policy: Retention, now: datetime) -> Decision:
    """``points`` are ``(id, time)``; returns what to keep (with reasons) and what to remove."""
    ordered = sorted(points, key=lambda p: (p[1], p[0]), reverse=True)
    reasons: dict[str, list[str]] = {pid: [] for pid, _ in ordered}
    if policy.empty:
        return Decision(keep={pid: ("no retention policy",) for pid in reasons}, remove=())
    for pid, t in ordered:
        if t > now:
            reasons[pid].append("future")
    if ordered:
        reasons[ordered[0][0]].append("newest")
    for pid, _ in ordered[: policy.keep_last]:
        reasons[pid].append("last")
    limits = {"daily": policy.keep_daily, "weekly": policy.keep_weekly, "monthly": policy.keep_monthly}
    for name, key in _buckets():
        limit = limits[name]
        if not limit:
            continue
        seen: set[tuple[int, ...]] = set()
        for pid, t in ordered:
            if len(seen) >= limit:
                break
            bucket = key(t)
            if bucket not in seen:
                seen.add(bucket)
                reasons[pid].append(name)
    keep = {pid: tuple(r) for pid, r in reasons.items() if r}
    remove = tuple(pid for pid, _ in ordered if pid not in keep)
    return Decision(keep=keep, remove=remove)
