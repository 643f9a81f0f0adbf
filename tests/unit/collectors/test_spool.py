"""The durable spool: order, acknowledgement, torn tails, the full policy, single ownership."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from collectors.models import Event
from collectors.shipper import decode, encode, stamp
from collectors.spool import Spool
from core.errors import Conflict


def _bodies(n: int, start: int = 0) -> list[bytes]:
    return [f"record-{i:06d}".encode() for i in range(start, start + n)]


def test_records_survive_reopen_until_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(_bodies(10))
    batch = spool.read_batch(4, wait=0)
    assert batch is not None and batch.records == _bodies(4)
    spool.ack(batch)
    unacked = spool.read_batch(3, wait=0)
    assert unacked is not None and unacked.records == _bodies(3, 4)
    spool.close()  # read but not acknowledged: must come back
    again = Spool(tmp_path, max_bytes=1 << 20)
    rest = again.read_batch(100, wait=0)
    assert rest is not None and rest.records == _bodies(6, 4)
    again.ack(rest)
    assert again.empty() and again.pending_bytes == 0
    assert again.read_batch(10, wait=0) is None
    again.close()


def test_torn_tail_is_cut_on_open(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(_bodies(3))
    spool.close()
    seg = sorted(tmp_path.glob("*.seg"))[-1]
    with seg.open("ab") as fh:
        fh.write(b"\x00\x00\x01\x00\xde\xad")  # a header promising 256 bytes, then a crash
    reopened = Spool(tmp_path, max_bytes=1 << 20)
    batch = reopened.read_batch(100, wait=0)
    assert batch is not None and batch.records == _bodies(3)
    reopened.append(_bodies(1, 3))
    reopened.ack(batch)
    nxt = reopened.read_batch(100, wait=0)
    assert nxt is not None and nxt.records == _bodies(1, 3)
    reopened.close()


def test_segments_roll_and_are_deleted_once_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=100)
    for i in range(20):
        spool.append(_bodies(1, i))
    assert len(list(tmp_path.glob("*.seg"))) > 3
    seen: list[bytes] = []
    while (batch := spool.read_batch(3, wait=0)) is not None:
        seen += batch.records
        spool.ack(batch)
    assert seen == _bodies(20)
    assert len(list(tmp_path.glob("*.seg"))) == 1
    spool.close()


def test_full_spool_blocks_or_refuses(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=200)
    assert spool.append([b"x" * 150])
    assert spool.append([b"y" * 150], block=False) is False  # network inputs: counted as dropped
    stop = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(spool.append([b"z" * 150], block=True, stop=stop)))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()  # file inputs wait for space
    batch = spool.read_batch(10, wait=0)
    assert batch is not None
    spool.ack(batch)
    waiter.join(5)
    assert result == [True]
    spool.close()


def test_one_owner_per_directory(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    with pytest.raises(Conflict, match="in use by another collector"):
        Spool(tmp_path, max_bytes=1 << 20)
    spool.close()


def test_record_encoding_and_ingested_stamp() -> None:
    event = Event("abc", "system.auth", {"@timestamp": "2026-11-26T10:00:00.000Z", "message": "hi \u0000 there",
                                         "event": {"outcome": "success"}})
    input_name, index, doc_id, head, ev = decode(encode("auth", "soc", event))
    assert (input_name, index, doc_id) == ("auth", "soc-events-system.auth", "abc")
    import orjson

    doc = orjson.loads(stamp(head, ev, b"2026-11-26T11:00:00.000Z"))
    assert doc["event"] == {"outcome": "success", "dataset": "system.auth", "ingested": "2026-11-26T11:00:00.000Z"}
    assert doc["message"] == "hi \u0000 there"
    bare = orjson.loads(stamp(b"{}", b"{}", b"T"))
    assert bare == {"event": {"ingested": "T"}}
