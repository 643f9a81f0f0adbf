"""Event storage by ingest time: write aliases, rollover, dedupe across rollovers, retention by
each index's newest event, and the shard budget refusing an import up front."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from collectors import service
from collectors.models import Event
from core.es import Store
from core.event_layout import EventWriter, backing_index, ensure_write_alias, events_alias
from core.event_lifecycle import (
    apply_retention,
    event_aliases,
    last_maintenance,
    maintenance_job,
    rollover_due,
)
from core.schema import install_templates
from core.settings import EventsSettings, Settings
from core.timeutil import iso, utcnow
from soc.cli import main
from tests.conftest import TEST_SECRET


def _events(dataset: str, years: range, per_year: int, tag: str = "") -> list[Event]:
    out = []
    for year in years:
        for k in range(per_year):
            ts = f"{year}-{1 + k % 12:02d}-{1 + k % 28:02d}T{k % 24:02d}:00:00.000Z"
            out.append(Event(f"{dataset}-{tag}{year}-{k}", dataset, {"@timestamp": ts, "message": f"e {year} {k}",
                                                                        "event": {"kind": "event"}}))
    return out


def _indices(store: Store, prefix: str) -> list[str]:
    return store.list_indices(f"{prefix}-events-*")


def test_ten_years_of_history_create_one_index_per_dataset(settings: Settings, store: Store, prefix: str) -> None:
    events = _events("windows.sysmon", range(2011, 2021), 40) + _events("network.flow", range(2011, 2021), 30)
    summary = service.ship_events(settings, store, events, source="history")
    assert summary.shipped == len(events) == 700 and summary.failed == 0
    # 3,000+ distinct event days, two datasets: two indices, written through their aliases.
    assert _indices(store, prefix) == [backing_index(events_alias(prefix, "network.flow")),
                                       backing_index(events_alias(prefix, "windows.sysmon"))]
    assert event_aliases(store, prefix) == {
        events_alias(prefix, "network.flow"): {backing_index(events_alias(prefix, "network.flow")): True},
        events_alias(prefix, "windows.sysmon"): {backing_index(events_alias(prefix, "windows.sysmon")): True},
    }
    store.refresh(f"{prefix}-events-*")
    assert store.count(f"{prefix}-events-windows.sysmon-*") == 400


def test_a_batch_resent_after_rollover_is_counted_as_duplicates(settings: Settings, store: Store, prefix: str) -> None:
    events = _events("system.auth", range(2024, 2026), 150)
    first = service.ship_events(settings, store, events, source="once")
    assert first.shipped == 300
    alias = events_alias(prefix, "system.auth")
    assert store.rollover(alias)["rolled_over"]
    # The same import again (or a spool replay after a crash) now targets the new write index,
    # where op_type=create alone would store every event a second time.
    again = service.ship_events(settings, store, events + _events("system.auth", range(2026, 2027), 5, "new"),
                                source="again")
    assert (again.shipped, again.duplicates, again.failed) == (5, 300, 0)
    store.refresh(f"{prefix}-events-*")
    assert store.count(alias) == 305
    assert store.count(backing_index(alias, 2)) == 5


def test_rollover_by_age_and_never_while_empty(store: Store, prefix: str) -> None:
    writer = EventWriter(store)
    busy, quiet = events_alias(prefix, "system.auth"), events_alias(prefix, "journald")
    writer.create([(busy, "a1", {"@timestamp": iso(utcnow()), "message": "x"})], refresh=True)
    ensure_write_alias(store, quiet, None)
    report = rollover_due(store, prefix, EventsSettings(rollover_max_age="0s"))
    assert [r["alias"] for r in report.rolled_over] == [busy]
    assert event_aliases(store, prefix)[busy] == {backing_index(busy, 1): False, backing_index(busy, 2): True}
    assert event_aliases(store, prefix)[quiet] == {backing_index(quiet, 1): True}
    # Default conditions (1d, 10gb) leave a fresh index alone.
    assert rollover_due(store, prefix, EventsSettings()).rolled_over == []


def test_retention_deletes_whole_indices_by_their_newest_event(store: Store, prefix: str) -> None:
    writer = EventWriter(store)
    alias = events_alias(prefix, "windows.security")
    now = utcnow()

    def put(tag: str, stamps: list[str]) -> None:
        result = writer.create([(alias, f"{tag}{i}", {"@timestamp": ts, "message": tag}) for i, ts in enumerate(stamps)],
                               refresh=True)
        assert result.created == len(stamps)

    put("old", ["2016-03-01T00:00:00.000Z", "2017-05-01T00:00:00.000Z"])           # -000001: expired
    store.rollover(alias)
    put("mixed", ["2015-01-01T00:00:00.000Z", iso(now - timedelta(days=10))])     # -000002: newest is recent
    store.rollover(alias)
    put("late", ["2018-01-01T00:00:00.000Z", "2019-12-31T23:59:59.000Z"])          # -000003: write index, expired
    report = apply_retention(store, prefix, EventsSettings(retention_days=365), now=now)
    assert sorted(d["index"] for d in report.deleted) == [backing_index(alias, 1), backing_index(alias, 3)]
    assert report.rolled_over == [{"alias": alias, "old_index": backing_index(alias, 3),
                                   "new_index": backing_index(alias, 4)}]
    assert event_aliases(store, prefix)[alias] == {backing_index(alias, 2): False, backing_index(alias, 4): True}
    store.refresh(alias)
    assert store.count(alias) == 2
    # The alias still takes writes, and nothing else expires on a second pass.
    put("after", [iso(now)])
    assert apply_retention(store, prefix, EventsSettings(retention_days=365), now=now).deleted == []
    assert apply_retention(store, prefix, EventsSettings(), now=now).deleted == []


def test_shard_budget_refuses_an_import_up_front(settings: Settings, store: Store, prefix: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "auth.log"
    log.write_text("Nov 26 10:00:00 web sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n")
    # Budget 1 with at least one shard in use: full, whatever else the shared cluster holds.
    store.ensure_index(f"{prefix}-filler")
    for key, value in {"SOC_ES_URL": settings.es_url, "SOC_INDEX_PREFIX": prefix, "SOC_DATA_DIR": str(settings.data_dir),
                       "SOC_LANGUAGE": "en", "SOC_AUDIT_SECRET_KEY": TEST_SECRET,
                       "SOC_EVENTS_SHARD_BUDGET": "1"}.items():
        monkeypatch.setenv(key, value)
    code = main(["collect", "file", "--parser", "system.auth", str(log)])
    err = capsys.readouterr().err
    assert code == 2
    assert "budget" in err and "soc es migrate" in err and "SOC_EVENTS_SHARD_BUDGET" in err and "Nothing was written" in err
    assert _indices(store, prefix) == [] and not (settings.data_dir / "spool" / "imports").exists()
    # `soc es status` reports the usage against the budget.
    assert main(["es", "status", "--json"]) == 0
    shards = json.loads(capsys.readouterr().out)["shards"]
    assert shards["budget"] == 1 and shards["used"] >= 1 and shards["limit"] >= 1


def test_a_deleted_alias_is_recreated_never_auto_created_as_an_index(store: Store, prefix: str) -> None:
    install_templates(store, prefix)
    writer = EventWriter(store)
    alias = events_alias(prefix, "system.syslog")
    assert writer.create([(alias, "s1", {"@timestamp": iso(utcnow())})], refresh=True).created == 1
    store.delete_indices(f"{prefix}-events-*")
    # The writer still believes the alias exists; require_alias turns the write into a 404 that
    # re-creates the alias instead of Elasticsearch auto-creating an index named like it.
    assert writer.create([(alias, "s2", {"@timestamp": iso(utcnow())})], refresh=True).created == 1
    assert event_aliases(store, prefix) == {alias: {backing_index(alias): True}}
    assert store.list_indices(f"{prefix}-events-*") == [backing_index(alias)]


def test_scheduled_maintenance_refuses_a_rollover_past_the_budget_and_says_so(settings: Settings, store: Store,
                                                                               prefix: str) -> None:
    alias = events_alias(prefix, "auditd.log")
    EventWriter(store).create([(alias, "a1", {"@timestamp": iso(utcnow())})], refresh=True)
    tight = settings.model_copy(update={"events": EventsSettings(rollover_max_age="0s", shard_budget=1)})
    maintenance_job(tight, store)
    last = last_maintenance()
    assert last["rolled_over"] == 0 and "Rolling over " + alias in last["refused"][0]
    assert event_aliases(store, prefix) == {alias: {backing_index(alias): True}}
    roomy = settings.model_copy(update={"events": EventsSettings(rollover_max_age="0s")})
    maintenance_job(roomy, store)
    assert last_maintenance()["rolled_over"] == 1 and last_maintenance()["refused"] == []


def test_backing_indices_without_their_alias_are_adopted(store: Store, prefix: str) -> None:
    """As after restoring a snapshot without aliases: the newest backing index takes writes again."""
    install_templates(store, prefix)
    alias = events_alias(prefix, "network.dns")
    for n in (1, 2):
        store.create_index(backing_index(alias, n))
    assert EventWriter(store).create([(alias, "d1", {"@timestamp": iso(utcnow())})], refresh=True).created == 1
    assert event_aliases(store, prefix) == {alias: {backing_index(alias, 1): False, backing_index(alias, 2): True}}
    assert store.count(backing_index(alias, 2)) == 1
