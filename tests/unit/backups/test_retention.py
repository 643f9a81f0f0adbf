from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backup_orchestrator.models import Retention
from backup_orchestrator.retention import decide

START = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)


def every_6h(days: int) -> list[tuple[str, datetime]]:
    return [(f"r{i:04d}", START + timedelta(hours=6 * i)) for i in range(days * 4)]


def test_keep_last_daily_weekly_monthly_with_a_controlled_clock() -> None:
    points = every_6h(120)  # 2026-01-01 .. 2026-04-30, four a day
    now = points[-1][1] + timedelta(hours=1)
    d = decide(points, Retention(keep_last=3, keep_daily=7, keep_weekly=4, keep_monthly=3), now)
    newest = points[-1][0]
    assert set(d.keep[newest]) == {"newest", "last", "daily", "weekly", "monthly"}
    assert [pid for pid, _ in points[-3:]] == sorted(pid for pid, r in d.keep.items() if "last" in r)
    daily = sorted(pid for pid, r in d.keep.items() if "daily" in r)
    assert len(daily) == 7
    # one per day: the newest of each of the last 7 days (the 18:00 point)
    assert all(dict(points)[pid].hour == 20 for pid in daily[:-1])
    assert len([p for p, r in d.keep.items() if "weekly" in r]) == 4
    monthly = [dict(points)[p] for p, r in d.keep.items() if "monthly" in r]
    assert sorted((t.year, t.month) for t in monthly) == [(2026, 2), (2026, 3), (2026, 4)]
    assert len(d.keep) + len(d.remove) == len(points)
    assert set(d.keep).isdisjoint(d.remove)


def test_a_pause_in_backups_never_erodes_the_history() -> None:
    points = every_6h(10)
    later = points[-1][1] + timedelta(days=400)  # nothing for over a year
    d = decide(points, Retention(keep_daily=3), later)
    assert len(d.keep) == 3


def test_points_from_the_future_and_the_newest_are_always_kept() -> None:
    points = every_6h(3)
    now = points[4][1]  # the clock says most points are in the future (skew)
    d = decide(points, Retention(keep_last=1), now)
    assert all(pid in d.keep for pid, t in points if t > now)
    assert "future" in d.keep[points[-1][0]]


def test_empty_policy_keeps_everything() -> None:
    points = every_6h(2)
    d = decide(points, Retention(), points[-1][1])
    assert d.remove == () and len(d.keep) == len(points)


def test_advancing_clock_removes_old_points_step_by_step() -> None:
    policy = Retention(keep_last=2, keep_daily=2)
    kept: set[str] = set()
    removed: set[str] = set()
    history: list[tuple[str, datetime]] = []
    for pid, t in every_6h(5):
        history.append((pid, t))
        d = decide([p for p in history if p[0] not in removed], policy, t)
        removed |= set(d.remove)
        kept = set(d.keep)
    assert len(kept) == 3  # the last two plus the newest of the previous day
    assert len(removed) == 20 - 3
