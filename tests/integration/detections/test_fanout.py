"""Grouped rule searches on the real node: a failing rule is isolated by bisection and retried
with backoff (status, platform alert, metric), windows are capped with the gap recorded, and
thousands of matches past the per-run cap become grouped alerts with counts and first/last seen."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest

from core.timeutil import iso, utcnow
from detections import repository as repo
from detections.health import RuleStatusCollector
from detections.loader import load_sources
from detections.runner import run_cycle
from soc.cli import main
from tests.integration.detections.conftest import alerts, ts, write_events

RULE = ("title: {title}\nid: {id}\nstatus: test\nlogsource:\n    product: linux\n    service: auth\n"
        "detection:\n    sel:\n        labels.k: {value}\n    condition: sel\nlevel: low\n")


def rule(n: int, value: str = "hit"):
    rid = f"44444444-0000-4000-8000-{n:012d}"
    return load_sources([(f"r{n}.yml", RULE.format(title=f"rule {n}", id=rid, value=value))]).rules[0]


def platform_alerts(store, prefix, kind):
    return [a for a in alerts(store, prefix) if a["rule"]["id"] == f"platform.detections.{kind}"]


def test_failing_rule_isolated_retried_with_backoff_and_reported(store, prefix, runner_cfg, settings, capsys,
                                                                 monkeypatch):
    good = [rule(i) for i in range(1, 12)]
    # Fails only when the shard runs it: the whole grouped search fails, bisection isolates it.
    bad = replace(rule(99), title="bad", query={"regexp": {"message": {"value": "((", "flags": "NONE"}}})
    repo.save_rules(store, prefix, [*good[:6], bad, *good[6:]])
    write_events(store, prefix, [{"@timestamp": ts(5), "event": {"dataset": "system.auth"}, "labels": {"k": "hit"},
                                  "message": "m"}])
    cfg = replace(runner_cfg, partitions=1, alert_after_failures=2, interval_seconds=60)
    result = run_cycle(store, cfg, force=True)
    by_rule = {r.rule_id: r for r in result.results}
    assert by_rule[bad.id].error and all(by_rule[g.id].error is None for g in good)
    assert all(by_rule[g.id].alerts_created == 1 for g in good)
    stats = repo.get_rule_doc(store, prefix, bad.id)["_source"]["stats"]
    assert stats["status"] == "failing" and stats["failures"] == 1 and "((" not in (stats.get("next_retry") or "((")
    assert platform_alerts(store, prefix, "rule_failing") == []

    # Not due again before its backoff: an unforced cycle skips it (and the good rules, just run).
    again = run_cycle(store, cfg)
    assert bad.id not in {r.rule_id for r in again.results}

    # The second failure in a row (forced) raises one platform alert naming the rule.
    run_cycle(store, cfg, force=True)
    raised = platform_alerts(store, prefix, "rule_failing")
    assert len(raised) == 1 and bad.id in raised[0]["alert"]["reason"]
    run_cycle(store, cfg, force=True)
    assert len(platform_alerts(store, prefix, "rule_failing")) == 1, "one alert per failure streak"

    store.refresh(repo.rules_index(prefix))
    registry = CollectorRegistry()
    registry.register(RuleStatusCollector(store, prefix))
    text = generate_latest(registry).decode()
    assert 'soc_detection_rules{status="failing"} 1.0' in text
    monkeypatch.setenv("SOC_ES_URL", settings.es_url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", prefix)
    monkeypatch.setenv("SOC_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SOC_LANGUAGE", "en")
    assert main(["rules", "list"]) == 0
    listing = capsys.readouterr().out
    bad_line = next(line for line in listing.splitlines() if bad.id in line)
    assert "failing x3" in bad_line and "last error" in listing and "next retry" in listing
    assert all(" ok " in line for line in listing.splitlines() if any(g.id in line for g in good))
    assert f"soc_detection_rule_failing{{rule_id=\"{bad.id}\"}} 3.0" in text, text


def test_window_cap_records_gap_and_alerts(store, prefix, runner_cfg):
    r = rule(1)
    repo.save_rules(store, prefix, [r])
    cfg = replace(runner_cfg, partitions=1, initial_lookback_seconds=7200, max_window_seconds=600)
    write_events(store, prefix, [{"@timestamp": ts(5), "event": {"dataset": "system.auth"}, "labels": {"k": "hit"},
                                  "message": "inside"}])
    write_events(store, prefix, [{"@timestamp": ts(3000), "event": {"dataset": "system.auth"},
                                  "labels": {"k": "hit"}, "message": "skipped"}],
                 ingested=utcnow() - timedelta(seconds=3000))
    result = run_cycle(store, cfg, force=True)
    assert result.results[0].hits == 1 and result.results[0].error is None
    stats = repo.get_rule_doc(store, prefix, r.id)["_source"]["stats"]
    assert 7200 - 600 - 5 <= stats["gap_seconds"] <= 7200 - 600 + 5
    assert stats["last_gap"]["to"] > stats["last_gap"]["from"]
    gap = platform_alerts(store, prefix, "window_gap")
    assert len(gap) == 1 and r.id in gap[0]["alert"]["reason"]


def test_thousands_of_matches_become_grouped_alerts(store, prefix, runner_cfg):
    noisy, quiet = rule(1), rule(2, value="rare")
    repo.save_rules(store, prefix, [noisy, quiet])
    base = utcnow() - timedelta(minutes=30)
    events = [{"@timestamp": iso(base + timedelta(seconds=i)), "event": {"dataset": "system.auth"},
               "labels": {"k": "hit"}, "host": {"name": f"h{i % 3}"}, "message": f"m{i}", "_id": f"e{i}"}
              for i in range(3000)]
    events.append({"@timestamp": iso(base), "event": {"dataset": "system.auth"}, "labels": {"k": "rare"},
                   "host": {"name": "h9"}, "message": "rare", "_id": "rare"})
    write_events(store, prefix, events)
    cfg = replace(runner_cfg, partitions=1, max_alerts_per_run=100, page_size=50)
    result = run_cycle(store, cfg, force=True)
    by_rule = {r.rule_id: r for r in result.results}
    assert by_rule[noisy.id].hits == 3000 and by_rule[noisy.id].grouped == 3000
    assert by_rule[quiet.id].hits == 1 and by_rule[quiet.id].alerts_created == 1
    grouped = alerts(store, prefix, noisy.id)
    assert sorted(a["host"]["name"] for a in grouped) == ["h0", "h1", "h2"]
    assert sum(a["alert"]["event_count"] for a in grouped) == 3000
    h0 = next(a for a in grouped if a["host"]["name"] == "h0")
    assert h0["alert"]["first_seen"] == iso(base) and h0["alert"]["last_seen"] == iso(base + timedelta(seconds=2997))
    assert "1000 matching events" in h0["alert"]["reason"]
    # A rerun of the same window adds nothing.
    again = run_cycle(store, cfg, force=True)
    assert sum(r.alerts_created for r in again.results) == 0
