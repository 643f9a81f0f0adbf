"""Rule health: retry with backoff, bounded windows, status for the rules list, platform alerts
and Prometheus gauges — a failing rule is never retried silently forever.

A rule whose run fails keeps its checkpoint and is retried after ``interval × 2^(failures-1)``
(at most ``max_backoff_seconds``). Its window is capped at ``max_window_seconds``: what falls
before is skipped, recorded as a gap on the rule (``stats.gaps``, ``stats.gap_seconds``) and
raised as a platform alert. After ``alert_after_failures`` consecutive failures a platform alert
names the rule and its error (one per failure streak).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from core.alerting import build_alert, raise_alert
from core.es import Store
from core.timeutil import iso, parse_iso
from detections.models import RuleRunResult

STATUSES = ("ok", "failing", "never_run")
MAX_GAPS_KEPT = 20


def backoff_seconds(failures: int, interval: int, max_backoff: int) -> int:
    return int(min(max_backoff, interval * 2 ** max(0, min(failures - 1, 20))))


def retry_due(cp: dict[str, Any] | None, now: datetime) -> bool:
    nxt = (cp or {}).get("next_retry")
    return not nxt or parse_iso(str(nxt)) <= now


def capped_start(lo: str, hi: datetime, max_window_seconds: int) -> tuple[str, dict[str, str] | None]:
    """The window start no earlier than ``hi - max_window``; the skipped span, if any."""
    floor = hi - timedelta(seconds=max_window_seconds)
    if parse_iso(lo) >= floor:
        return lo, None
    start = iso(floor)
    return start, {"from": lo, "to": start}


def record(entry: dict[str, Any], res: RuleRunResult, now: datetime, *, interval: int, max_backoff: int,
           gap: dict[str, str] | None) -> dict[str, Any]:
    """Update a rule's checkpoint entry after a run (status, failures, next retry, gaps)."""
    entry = dict(entry)
    entry["last_run"] = iso(now)
    if gap is not None:
        # The skipped span is final either way: the next window starts after it.
        gaps = list(entry.get("gaps") or []) + [gap | {"recorded": iso(now)}]
        entry["gaps"] = gaps[-MAX_GAPS_KEPT:]
        seconds = int((parse_iso(gap["to"]) - parse_iso(gap["from"])).total_seconds())
        entry["gap_seconds"] = int(entry.get("gap_seconds") or 0) + seconds
        entry["checkpoint"] = gap["to"]
    if res.error is None:
        entry["checkpoint"] = res.window_end
        entry.update(status="ok", failures=0, next_retry=None, failing_since=None)
    else:
        failures = int(entry.get("failures") or 0) + 1
        entry.update(status="failing", failures=failures, last_error=res.error,
                     failing_since=entry.get("failing_since") or iso(now),
                     next_retry=iso(now + timedelta(seconds=backoff_seconds(failures, interval, max_backoff))))
    return entry


def stats_fields(entry: dict[str, Any]) -> dict[str, Any]:
    """What the rule document shows (``soc rules list``, ``/api/v1/rules``, the console)."""
    out = {k: entry.get(k) for k in ("status", "failures", "next_retry", "failing_since", "gap_seconds")}
    gaps = entry.get("gaps") or []
    out["last_gap"] = gaps[-1] if gaps else None
    out["gap_seconds"] = int(out["gap_seconds"] or 0)
    out["failures"] = int(out["failures"] or 0)
    return out


def raise_health_alerts(store: Store, prefix: str, rule_id: str, title: str, entry: dict[str, Any],
                        gap: dict[str, str] | None, alert_after_failures: int) -> int:
    raised = 0
    if entry.get("status") == "failing" and int(entry.get("failures") or 0) == alert_after_failures:
        alert_id, doc = build_alert(
            rule_id="platform.detections.rule_failing", rule_name="Detection rule failing", level="high",
            reason=(f"Rule {title} ({rule_id}) failed {alert_after_failures} runs in a row: "
                    f"{entry.get('last_error')}. Next retry {entry.get('next_retry')}; see `soc rules list`."),
            key=f"{rule_id}|{entry.get('failing_since')}", source="platform", tags=["platform", "detections"])
        doc["alert"]["subject_rule_id"] = rule_id
        raised += raise_alert(store, prefix, alert_id, doc)
    if gap is not None:
        alert_id, doc = build_alert(
            rule_id="platform.detections.window_gap", rule_name="Detection window skipped", level="high",
            reason=(f"Rule {title} ({rule_id}) could not search events ingested {gap['from']} – {gap['to']} "
                    "(longer than the maximum window); those events were not checked by this rule."),
            key=f"{rule_id}|{gap['from']}", source="platform", tags=["platform", "detections"])
        doc["alert"]["subject_rule_id"] = rule_id
        raised += raise_alert(store, prefix, alert_id, doc)
    return raised


class RuleStatusCollector:
    """Prometheus collector reading rule status from ``<prefix>-rules`` at scrape time, so the
    API process reports what the scheduler processes did."""

    def __init__(self, store: Store, prefix: str) -> None:
        self.store, self.prefix = store, prefix

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        by_status = GaugeMetricFamily("soc_detection_rules", "Enabled detection rules by run status",
                                      labels=["status"])
        failing = GaugeMetricFamily("soc_detection_rule_failing",
                                    "Consecutive failed runs of each failing rule", labels=["rule_id"])
        gaps = GaugeMetricFamily("soc_detection_rule_gap_seconds",
                                 "Seconds of events a rule skipped (window cap), per rule with a gap",
                                 labels=["rule_id"])
        counts = dict.fromkeys(STATUSES, 0)
        try:
            from detections.repository import list_rule_docs

            docs = list_rule_docs(self.store, self.prefix, enabled_only=True, source_fields=["id", "stats"])
        except Exception:  # a scrape must not fail because Elasticsearch is down
            docs = []
        for d in docs:
            st = d.get("stats") or {}
            status = st.get("status") or ("ok" if st.get("last_run") else "never_run")
            counts[status if status in counts else "ok"] += 1
            if status == "failing":
                failing.add_metric([d["id"]], float(st.get("failures") or 0))
            if st.get("gap_seconds"):
                gaps.add_metric([d["id"]], float(st["gap_seconds"]))
        for status, n in counts.items():
            by_status.add_metric([status], float(n))
        yield by_status
        yield failing
        yield gaps
