"""``core.es.Store`` against the real node: per-item bulk outcomes, templates, scan, msearch."""

from __future__ import annotations

import pytest

from core.errors import Conflict, NotFound
from core.es import Store
from core.event_layout import backing_index, events_alias
from core.schema import install_templates


def test_bulk_create_reports_every_item(store: Store, prefix: str) -> None:
    install_templates(store, prefix)
    idx = backing_index(events_alias(prefix, "system.auth"))
    docs = [
        (idx, "a", {"@timestamp": "2026-11-26T10:00:00Z", "source": {"ip": "10.0.0.1"}}),
        (idx, "b", {"@timestamp": "2026-11-26T10:00:01Z", "source": {"ip": "not-an-ip"}}),
    ]
    first = store.bulk_create(docs, refresh=True)
    assert [i.outcome for i in first.items] == ["created", "rejected"]
    assert "not-an-ip" in (first.items[1].error or "")
    again = store.bulk_create(docs[:1], refresh=True)
    assert again.exists == 1 and again.all_stored
    assert store.count(idx) == 1


def test_event_template_maps_types_and_lowercase_subfield(store: Store, prefix: str) -> None:
    install_templates(store, prefix)
    idx = backing_index(events_alias(prefix, "windows.sysmon"))
    store.bulk_create([(idx, "1", {"@timestamp": "2026-11-26T10:00:00Z", "user": {"name": "ADMINISTRATOR"},
                                   "winlog": {"event_data": {"ProcessId": 4242}}})], refresh=True)
    mapping = store.get_mapping(idx)[idx]["mappings"]["properties"]
    assert mapping["winlog"]["properties"]["event_data"]["properties"]["ProcessId"]["type"] == "keyword"
    hits = store.search(idx, {"query": {"term": {"user.name.lower": "administrator"}}})["hits"]["hits"]
    assert len(hits) == 1


def test_put_get_conflict_and_optimistic_update(store: Store, prefix: str) -> None:
    idx = f"{prefix}-state"
    store.ensure_index(idx)
    assert store.ensure_index(idx) is False
    store.put(idx, "x", {"v": 1}, create=True, refresh=True)
    with pytest.raises(Conflict):
        store.put(idx, "x", {"v": 2}, create=True)
    doc = store.get(idx, "x")
    assert doc is not None and doc["_source"] == {"v": 1}
    store.update(idx, "x", {"v": 3}, if_seq_no=doc["_seq_no"], if_primary_term=doc["_primary_term"])
    with pytest.raises(Conflict):
        store.update(idx, "x", {"v": 4}, if_seq_no=doc["_seq_no"], if_primary_term=doc["_primary_term"])
    assert store.get(idx, "missing") is None
    with pytest.raises(NotFound):
        store.update(idx, "missing", {"v": 1})


def test_scan_and_msearch(store: Store, prefix: str) -> None:
    idx = f"{prefix}-scan"
    store.ensure_index(idx)
    store.bulk_index(((idx, str(i), {"n": i}) for i in range(2500)), refresh=True)
    seen = [h["_source"]["n"] for h in store.scan(idx, size=700)]
    assert sorted(seen) == list(range(2500))
    res = store.msearch([(idx, {"size": 0, "query": {"range": {"n": {"lt": 10}}}}),
                         (f"{prefix}-absent", {"size": 0})])
    assert res[0]["hits"]["total"]["value"] == 10
    assert res[1]["hits"]["total"]["value"] == 0


def test_several_urls_with_one_dead_node_keep_working(es_url: str, prefix: str) -> None:
    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    store = Store.from_url(f"{dead},{es_url}", request_timeout=10)
    try:
        assert "127.0.0.1" in store.url
        idx = f"{prefix}-multi"
        for i in range(12):  # the pool picks nodes in turn: the dead one must be skipped every time
            store.put(idx, str(i), {"n": i}, create=True)
        store.refresh(idx)
        assert store.count(idx) == 12
        assert store.check().nodes >= 1
    finally:
        store.close()


def test_single_node_indices_have_no_replica(store: Store, prefix: str) -> None:
    install_templates(store, prefix)
    store.ensure_index(f"{prefix}-plain")
    store.bulk_create([(backing_index(events_alias(prefix, "system.auth")), "a", {"x": 1})], refresh=True)
    settings = store.request("GET", f"/{prefix}-*/_settings", params={"flat_settings": "true"})
    assert len(settings) == 2
    for index, body in settings.items():
        flat = body["settings"]
        assert flat["index.auto_expand_replicas"] == "0-1", index
        nodes = store.health()["number_of_data_nodes"]
        assert flat["index.number_of_replicas"] == ("0" if nodes == 1 else "1"), index
