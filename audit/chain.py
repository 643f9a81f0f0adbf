"""The hash chain: how a record is sealed and how a sequence of records is checked.

Each record holds ``seq`` (1, 2, 3…), ``prev_hash`` (the previous record's ``hash``) and
``hash`` = HMAC-SHA256(secret, canonical JSON of every other field). The secret is
``settings.audit.secret_key``, never stored in Elasticsearch, so whoever can write to the index
cannot forge a record that verifies.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

GENESIS = "0" * 64
SEALED_FIELDS = ("seq", "time", "actor", "role", "address", "action", "target", "outcome", "detail",
                 "prev_hash")


# Sealed when present: records written before departments existed carry none and still verify;
# a record's department cannot be changed (a department auditor reads only their department's).
OPTIONAL_SEALED = ("organization",)


def canonical(record: dict[str, Any]) -> bytes:
    fields = {k: record.get(k) for k in SEALED_FIELDS}
    fields.update({k: record[k] for k in OPTIONAL_SEALED if k in record})
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def seal(secret: bytes, record: dict[str, Any]) -> str:
    return hmac.new(secret, canonical(record), hashlib.sha256).hexdigest()


def authentic(secret: bytes, record: dict[str, Any]) -> bool:
    claimed = record.get("hash")
    return isinstance(claimed, str) and hmac.compare_digest(claimed, seal(secret, record))


@dataclass(frozen=True)
class Problem:
    kind: str  # modified | deleted | inserted | reordered | duplicated
    position: int  # 1-based position in the stored order
    seq: Any  # the seq of the record named (for deleted: the first missing seq)
    record_id: str | None
    message: str

    def to_dict(self, source: str) -> dict[str, Any]:
        return {"source": source, "kind": self.kind, "position": self.position, "seq": self.seq,
                "record_id": self.record_id, "message": self.message}


def check_chain(secret: bytes, records: Sequence[dict[str, Any]], ids: Sequence[str | None] | None = None,
                *, start_seq: int = 1, start_hash: str = GENESIS) -> Problem | None:
    """The first problem in ``records`` (in stored order), or None when the chain is intact.

    ``ids`` are the storage ids (Elasticsearch ``_id``) expected to equal ``record_id(seq)``:
    a record under another record's id has been moved (reordered).
    """
    expected_seq = start_seq
    prev_hash = start_hash
    seqs_after: list[Any] = [r.get("seq") for r in records]
    accepted: set[str] = set()
    for i, record in enumerate(records):
        rid = ids[i] if ids is not None else None
        seq = record.get("seq")
        label = f"record seq={seq}" + (f" (id {rid})" if rid else "")
        if not authentic(secret, record):
            nxt = records[i + 1] if i + 1 < len(records) else None
            if nxt is not None and nxt.get("prev_hash") == prev_hash and authentic(secret, nxt):
                return Problem("inserted", i + 1, seq, rid,
                               f"{label} at position {i + 1} was inserted: it is not sealed by the trail "
                               "and the chain continues around it.")
            return Problem("modified", i + 1, seq, rid,
                           f"{label} at position {i + 1} was modified: its seal does not match its content.")
        if not isinstance(seq, int):
            return Problem("modified", i + 1, seq, rid, f"{label} has no valid sequence number.")
        if seq == expected_seq and record.get("prev_hash") == prev_hash:
            if ids is not None and rid != record_id(seq):
                twin = i + 1 < len(records) and records[i + 1].get("hash") == record.get("hash")
                if twin and ids[i + 1] == record_id(seq):
                    return Problem("duplicated", i + 1, seq, rid,
                                   f"{label} is a copy of record seq={seq} stored under another id.")
                return Problem("reordered", i + 1, seq, rid,
                               f"{label} is stored under another record's id: records were reordered.")
            expected_seq += 1
            prev_hash = record["hash"]
            accepted.add(prev_hash)
            continue
        if record.get("hash") in accepted:
            return Problem("duplicated", i + 1, seq, rid,
                           f"{label} at position {i + 1} is a second copy of an earlier record.")
        if seq < expected_seq or expected_seq in seqs_after[i + 1:]:
            return Problem("reordered", i + 1, seq, rid,
                           f"{label} at position {i + 1} is out of order (expected seq={expected_seq}): "
                           "records were reordered.")
        if seq > expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
            return Problem("deleted", i + 1, expected_seq, record_id(expected_seq),
                           f"record seq={missing} was deleted (the next stored record, seq={seq}, "
                           "follows a missing one).")
        return Problem("modified", i + 1, seq, rid,
                       f"{label} does not chain to the previous record (prev_hash differs).")
    return None


def record_id(seq: int) -> str:
    return f"{seq:012d}"
