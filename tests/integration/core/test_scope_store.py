"""The store is the one enforcement point of department scope: reads filtered, writes checked."""

from __future__ import annotations

from typing import Any

import pytest

from core import scope as scoping
from core.errors import NotFound, PermissionDenied
from core.es import Store

ORGS = ("jiaowei", "weijianwei", "minzhengju")
JW = scoping.Scope(organizations=frozenset({"jiaowei"}), home="jiaowei", user="jw-analyst")


@pytest.fixture
def data(store: Store, prefix: str) -> dict[str, str]:
    events = f"{prefix}-events-test-000001"
    alerts = f"{prefix}-alerts"
    rules = f"{prefix}-rules"
    mapping = {"properties": {"organization": {"properties": {"id": {"type": "keyword"}}},
                              "host": {"properties": {"name": {"type": "keyword"}}},
                              "message": {"type": "text"}}}
    for index in (events, alerts):
        store.ensure_index(index, mappings=mapping)
    docs = []
    for org in ORGS:
        for i in range(5):
            doc = {"organization": {"id": org}, "host": {"name": f"{org}-h{i}"}, "message": f"marker {org}"}
            docs.append((events, f"{org}-e{i}", doc))
            docs.append((alerts, f"{org}-a{i}", doc))
    docs.append((events, "no-org", {"host": {"name": "orphan"}, "message": "marker none"}))
    docs.append((rules, "r1", {"title": "a rule"}))
    assert store.bulk_create(docs, refresh=True).all_stored
    return {"events": events, "alerts": alerts, "rules": rules}


def _orgs(hits: list[dict[str, Any]]) -> set[str | None]:
    return {scoping.organization_of(h.get("_source")) for h in hits}


@pytest.mark.parametrize("query", [
    {"match_all": {}},
    {"query_string": {"query": "organization.id:*"}},
    {"query_string": {"query": "NOT organization.id:jiaowei"}},
    {"query_string": {"query": "_index:*events* OR marker"}},
    {"bool": {"should": [{"match_all": {}}], "must_not": [{"term": {"organization.id": "jiaowei"}}]}},
])
def test_searches_return_only_the_department(store: Store, data: dict[str, str], query: dict[str, Any]) -> None:
    with scoping.acting(JW):
        resp = store.search(f"{data['events']},{data['alerts']}", {"query": query, "size": 100,
                                                                     "aggs": {"o": {"terms": {"field": "organization.id"}}}})
    hits = resp["hits"]["hits"]
    assert _orgs(hits) <= {"jiaowei"}
    assert [b["key"] for b in resp["aggregations"]["o"]["buckets"]] in ([], ["jiaowei"])
    unrestricted = store.search(data["events"], {"query": query, "size": 100})["hits"]["hits"]
    assert len({scoping.organization_of(h["_source"]) for h in unrestricted}) > 1


def test_count_msearch_scan_and_pit_are_filtered(store: Store, data: dict[str, str]) -> None:
    with scoping.acting(JW):
        assert store.count(data["events"]) == 5
        results = store.msearch([(data["events"], {"query": {"match_all": {}}, "size": 50}),
                                 (data["alerts"], {"query": {"match_all": {}}, "size": 50})])
        assert all(_orgs(r["hits"]["hits"]) == {"jiaowei"} for r in results)
        assert _orgs(list(store.scan(data["events"], size=2))) == {"jiaowei"}
        pit = store.open_pit(data["events"])
        assert pit is not None
        page = store.search_pit({"pit": {"id": pit, "keep_alive": "1m"}, "size": 100,
                                 "query": {"query_string": {"query": "organization.id:*"}},
                                 "sort": [{"_shard_doc": "asc"}]})
        store.close_pit(page.get("pit_id", pit))
    assert _orgs(page["hits"]["hits"]) == {"jiaowei"}
    assert store.count(data["events"]) == 16


def test_reads_by_id_hide_other_departments(store: Store, data: dict[str, str]) -> None:
    with scoping.acting(JW):
        assert store.get(data["events"], "jiaowei-e1") is not None
        assert store.get(data["events"], "weijianwei-e1") is None
        assert store.get(data["events"], "no-org") is None
        got = store.mget(data["alerts"], ["jiaowei-a0", "minzhengju-a0"])
        assert got[0] is not None and got[1] is None
        # platform metadata (rules) is not department data
        assert store.get(data["rules"], "r1") is not None


