"""Sliding-window evaluation of correlations (pure logic, no Elasticsearch)."""

from __future__ import annotations

from detections.correlation import find_windows, window_fires
from detections.models import Correlation


def corr(kind: str, n: int, span: int = 300, rules: tuple[str, ...] = ("a",)) -> Correlation:
    return Correlation(type=kind, rules=rules, group_by=("source.ip",), timespan_seconds=span, condition={"gte": n})


def ev(t: float, rule: int = 0, value: object = None, new: bool = True) -> tuple[float, int, object, bool]:
    return (t, rule, value, new)


def test_burst_straddling_clock_aligned_buckets_fires():
    # 10 events from 290 s to 310 s: 5 in the bucket [0, 300), 5 in [300, 600). Fixed buckets of 300 s
    # would see 5 + 5 and never reach 10; a sliding window sees all 10 within 20 s.
    events = [ev(290 + 2 * i) for i in range(10)]
    assert find_windows(corr("event_count", 10), events) == [(0, 9)]


def test_events_spread_wider_than_timespan_do_not_fire():
    events = [ev(i * 40) for i in range(10)]  # 360 s from first to last
    assert find_windows(corr("event_count", 10), events) == []


def test_window_boundary_is_inclusive():
    events = [ev(0), ev(150), ev(300)]
    assert find_windows(corr("event_count", 3), events) == [(0, 2)]
    assert find_windows(corr("event_count", 3), [ev(0), ev(150), ev(300.001)]) == []


def test_only_windows_with_new_events_fire():
    old = [ev(i, new=False) for i in range(10)]
    assert find_windows(corr("event_count", 10), old) == []
    assert find_windows(corr("event_count", 10), old[:9] + [ev(9.5)]) == [(0, 9)]


def test_one_burst_gives_one_window_then_restarts_after_it():
    events = [ev(i) for i in range(25)]
    assert find_windows(corr("event_count", 10, span=100), events) == [(0, 24)]
    spaced = [ev(i) for i in range(10)] + [ev(1000 + i) for i in range(10)]
    assert find_windows(corr("event_count", 10, span=100), spaced) == [(0, 9), (10, 19)]


def test_value_count_counts_distinct_values():
    c = corr("value_count", 3)
    assert not window_fires(c, [ev(0, value="root"), ev(1, value="root"), ev(2, value="admin")])
    assert window_fires(c, [ev(0, value="root"), ev(1, value="bob"), ev(2, value="admin")])


def test_temporal_needs_every_rule_and_ordered_needs_the_order():
    t = Correlation(type="temporal", rules=("a", "b"), group_by=(), timespan_seconds=60, condition={"gte": 2})
    o = Correlation(type="temporal_ordered", rules=("a", "b"), group_by=(), timespan_seconds=60,
                    condition={"gte": 2})
    assert not window_fires(t, [ev(0, 0), ev(1, 0)])
    assert window_fires(t, [ev(0, 1), ev(1, 0)])
    assert not window_fires(o, [ev(0, 1), ev(1, 0)])
    assert window_fires(o, [ev(0, 1), ev(1, 0), ev(2, 1)])
