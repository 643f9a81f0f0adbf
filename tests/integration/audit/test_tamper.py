"""Tampering straight against Elasticsearch and the mirror file: verification names the first
modified, deleted, inserted or reordered record each time."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from audit.chain import record_id
from audit.trail import AuditTrail
from core.auditing import Actor
from core.errors import PermissionDenied
from core.es import Store
from core.settings import Settings
from core.timeutil import iso, utcnow

AUDITOR = Actor("ines", "auditor", "127.0.0.1")
N = 8


@pytest.fixture
def trail(settings: Settings, store: Store) -> AuditTrail:
    t = AuditTrail(settings, store)
    for i in range(N):
        t.record(Actor(f"user{i % 3}", "analyst", "10.0.0.1"), "alerts.status", f"alert-{i}", detail={"i": i})
    return t


def _problems(trail: AuditTrail) -> dict[str, dict]:
    # ``verify`` appends its own record: check without adding one, through the chain directly.
    result = trail.verify(actor=AUDITOR)
    return {p["source"]: p for p in result["problems"]}


def _es_doc(store: Store, trail: AuditTrail, seq: int) -> dict:
    doc = store.get(trail.index, record_id(seq))
    assert doc is not None
    return dict(doc["_source"])


def _mirror_lines(trail: AuditTrail) -> list[str]:
    return Path(trail.mirror_path).read_text().splitlines()


def _write_mirror(trail: AuditTrail, lines: list[str]) -> None:
    Path(trail.mirror_path).write_text("\n".join(lines) + "\n")


def test_intact_chain_verifies(trail: AuditTrail) -> None:
    result = trail.verify(actor=AUDITOR)
    assert result["ok"] is True and result["records"] == {"elasticsearch": N, "mirror": N}
    again = trail.verify(actor=AUDITOR)  # the first verify was itself recorded and chained
    assert again["ok"] is True and again["records"]["elasticsearch"] == N + 1


def test_modified_record_in_elasticsearch(trail: AuditTrail, store: Store) -> None:
    doc = _es_doc(store, trail, 4)
    doc["outcome"] = "failure"
    store.put(trail.index, record_id(4), doc, refresh=True)
    problem = _problems(trail)["elasticsearch"]
    assert (problem["kind"], problem["seq"], problem["record_id"]) == ("modified", 4, record_id(4))


def test_deleted_record_in_elasticsearch(trail: AuditTrail, store: Store) -> None:
    store.delete(trail.index, record_id(3), refresh=True)
    problem = _problems(trail)["elasticsearch"]
    assert (problem["kind"], problem["seq"]) == ("deleted", 3)


def test_inserted_record_in_elasticsearch(trail: AuditTrail, store: Store) -> None:
    forged = dict(_es_doc(store, trail, 5))
    forged.update(action="users.update", target="eve", hash="f" * 64)
    store.put(trail.index, "forged-record", forged, refresh=True)
    problem = _problems(trail)["elasticsearch"]
    assert problem["kind"] == "inserted" and problem["record_id"] == "forged-record" and problem["seq"] == 5


def test_reordered_records_in_elasticsearch(trail: AuditTrail, store: Store) -> None:
    third, fourth = _es_doc(store, trail, 3), _es_doc(store, trail, 4)
    store.put(trail.index, record_id(3), fourth, refresh=True)
    store.put(trail.index, record_id(4), third, refresh=True)
    problem = _problems(trail)["elasticsearch"]
    assert problem["kind"] == "reordered" and problem["position"] == 3


def test_tail_deleted_from_elasticsearch_is_caught_by_the_mirror(trail: AuditTrail, store: Store) -> None:
    store.delete(trail.index, record_id(N), refresh=True)
    problem = _problems(trail)["elasticsearch"]
    assert (problem["kind"], problem["seq"]) == ("deleted", N)


def test_modified_line_in_mirror(trail: AuditTrail) -> None:
    lines = _mirror_lines(trail)
    rec = json.loads(lines[1])
    rec["actor"] = "someone-else"
    lines[1] = json.dumps(rec)
    _write_mirror(trail, lines)
    problem = _problems(trail)["mirror"]
    assert (problem["kind"], problem["seq"], problem["position"]) == ("modified", 2, 2)


def test_deleted_line_in_mirror(trail: AuditTrail) -> None:
    lines = _mirror_lines(trail)
    del lines[5]
    _write_mirror(trail, lines)
    problem = _problems(trail)["mirror"]
    assert (problem["kind"], problem["seq"]) == ("deleted", 6)


def test_inserted_line_in_mirror(trail: AuditTrail) -> None:
    lines = _mirror_lines(trail)
    fake = json.loads(lines[2])
    fake["target"] = "planted"
    lines.insert(3, json.dumps(fake))
    _write_mirror(trail, lines)
    problem = _problems(trail)["mirror"]
    assert (problem["kind"], problem["position"]) == ("inserted", 4)


def test_reordered_lines_in_mirror(trail: AuditTrail) -> None:
    lines = _mirror_lines(trail)
    lines[6], lines[7] = lines[7], lines[6]
    _write_mirror(trail, lines)
    problem = _problems(trail)["mirror"]
    assert (problem["kind"], problem["position"], problem["seq"]) == ("reordered", 7, 8)


def test_garbage_line_in_mirror(trail: AuditTrail) -> None:
    lines = _mirror_lines(trail)
    lines[0] = "not json at all"
    _write_mirror(trail, lines)
    problem = _problems(trail)["mirror"]
    assert problem["kind"] == "modified" and problem["position"] == 1


def test_forgery_needs_the_secret(trail: AuditTrail, store: Store, settings: Settings) -> None:
    """Someone with index access but another key cannot produce records that verify."""
    other = settings.model_copy(update={"audit": settings.audit.model_copy(
        update={"secret_key": type(settings.audit.secret_key)("another-secret-" + "y" * 40)})})
    assert "another" not in json.dumps(store.search(trail.index, {"size": 100})["hits"]["hits"])
    result = AuditTrail(other, store).verify(actor=AUDITOR)
    assert result["ok"] is False and result["first_problem"]["position"] == 1


def test_retention_refuses_records_younger_than_185_days(trail: AuditTrail) -> None:
    operator = Actor("cli:root", "cli")
    with pytest.raises(PermissionDenied, match="185"):
        trail.purge(iso(utcnow() - timedelta(days=100)), actor=operator)
    with pytest.raises(PermissionDenied):
        trail.purge(iso(utcnow() - timedelta(days=400)), actor=AUDITOR)  # no role may purge
    result = trail.purge(iso(utcnow() - timedelta(days=200)), actor=operator)
    assert result["deleted"] == 0
    assert trail.verify(actor=AUDITOR)["ok"] is True
    actions = [r["action"] for r in trail.search(actor=AUDITOR, size=100)["items"]]
    assert actions.count("audit.purge") == 2  # the refusal and the allowed purge are both recorded


def test_purge_of_old_records_keeps_the_chain_verifiable(settings: Settings, store: Store) -> None:
    now = utcnow()
    old = AuditTrail(settings, store, clock=lambda: now - timedelta(days=300))
    for i in range(3):
        old.record(Actor("old", "analyst"), "alerts.status", f"old-{i}")
    trail = AuditTrail(settings, store)
    for i in range(3):
        trail.record(Actor("new", "analyst"), "alerts.status", f"new-{i}")
    result = trail.purge(iso(now - timedelta(days=200)), actor=Actor("cli:root", "cli"))
    assert result["deleted"] == 3
    assert store.get(trail.index, record_id(1)) is None and store.get(trail.index, record_id(4)) is not None
    assert trail.verify(actor=AUDITOR)["ok"] is True
    # Deleting the first kept record is not covered by the purge: it is reported.
    store.delete(trail.index, record_id(4), refresh=True)
    problem = _problems(trail)["elasticsearch"]
    assert (problem["kind"], problem["seq"]) == ("deleted", 1)


def test_corrupt_last_mirror_line_is_reported_and_blocks_new_records(trail: AuditTrail) -> None:
    lines = _mirror_lines(trail)
    lines[-1] = lines[-1][:40]
    _write_mirror(trail, lines)
    result = trail.verify(actor=AUDITOR)
    assert result["first_problem"]["source"] == "mirror" and result["first_problem"]["position"] == N
    assert result["recorded"] is False and "mirror" in result["record_error"]
