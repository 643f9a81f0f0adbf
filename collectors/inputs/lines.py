"""Bytes to lines to events, shared by file tailing, one-shot imports and the syslog server."""

from __future__ import annotations

from typing import Any

from collectors.models import Event
from collectors.parsers import LineParser
from core.ids import stable_id


def split_lines(buf: bytes, base: int, max_line: int) -> tuple[list[tuple[int, int, bytes]], int]:
    """Complete lines of ``buf`` (which starts at file offset ``base``) as ``(offset, end, bytes)``
    and how many bytes they used. A line longer than ``max_line`` is cut into pieces of that size
    (each piece an event: nothing is dropped)."""
    out: list[tuple[int, int, bytes]] = []
    parts = buf.split(b"\n")
    tail = parts.pop()
    pos = 0
    for part in parts:
        length = len(part)
        if length > max_line:
            for i in range(0, length, max_line):
                piece = part[i:i + max_line]
                end = base + pos + i + len(piece) + (1 if i + max_line >= length else 0)
                out.append((base + pos + i, end, piece))
        else:
            out.append((base + pos, base + pos + length + 1, part))
        pos += length + 1
    while len(tail) > max_line:
        out.append((base + pos, base + pos + max_line, tail[:max_line]))
        tail = tail[max_line:]
        pos += max_line
    return out, pos


def decode(raw: bytes, encoding: str) -> tuple[str, str | None]:
    """Text of a line and, if bytes were invalid in ``encoding``, a note (they become U+FFFD)."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        return raw.decode(encoding), None
    except UnicodeDecodeError as exc:
        return raw.decode(encoding, "replace"), f"invalid {encoding} bytes replaced by U+FFFD ({exc.reason})"


def build_event(parser: LineParser, lines: list[str], *, event_id: str, created: str,
                extra: dict[str, Any] | None = None, notes: list[str] | None = None) -> tuple[Event, bool]:
    """Parse the lines of one event; a parser bug becomes a stored event with ``error.message``."""
    try:
        dataset, doc, ok = parser.parse(lines)
    except Exception as exc:  # never lose a line to a parser bug
        text = "\n".join(lines)
        dataset, ok = parser.dataset, False
        doc = {"message": text, "event": {"kind": "event", "dataset": dataset, "module": parser.module,
                                          "original": text},
               "error": {"message": f"parser {parser.name} failed: {exc!r}"}}
    journal = doc.get("journald")
    if isinstance(journal, dict) and journal.get("cursor"):
        # A journal entry is identified by its cursor, wherever it was read from.
        event_id = stable_id("journald", journal["cursor"])
    ev = doc["event"]
    ev["created"] = created
    if "@timestamp" not in doc:
        doc["@timestamp"] = created
    if extra:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(doc.get(key), dict):
                doc[key] = {**doc[key], **value}
            else:
                doc[key] = value
    if notes:
        err = doc.setdefault("error", {})
        err["message"] = "; ".join([*([err["message"]] if err.get("message") else []), *notes])
    return Event(event_id, dataset, doc), ok


def file_event_id(id_base: str, offset: int) -> str:
    return stable_id("file", id_base, offset)
