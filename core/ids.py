"""Deterministic document ids.

An event's id is a hash of where it came from (source identity + position), so replaying the
same input after a crash produces the same ids and ``op_type=create`` turns the replay into
409s instead of duplicates. Alert ids hash (rule id, event id) the same way.
"""

from __future__ import annotations

import hashlib

Scalar = str | int | bytes | None
# Flow keys (tuples) and exception values (lists) were hashed as their repr from the start; they
# stay accepted, element by element, so their persisted ids do not move.
IdPart = Scalar | tuple[Scalar, ...] | list[Scalar]

_REPR_TYPES = (str, int, bool)


def stable_id(*parts: IdPart) -> str:
    """A 32-hex-char id from ordered parts; ``None`` and ``""`` are distinct from each other.

    Ids are persisted, so the encoding (``repr`` of the part, raw bytes for ``bytes``) never
    changes. Other types are refused: a ``Path`` or a float would hash its ``repr`` and silently
    give other ids; so are subclasses (a ``str`` enum's ``repr`` is not its value's).
    """
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if type(part) is bytes:
            data = part
        else:
            _check(part)
            data = repr(part).encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.hexdigest()


def _check(part: object, *, nested: bool = False) -> None:
    if part is None or type(part) in _REPR_TYPES or type(part) is bytes:
        return
    if not nested and isinstance(part, (tuple, list)) and type(part) in (tuple, list):
        for item in part:
            _check(item, nested=True)
        return
    raise TypeError(f"stable_id parts are str, int, bytes or None (or a tuple/list of them), "
                    f"not {type(part).__name__}: {part!r}")


def file_digest(path: str, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
