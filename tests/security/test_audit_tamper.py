"""The tamper matrix: every way of editing the trail behind the platform's back — in
Elasticsearch, in the local mirror, or in both at once — is detected and pinpointed by
``verify``, including the cases only the sealed head can reveal (newest records deleted from
both copies, both copies wiped)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from audit.anchor import append_only
from audit.chain import record_id
from audit.trail import AuditTrail
from core.auditing import Actor
from core.es import Store
from core.settings import Settings

AUDITOR = Actor("ines", "auditor", "127.0.0.1")
N = 10
LAST = N + 1  # the matrix verifies once before tampering, which adds a record


@pytest.fixture
def trail(settings: Settings, store: Store) -> AuditTrail:
    t = AuditTrail(settings, store)
    for i in range(N):
        t.record(Actor(f"user{i % 3}", "analyst", "10.0.0.1"), "alerts.status", f"alert-{i}", detail={"i": i})
    return t


def _doc(store: Store, trail: AuditTrail, seq: int) -> dict:
    doc = store.get(trail.index, record_id(seq))
    assert doc is not None
    return dict(doc["_source"])


def _lines(trail: AuditTrail) -> list[str]:
    return Path(trail.mirror_path).read_text().splitlines()


def _write(trail: AuditTrail, lines: list[str]) -> None:
    Path(trail.mirror_path).write_text("".join(line + "\n" for line in lines))


# -- tampering, one function per cell of the matrix ------------------------------------------

def es_modify(store: Store, trail: AuditTrail) -> None:
    doc = _doc(store, trail, 4)
    doc["outcome"] = "failure"
    store.put(trail.index, record_id(4), doc, refresh=True)


def mirror_modify(_store: Store, trail: AuditTrail) -> None:
    lines = _lines(trail)
    rec = json.loads(lines[3])
    rec["actor"] = "someone-else"
    lines[3] = json.dumps(rec)
    _write(trail, lines)


def es_delete_middle(store: Store, trail: AuditTrail) -> None:
    store.delete(trail.index, record_id(5), refresh=True)


def mirror_delete_middle(_store: Store, trail: AuditTrail) -> None:
    lines = _lines(trail)
    del lines[4]
    _write(trail, lines)


def es_delete_oldest(store: Store, trail: AuditTrail) -> None:
    store.delete(trail.index, record_id(1), refresh=True)


def mirror_delete_oldest(_store: Store, trail: AuditTrail) -> None:
    _write(trail, _lines(trail)[1:])


def _last(trail: AuditTrail) -> int:
    return int(json.loads(_lines(trail)[-1])["seq"])


def both_delete_newest_3(store: Store, trail: AuditTrail) -> None:
    last = _last(trail)
    for seq in range(last - 2, last + 1):
        store.delete(trail.index, record_id(seq), refresh=True)
    _write(trail, _lines(trail)[:-3])


def both_wipe(store: Store, trail: AuditTrail) -> None:
    for seq in range(1, _last(trail) + 1):
        store.delete(trail.index, record_id(seq), refresh=True)
    _write(trail, [])


def es_reorder(store: Store, trail: AuditTrail) -> None:
    third, fourth = _doc(store, trail, 3), _doc(store, trail, 4)
    store.put(trail.index, record_id(3), fourth, refresh=True)
    store.put(trail.index, record_id(4), third, refresh=True)


def mirror_reorder(_store: Store, trail: AuditTrail) -> None:
    lines = _lines(trail)
    lines[2], lines[3] = lines[3], lines[2]
    _write(trail, lines)


def es_insert(store: Store, trail: AuditTrail) -> None:
    forged = _doc(store, trail, 5)
    forged.update(action="users.update", target="eve", hash="f" * 64)
    store.put(trail.index, "forged-record", forged, refresh=True)


def mirror_insert(_store: Store, trail: AuditTrail) -> None:
    lines = _lines(trail)
    fake = json.loads(lines[4])
    fake["target"] = "planted"
    lines.insert(5, json.dumps(fake))
    _write(trail, lines)


def es_duplicate(store: Store, trail: AuditTrail) -> None:
    store.put(trail.index, "copy-of-6", _doc(store, trail, 6), refresh=True)


def mirror_duplicate(_store: Store, trail: AuditTrail) -> None:
    lines = _lines(trail)
    lines.insert(6, lines[5])
    _write(trail, lines)


def head_forged_lower(_store: Store, trail: AuditTrail) -> None:
    """Someone appends a head line claiming the trail ended earlier, without the key."""
    with open(trail.anchor.path, "a") as fh:
        fh.write(json.dumps({"trail": trail.index, "seq": 3, "hash": "0" * 64, "time": "2026-01-01T00:00:00.000Z",
                             "kind": "append", "mac": "1" * 64}) + "\n")


def head_removed(_store: Store, trail: AuditTrail) -> None:
    Path(trail.anchor.path).unlink()


@dataclass(frozen=True)
class Cell:
    tamper: Callable[[Store, AuditTrail], None]
    where: str
    expected: dict[str, tuple[str, int | None]]  # source -> (kind, seq)
    message: str | None = None


MATRIX: dict[str, Cell] = {
    "modify": Cell(es_modify, "elasticsearch", {"elasticsearch": ("modified", 4)}),
    "modify-mirror": Cell(mirror_modify, "mirror", {"mirror": ("modified", 4)}),
    "delete-middle": Cell(es_delete_middle, "elasticsearch", {"elasticsearch": ("deleted", 5)}),
    "delete-middle-mirror": Cell(mirror_delete_middle, "mirror", {"mirror": ("deleted", 5)}),
    "delete-oldest": Cell(es_delete_oldest, "elasticsearch", {"elasticsearch": ("deleted", 1)}),
    "delete-oldest-mirror": Cell(mirror_delete_oldest, "mirror", {"mirror": ("deleted", 1)}),
    "delete-newest-3-both": Cell(both_delete_newest_3, "both",
                                 {"elasticsearch": ("deleted", LAST - 2), "mirror": ("deleted", LAST - 2)},
                                 f"records {LAST - 2}–{LAST} are missing from the elasticsearch copy: "
                                 f"last sealed head was {LAST} at"),
    "wipe-both": Cell(both_wipe, "both", {"elasticsearch": ("deleted", 1), "mirror": ("deleted", 1)},
                      f"records 1–{LAST} are missing from the elasticsearch copy: last sealed head was {LAST} at"),
    "reorder": Cell(es_reorder, "elasticsearch", {"elasticsearch": ("reordered", 3)}),
    "reorder-mirror": Cell(mirror_reorder, "mirror", {"mirror": ("reordered", 4)}),
    "insert": Cell(es_insert, "elasticsearch", {"elasticsearch": ("inserted", 5)}),
    "insert-mirror": Cell(mirror_insert, "mirror", {"mirror": ("inserted", 5)}),
    "duplicate": Cell(es_duplicate, "elasticsearch", {"elasticsearch": ("duplicated", 6)}),
    "duplicate-mirror": Cell(mirror_duplicate, "mirror", {"mirror": ("duplicated", 6)}),
    "forged-head": Cell(head_forged_lower, "head file", {"head": ("modified", None)}),
    "head-removed": Cell(head_removed, "head file", {"head": ("deleted", None)}),
}


@pytest.mark.parametrize("name", list(MATRIX))
def test_tamper_matrix(name: str, trail: AuditTrail, store: Store) -> None:
    cell = MATRIX[name]
    assert trail.verify(actor=AUDITOR)["ok"] is True  # intact before (and this verify is sealed too)
    cell.tamper(store, trail)
    result = trail.verify(actor=AUDITOR)
    assert result["ok"] is False
    found = {p["source"]: p for p in result["problems"]}
    for source, (kind, seq) in cell.expected.items():
        assert source in found, f"{name}: no problem reported for {source}: {result['problems']}"
        assert (found[source]["kind"], found[source]["seq"]) == (kind, seq), found[source]
    if cell.message:
        assert any(p["message"].startswith(cell.message) for p in result["problems"]), result["problems"]


def test_sequence_numbers_are_never_reused_after_tail_truncation(trail: AuditTrail, store: Store,
                                                                  settings: Settings) -> None:
    both_delete_newest_3(store, trail)
    # A restarted process reads the head again: it must continue after the sealed head, not
    # after the truncated copies (which would hand out 8–10 again and seal over the gap).
    restarted = AuditTrail(settings, store)
    record = restarted.append(Actor("ana", "analyst"), "alerts.status", "alert-x")
    assert record["seq"] == N + 1
    # The process that wrote the records notices the mirror changed size and does the same.
    record = trail.append(Actor("ana", "analyst"), "alerts.status", "alert-y")
    assert record["seq"] == N + 2
    result = restarted.verify(actor=AUDITOR)
    assert result["ok"] is False
    deleted = [p for p in result["problems"] if p["kind"] == "deleted"]
    assert deleted and all(p["seq"] == N - 2 for p in deleted)
    assert any(f"record seq={N - 2}..{N} was deleted" in p["message"] for p in deleted)


def test_verify_records_the_head_it_saw(trail: AuditTrail) -> None:
    result = trail.verify(actor=AUDITOR)
    assert result["head_seen"]["seq"] == N and result["head_seen"]["kind"] == "verify"
    assert result["anchor"]["sealed_head"]["seq"] == N
    lines = [json.loads(x) for x in Path(trail.anchor.path).read_text().splitlines()]
    kinds = [(x["seq"], x["kind"]) for x in lines]
    assert (N, "verify") in kinds and kinds[-1] == (N + 1, "append")  # then its own record, sealed
    record = trail.search(actor=AUDITOR, action="audit.verify")["items"][0]
    assert record["detail"]["head_seen"]["seq"] == N and record["detail"]["sealed_head"]["seq"] == N
    assert oct(Path(trail.anchor.path).stat().st_mode & 0o777) == "0o600"
    assert oct(Path(trail.mirror_path).stat().st_mode & 0o777) == "0o600"


def test_heads_are_sent_to_syslog(settings: Settings, store: Store, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        port = receiver.getsockname()[1]
        remote = settings.model_copy(update={"audit": settings.audit.model_copy(
            update={"syslog_address": f"127.0.0.1:{port}"})})
        trail = AuditTrail(remote, store)
        trail.record(Actor("ana", "analyst"), "alerts.status", "a-1")
        message = receiver.recv(4096).decode()
    assert message.startswith("<37>qinglang-audit[") and f"trail={trail.index} seq=1 " in message
    assert trail.verify(actor=AUDITOR)["anchor"]["journal"] == "sent"


@pytest.fixture
def append_only_trail(settings: Settings, store: Store) -> Iterator[AuditTrail]:
    strict = settings.model_copy(update={"audit": settings.audit.model_copy(update={"append_only": True})})
    trail = AuditTrail(strict, store)
    yield trail
    for path in (trail.mirror_path, trail.anchor.path):
        subprocess.run(["chattr", "-a", str(path)], check=False, capture_output=True)


def test_append_only_attribute_as_root(append_only_trail: AuditTrail) -> None:
    """The container runs as root on ext4: both files become append-only, so truncating them
    fails until someone with root removes the attribute."""
    trail = append_only_trail
    for i in range(3):
        trail.record(Actor("ana", "analyst"), "alerts.status", f"a-{i}")
    assert trail.mirror_append_only_error is None and trail.anchor.append_only_error is None
    assert append_only(trail.mirror_path) and append_only(trail.anchor.path)
    with pytest.raises(PermissionError):
        Path(trail.mirror_path).write_text("")
    with pytest.raises(PermissionError):
        Path(trail.anchor.path).write_text("")
    result = trail.verify(actor=AUDITOR)
    assert result["ok"] is True and result["anchor"]["append_only"] is True and result["mirror_append_only"] is True