def test_writes_are_stamped_and_checked(store: Store, data: dict[str, str]) -> None:
    with scoping.acting(JW):
        store.put(data["alerts"], "new", {"message": "mine"}, refresh=True)
        with pytest.raises(PermissionDenied):
            store.put(data["alerts"], "forged", {"organization": {"id": "weijianwei"}})
        with pytest.raises(PermissionDenied):  # overwrite another department's document by id
            store.put(data["alerts"], "weijianwei-a1", {"organization": {"id": "jiaowei"}})
        with pytest.raises(PermissionDenied):
            store.update(data["alerts"], "weijianwei-a2", {"message": "changed"})
        with pytest.raises(PermissionDenied):  # moving one's own document out of scope
            store.update(data["alerts"], "jiaowei-a2", {"organization": {"id": "weijianwei"}})
        with pytest.raises(NotFound):
            store.update(data["alerts"], "missing", {"message": "x"})
        with pytest.raises(PermissionDenied):
            store.delete(data["alerts"], "minzhengju-a3")
        result = store.bulk_index([(data["alerts"], "b1", {"message": "ok"}),
                                   (data["alerts"], "minzhengju-a4", {"message": "overwrite"}),
                                   (data["alerts"], "b2", {"organization": {"id": "minzhengju"}})], refresh=True)
        outcomes = {i.id: (i.outcome, i.status) for i in result.items}
        with pytest.raises(PermissionDenied):
            store.delete_indices(data["alerts"])
        with pytest.raises(PermissionDenied):
            store.request("POST", f"/{data['alerts']}/_search", body={"query": {"match_all": {}}})
    assert outcomes == {"b1": ("created", 201), "minzhengju-a4": ("rejected", 403), "b2": ("rejected", 403)}
    assert store.get(data["alerts"], "new")["_source"]["organization"]["id"] == "jiaowei"
    assert store.get(data["alerts"], "weijianwei-a1")["_source"]["organization"]["id"] == "weijianwei"
    assert store.get(data["alerts"], "weijianwei-a2")["_source"]["message"] == "marker weijianwei"
    assert store.get(data["alerts"], "minzhengju-a3") is not None
    assert store.get(data["alerts"], "minzhengju-a4")["_source"]["message"] == "marker minzhengju"


def test_shared_documents_are_visible_and_reported(store: Store, data: dict[str, str]) -> None:
    seen: list[list[str]] = []
    scope = scoping.Scope(organizations=frozenset({"jiaowei"}), home="jiaowei",
                          shared_ids=frozenset({"weijianwei-a1", "weijianwei-e1"}), on_shared_access=seen.append)
    with scoping.acting(scope):
        hits = store.search(data["alerts"], {"query": {"match_all": {}}, "size": 100})["hits"]["hits"]
        assert {h["_id"] for h in hits} == {f"jiaowei-a{i}" for i in range(5)} | {"weijianwei-a1"}
        assert store.get(data["events"], "weijianwei-e1") is not None
        assert store.get(data["events"], "weijianwei-e2") is None
        with pytest.raises(PermissionDenied):  # a grant reads, never writes
            store.update(data["alerts"], "weijianwei-a1", {"message": "x"})
    assert seen == [["weijianwei-a1"], ["weijianwei-e1"]]


def test_a_pending_request_sees_no_department_data(store: Store, data: dict[str, str]) -> None:
    token = scoping._CELL.set(None)
    try:
        cell = scoping.open_request_cell()
        assert store.count(data["events"]) == 0
        assert store.get(data["rules"], "r1") is not None
        scoping.settle(None)
        assert cell.pending is False
        assert store.count(data["events"]) == 16
    finally:
        scoping._CELL.reset(token)


def test_closed_mappings_still_index_the_organisation(store: Store, prefix: str) -> None:
    index = f"{prefix}-cases"
    store.ensure_index(index, mappings={"dynamic": False, "properties": {"title": {"type": "keyword"}}})
    store.put(index, "c1", {"title": "x", "organization": {"id": "jiaowei"}}, refresh=True)
    store.put(index, "c2", {"title": "y", "organization": {"id": "weijianwei"}}, refresh=True)
    with scoping.acting(JW):
        assert [h["_id"] for h in store.search(index, {"query": {"match_all": {}}})["hits"]["hits"]] == ["c1"]
