"""`soc es migrate`: per-day event indices of the old layout move into the write aliases with
the same ids, checked by counts and id digests, old indices removed only after the check;
idempotent and resumable."""

from __future__ import annotations

import json

import pytest

from core.es import Store
from core.event_layout import EventWriter, backing_index, events_alias
from core.event_lifecycle import event_aliases
from core.event_migrate import daily_indices, migrate
from core.schema import install_templates
from core.settings import Settings
from soc.cli import main
from tests.conftest import TEST_SECRET

DAYS = ["2016.03.01", "2018.07.14", "2020.12.31"]


def _seed_daily(store: Store, prefix: str) -> dict[str, set[str]]:
    """The old layout: one index per dataset per event day, written directly."""
    install_templates(store, prefix)
    ids: dict[str, set[str]] = {}
    docs = []
    for dataset, per_day in (("windows.sysmon", 30), ("network.dns", 7)):
        for day in DAYS:
            y, m, d = day.split(".")
            for k in range(per_day):
                doc_id = f"{dataset}-{day}-{k}"
                ids.setdefault(dataset, set()).add(doc_id)
                docs.append((f"{prefix}-events-{dataset}-{day}", doc_id,
                             {"@timestamp": f"{y}-{m}-{d}T10:{k % 60:02d}:00.000Z", "message": doc_id,
                              "event": {"dataset": dataset, "ingested": f"{y}-{m}-{d}T11:00:00.000Z"}}))
    assert store.bulk_create(docs, refresh=True).created == len(docs)
    return ids


def _ids_behind(store: Store, alias: str) -> set[str]:
    store.refresh(alias)
    return {h["_id"] for h in store.scan(alias, source=False)}


def test_migration_moves_checks_and_removes(settings: Settings, store: Store, prefix: str) -> None:
    ids = _seed_daily(store, prefix)
    sysmon = events_alias(prefix, "windows.sysmon")
    # A live event already written through the alias, and one old event already moved by an
    # interrupted earlier run: neither may be doubled or lost.
    EventWriter(store).create([(sysmon, "live-1", {"@timestamp": "2026-12-01T00:00:00.000Z", "message": "live"}),
                               (sysmon, "windows.sysmon-2016.03.01-0", {"@timestamp": "2016-03-01T10:00:00.000Z"})],
                              refresh=True)
    reports = {r.alias: r for r in migrate(store, settings)}
    assert set(reports) == {sysmon, events_alias(prefix, "network.dns")}
    r = reports[sysmon]
    assert (r.status, r.events, r.moved, r.already_present) == ("ok", 90, 89, 1)
    assert r.removed == [f"{prefix}-events-windows.sysmon-{d}" for d in DAYS] and len(r.ids_digest) == 64
    assert reports[events_alias(prefix, "network.dns")].events == 21
    assert store.list_indices(f"{prefix}-events-*") == [backing_index(events_alias(prefix, "network.dns")),
                                                         backing_index(sysmon)]
    assert _ids_behind(store, sysmon) == ids["windows.sysmon"] | {"live-1"}
    assert _ids_behind(store, events_alias(prefix, "network.dns")) == ids["network.dns"]
    moved = store.get(backing_index(sysmon), "windows.sysmon-2018.07.14-3")
    assert moved is not None and moved["_source"]["event"]["ingested"] == "2018-07-14T11:00:00.000Z"
    # Idempotent: nothing left to do.
    assert migrate(store, settings) == [] and daily_indices(store, prefix) == {}


def test_a_failed_check_keeps_the_old_index(settings: Settings, store: Store, prefix: str) -> None:
    install_templates(store, prefix)
    old = f"{prefix}-events-system.auth-2019.01.01"
    assert store.bulk_create([(old, "ok-1", {"@timestamp": "2019-01-01T00:00:00.000Z", "counter": "7"}),
                              (old, "bad-1", {"@timestamp": "2019-01-01T00:00:00.000Z", "counter": "abc"})],
                             refresh=True).created == 2
    # The new index maps a field differently, so one old document is refused there.
    alias = events_alias(prefix, "system.auth")
    store.create_index(backing_index(alias), aliases={alias: {"is_write_index": True}})
    store.request("PUT", f"/{backing_index(alias)}/_mapping", {"properties": {"counter": {"type": "long"}}})
    [report] = migrate(store, settings)
    assert report.status == "failed" and "bad-1" in (report.error or "") and report.removed == []
    assert store.index_exists(old) and store.count(old) == 2
    # Fixed at the source, a second run resumes: what was moved is not written twice.
    store.delete(old, "bad-1", refresh=True)
    [again] = migrate(store, settings)
    assert (again.status, again.events, again.moved, again.already_present) == ("ok", 1, 0, 1)
    assert not store.index_exists(old) and store.count(alias) == 1


def test_soc_es_migrate_cli_reports_per_dataset(settings: Settings, store: Store, prefix: str,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _seed_daily(store, prefix)
    for key, value in {"SOC_ES_URL": settings.es_url, "SOC_INDEX_PREFIX": prefix, "SOC_DATA_DIR": str(settings.data_dir),
                       "SOC_LANGUAGE": "en", "SOC_AUDIT_SECRET_KEY": TEST_SECRET}.items():
        monkeypatch.setenv(key, value)
    assert main(["es", "status"]) == 0
    assert "6 per-day event indices of the old layout remain" in capsys.readouterr().out
    assert main(["es", "migrate", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and {d["alias"]: d["events"] for d in out["datasets"]} == {
        events_alias(prefix, "network.dns"): 21, events_alias(prefix, "windows.sysmon"): 90}
    assert main(["es", "migrate"]) == 0
    assert "No per-day event indices to migrate" in capsys.readouterr().out
    assert set(event_aliases(store, prefix)) == {events_alias(prefix, "network.dns"), events_alias(prefix, "windows.sysmon")}
