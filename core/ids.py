"""Deterministic document ids.

An event's id is a hash of where it came from (source identity + position), so replaying the
same input after a crash produces the same ids and ``op_type=create`` turns the replay into
409s instead of duplicates. Alert ids hash (rule id, event id) the same way.
"""

from __future__ import annotations

import hashlib


def stable_id(*parts: object) -> str:
    """A 32-hex-char id from ordered parts; ``None`` and ``""`` are distinct from each other."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = repr(part).encode("utf-8", "surrogatepass") if not isinstance(part, bytes) else part
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.hexdigest()


def file_digest(path: str, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
