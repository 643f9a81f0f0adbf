"""Inputs that used to poison state (issue 14, item 4): each answers 422 naming the field, stores
nothing, and a document stored before the checks existed no longer breaks reads or detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.auditing import Actor, MemoryAuditor
from core.errors import InvalidInput
from core.es import Store
from detections.exceptions import compile_all
from detections.jobs import detection_cycle
from detections.service import import_own_rules
from tests.integration.api.conftest import Api

SURROGATE_BODY = '{"field": "user.name", "op": "equals", "values": ["\\ud800"]}'


def _rule_id(api: Api) -> str:
    import_own_rules(api.store, api.settings.index_prefix, actor=Actor.system("test"), auditor=MemoryAuditor())
    analyst = api.as_role("analyst")
    rules = api.client.get("/api/v1/rules", headers=analyst).json()["items"]
    return str(rules[0]["id"])


def _field_of(resp) -> str:  # type: ignore[no-untyped-def]
    return str(resp.json()["detail"][0]["field"])


def test_lone_surrogate_in_rule_exception_is_refused_and_not_stored(api: Api) -> None:
    rule = _rule_id(api)
    analyst = api.as_role("analyst")
    before = api.client.get(f"/api/v1/rules/{rule}/exceptions", headers=analyst).json()
    resp = api.client.post(f"/api/v1/rules/{rule}/exceptions", content=SURROGATE_BODY,
                           headers={**analyst, "content-type": "application/json"})
    assert resp.status_code == 422 and _field_of(resp) == "values.0"
    assert api.client.get(f"/api/v1/rules/{rule}/exceptions", headers=analyst).json() == before
    assert api.client.get(f"/api/v1/rules/{rule}", headers=analyst).status_code == 200


def test_lone_surrogate_in_backup_plan_description(api: Api, tmp_path: Path) -> None:
    sysadmin = api.as_role("sysadmin")
    body = '{"assets": {"paths": ["' + str(tmp_path) + '"]}, "description": "nightly \\udfff"}'
    resp = api.client.put("/api/v1/backups/plans/poison", content=body,
                          headers={**sysadmin, "content-type": "application/json"})
    assert resp.status_code == 422 and _field_of(resp) == "description"
    listed = api.client.get("/api/v1/backups/plans", headers=sysadmin)
    assert listed.status_code == 200 and "poison" not in listed.text


def test_a_denied_caller_gets_403_not_the_validation_answer(api: Api) -> None:
    rule = _rule_id(api)
    auditor = api.as_role("auditor")
    resp = api.client.post(f"/api/v1/rules/{rule}/exceptions", content=SURROGATE_BODY,
                           headers={**auditor, "content-type": "application/json"})
    assert resp.status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/alerts", "/api/v1/events", "/api/v1/events/histogram",
                                  "/api/v1/alerts/export"])
def test_unbounded_relative_time_is_422_naming_start(api: Api, path: str) -> None:
    analyst = api.as_role("analyst")
    resp = api.client.get(path, params={"start": "now-999999d"}, headers=analyst)
    assert resp.status_code == 422, resp.text
    assert _field_of(resp) == "start" and "36500" in resp.json()["message"]


def test_enable_with_an_empty_id_is_422(api: Api) -> None:
    resp = api.client.post("/api/v1/rules/enabled", json={"enabled": False, "ids": [""]},
                           headers=api.as_role("analyst"))
    assert resp.status_code == 422 and _field_of(resp) == "ids.0"


def test_empty_suppression_body_does_not_switch_suppression_off(api: Api) -> None:
    rule = _rule_id(api)
    analyst = api.as_role("analyst")
    on = api.client.put(f"/api/v1/rules/{rule}/suppression", json={"fields": ["source.ip"], "window": "10m"},
                        headers=analyst)
    assert on.status_code == 200
    for body in ({}, {"window": "5m"}):
        resp = api.client.put(f"/api/v1/rules/{rule}/suppression", json=body, headers=analyst)
        assert resp.status_code == 422, body
    shown = api.client.get(f"/api/v1/rules/{rule}", headers=analyst).json()
    assert shown["suppression"]["fields"] == ["source.ip"]


def test_store_refuses_lone_surrogates_before_writing(api: Api) -> None:
    index = api.settings.index("poison")
    with pytest.raises(InvalidInput, match="surrogate"):
        api.store.put(index, "x", {"text": "a\ud800b"}, refresh=True)
    assert api.store.get(index, "x") is None


def _store_raw(store: Store, index: str, doc_id: str, body: str) -> None:
    """Write as an old version would have: the escaped surrogate straight to Elasticsearch."""
    store.request("PUT", f"/{index}/_doc/{doc_id}", body=json.loads(body), params={"refresh": "true"})


def test_an_already_stored_bad_exception_is_skipped_and_reads_still_work(api: Api) -> None:
    rule = _rule_id(api)
    analyst = api.as_role("analyst")
    index = api.settings.index("rules")
    doc = dict(api.store.get(index, rule)["_source"])  # type: ignore[index]
    doc["exceptions"] = [{"id": "bad", "field": "user.name", "op": "equals", "values": ["\ud800"]},
                         {"id": "good", "field": "user.name", "op": "equals", "values": ["root"]}]
    _store_raw(api.store, index, rule, json.dumps(doc))
    resp = api.client.get(f"/api/v1/rules/{rule}", headers=analyst)
    assert resp.status_code == 200 and resp.json()["id"] == rule
    # The scheduler compiles exceptions each tick: the bad one is skipped, the good one kept.
    clauses = compile_all(doc["exceptions"])
    assert len(clauses) == 1 and "root" in json.dumps(clauses)
    # A whole detection cycle over the poisoned rule set runs (it used to crash on every tick).
    for _tick in range(2):
        cycle = detection_cycle(api.settings, api.store, force=True)
        assert any(r.rule_id == rule for r in cycle.results) or _tick == 1  # run in the first tick
        assert not [r for r in cycle.results if r.rule_id == rule and r.error], cycle.results
