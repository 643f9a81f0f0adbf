"""Reading one log file into events: its identity fingerprint, chunks split into lines, lines
assembled into (multi-line) events by the parser's ``Assembler``, and event ids from
``stable_id("file", identity base, offset)``. ``FileInput`` (``files.py``) tails with it;
``iter_file_events`` reads a whole file once (``soc collect file``, the import probe)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from collectors.counters import Counters
from collectors.inputs.lines import build_event, decode, file_event_id, split_lines
from collectors.models import Event
from collectors.parsers import Assembler, LineParser, get_parser
from core.timeutil import iso, utcnow

FINGERPRINT_BYTES = 1024
READ_CHUNK = 1024 * 1024


def fingerprint(fh: BinaryIO) -> str | None:
    """Hash of the first line (or first 1024 bytes); None until that much is written."""
    # pread: no seek and no read buffer, so a file truncated under us is never seen stale.
    head = os.pread(fh.fileno(), FINGERPRINT_BYTES, 0)
    nl = head.find(b"\n")
    if nl >= 0:
        head = head[:nl + 1]
    elif len(head) < FINGERPRINT_BYTES:
        return None
    return hashlib.blake2b(head, digest_size=8).hexdigest()


def iter_file_events(path: Path, *, parser: str = "auto", encoding: str = "utf-8", timezone: str = "UTC",
                     counters: Counters | None = None, input_name: str = "file",
                     max_line_bytes: int = 16 * 1024 * 1024, multiline: bool = True) -> Iterator[Event]:
    """Every event of a file, from the start (the last line need not end with a newline)."""
    counters = counters or Counters()
    line_parser = get_parser(parser, timezone, path=str(path))
    with path.open("rb") as fh:
        st = os.fstat(fh.fileno())
        fp = fingerprint(fh) or hashlib.blake2b(os.pread(fh.fileno(), FINGERPRINT_BYTES, 0),
                                                digest_size=8).hexdigest()
        base = f"{st.st_dev}:{st.st_ino}:{fp}"
        reader = FileReader(line_parser, base, str(path), encoding, max_line_bytes, multiline, counters, input_name)
        fh.seek(0)
        offset = 0
        carry = b""
        while True:
            chunk = fh.read(READ_CHUNK)
            if not chunk:
                break
            buf = carry + chunk if carry else chunk
            events = reader.feed(buf, offset, final=False)
            carry = reader.carry
            offset += len(buf) - len(carry)
            yield from events
        if carry:
            yield from reader.feed(carry, offset, final=True)
        yield from reader.finish()


class FileReader:
    """Turns chunks of one file into events, remembering the assembler's held-back lines."""

    def __init__(self, parser: LineParser, id_base: str, path: str, encoding: str, max_line: int,
                 multiline: bool, counters: Counters, input_name: str) -> None:
        self.parser = parser
        self.id_base = id_base
        self.path = path
        self.encoding = encoding
        self.max_line = max_line
        self.assembler = Assembler(parser, multiline=multiline)
        self.counters = counters
        self.input_name = input_name
        self.carry = b""
        self.notes: dict[int, str] = {}
        self._parsed = self._failed = 0

    def feed(self, chunk: bytes, base: int, *, final: bool) -> list[Event]:
        lines, used = split_lines(chunk, base, self.max_line)
        if final and used < len(chunk):
            lines.append((base + used, base + len(chunk), chunk[used:]))
            used = len(chunk)
        self.carry = chunk[used:]
        created = iso(utcnow())
        out: list[Event] = []
        self.counters.add(self.input_name, "read", len(lines))
        push = self.assembler.push
        for offset, end, raw in lines:
            text, note = decode(raw, self.encoding)
            if note:
                self.notes[offset] = note
            for ev_offset, _ev_end, texts in push(offset, end, text):
                out.append(self._event(ev_offset, texts, created))
        self._count()
        return out

    def finish(self) -> list[Event]:
        created = iso(utcnow())
        out = [self._event(off, texts, created) for off, _end, texts in self.assembler.flush()]
        self._count()
        return out

    def _count(self) -> None:
        # Counters take a lock: add once per chunk, not once per event.
        self.counters.add(self.input_name, "parsed", self._parsed)
        self.counters.add(self.input_name, "parse_failures", self._failed)
        self._parsed = self._failed = 0

    def _event(self, offset: int, texts: list[str], created: str) -> Event:
        note = self.notes.pop(offset, None) if self.notes else None
        event, ok = build_event(
            self.parser, texts, event_id=file_event_id(self.id_base, offset), created=created,
            extra={"log": {"file": {"path": self.path}, "offset": offset}, "input": {"type": "log"}},
            notes=[note] if note else None)
        if ok:
            self._parsed += 1
        else:
            self._failed += 1
        if len(self.notes) > 10000:
            self.notes.clear()
        return event
