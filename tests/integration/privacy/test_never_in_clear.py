"""Masked personal information never reaches a store in clear: the spool files, the events in
Elasticsearch, the dead-letter index (and, in test_pii_rules, alerts and exports)."""

from __future__ import annotations

from pathlib import Path

from stdnum import luhn

from collectors import service
from collectors.daemon import Daemon
from collectors.models import Event
from collectors.shipper import deadletter_index
from core.es import Store
from core.settings import Settings, load_settings
from tests.conftest import TEST_SECRET

RIC = "11010519491231002X"
CARD = "622202123456789" + luhn.calc_check_digit("622202123456789")
PASSPORT = "E12345678"
MOBILE = "13812345678"
FULLWIDTH_RIC = RIC.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))


def _events() -> list[Event]:
    ts = "2026-11-26T10:00:00.000Z"
    return [
        Event("pii-1", "web.access", {"@timestamp": ts, "message": f"GET /apply?id={RIC}&card={CARD} 200",
                                      "url": {"query": f"id={RIC}&card={CARD}&tel={MOBILE}"},
                                      "event": {"original": f"GET /apply?id={RIC}&card={CARD}&tel={MOBILE}"}}),
        Event("pii-2", "app.log", {"@timestamp": ts, "message": f"护照 {PASSPORT} 身份证 {FULLWIDTH_RIC}",
                                   "labels": {"list": [f"card {CARD}", "none"]}}),
        # rejected by the mapping (source.ip is an ip) -> dead-letter queue with the raw event
        Event("pii-bad", "web.access", {"@timestamp": ts, "source": {"ip": "not-an-ip"},
                                        "message": f"bad {RIC} {CARD}"}),
    ]


def _assert_no_clear(blob: bytes | str, where: str) -> None:
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    for value in (RIC, CARD, PASSPORT, FULLWIDTH_RIC):
        assert value not in text, f"{value} in clear in {where}"


def test_spool_files_hold_only_masked_values(tmp_path: Path) -> None:
    # Elasticsearch unreachable: everything the daemon receives stays in its spool on disk.
    settings = load_settings(data_dir=tmp_path / "data", index_prefix="unit", es={"url": "http://127.0.0.1:9"},
                             audit={"secret_key": TEST_SECRET})
    daemon = Daemon(settings, None, [])
    try:
        assert daemon._emit("test", _events(), True)
    finally:
        daemon.spool.close()
    files = [p for p in (Path(settings.spool_dir) / "daemon").rglob("*") if p.is_file()]
    blob = b"".join(p.read_bytes() for p in files)
    assert b"110105********002X" in blob and b"E******78" in blob
    assert MOBILE.encode() in blob              # kept by the default policy, but tagged
    assert b'"cn_mobile"' in blob and b'"bank_card"' in blob
    _assert_no_clear(blob, "the spool")


def test_elasticsearch_and_dead_letter_hold_only_masked_values(settings: Settings, store: Store, prefix: str) -> None:
    summary = service.ship_events(settings, store, _events(), source="pii")
    assert (summary.shipped, summary.dead_lettered, summary.failed) == (2, 1, 0)
    store.refresh(f"{prefix}-*")
    docs = store.search(f"{prefix}-events-*", {"query": {"match_all": {}}, "size": 10})["hits"]["hits"]
    assert len(docs) == 2
    for hit in docs:
        _assert_no_clear(str(hit["_source"]), f"event {hit['_id']}")
    first = next(h["_source"] for h in docs if h["_id"] == "pii-1")
    assert first["pii"]["types"] == ["bank_card", "cn_mobile", "cn_ric"]
    assert first["pii"]["count"] == 8
    assert first["pii"]["fields"] == ["event.original", "message", "url.query"]
    assert first["url"]["query"] == f"id=110105********002X&card={CARD[:6]}******{CARD[-4:]}&tel={MOBILE}"
    # the tags are searchable: a hunt for events carrying identity numbers finds exactly this one
    assert store.count(f"{prefix}-events-*", {"term": {"pii.types": "cn_ric"}}) == 2
    assert store.count(f"{prefix}-events-*", {"range": {"pii.count": {"gte": 8}}}) == 1
    dead = store.search(deadletter_index(prefix), {"query": {"match_all": {}}})["hits"]["hits"]
    assert len(dead) == 1 and "110105********002X" in dead[0]["_source"]["deadletter"]["source"]
    _assert_no_clear(str(dead[0]["_source"]), "the dead-letter index")


def test_policy_hash_and_drop_and_switch_off(settings: Settings, store: Store, prefix: str) -> None:
    hashed = load_settings(data_dir=settings.data_dir, index_prefix=prefix, es={"url": settings.es_url},
                           audit={"secret_key": TEST_SECRET},
                           pii={"hash_key": "k" * 40, "rules": [
                               {"dataset": "web.*", "field": "url.query", "type": "cn_mobile", "action": "hash"},
                               {"field": "event.original", "action": "drop"}]})
    service.ship_events(hashed, store, _events()[:1], source="pii")
    store.refresh(f"{prefix}-events-*")
    doc = store.get(f"{prefix}-events-web.access-000001", "pii-1")["_source"]
    assert "original" not in doc["event"]                              # dropped
    query = doc["url"]["query"]
    assert MOBILE not in query and "cn_mobile#" in query               # keyed hash, joinable
    token = query.split("cn_mobile#")[1][:16]
    assert token in doc["pii"]["ids"]
    off = load_settings(data_dir=settings.data_dir, index_prefix=prefix, es={"url": settings.es_url},
                        audit={"secret_key": TEST_SECRET}, pii={"enabled": False})
    service.ship_events(off, store, [Event("plain", "app.log", {"@timestamp": "2026-11-26T10:00:00.000Z",
                                                                "message": f"id {RIC}"})], source="pii")
    store.refresh(f"{prefix}-events-*")
    assert store.get(f"{prefix}-events-app.log-000001", "plain")["_source"]["message"] == f"id {RIC}"
