"""Log files: one-shot reading and tailing with persistent checkpoints.

A file is known by its identity base ``device:inode:fingerprint`` (fingerprint = hash of the
first line, at most 1024 bytes), fixed when the file is first seen; event ids are
``stable_id("file", identity base, offset)``. Rotation:

* rename (logrotate's default): the inode keeps its identity; the open handle is read to its end
  even after the name no longer matches the glob, then closed once idle.
* copytruncate: the original inode shrinks or starts with other bytes; it starts over at offset 0
  under a new identity. A rotated copy whose fingerprint equals a known file that no longer has
  it (the truncated original) inherits that file's identity and offset, so the lines written
  between our last read and the copy are read from the copy, with the same ids. (Lines written
  between the copy and the truncation are lost by copytruncate itself, for every tailer.)

Checkpoints (``<state_dir>/files.json``) hold the offset after the last line whose event is in
the durable spool, or the first line of an event still being assembled (multi-line, audit
records), whichever is earlier; they are written after each spool append. Replays after a crash
produce the same ids, which Elasticsearch answers with 409 (no duplicates).
"""

from __future__ import annotations

import glob
import os
import threading
import time
from typing import Any

from collectors.config import FileInputConfig, validate_input
from collectors.inputs import checkpoints
from collectors.inputs.checkpoints import Tracked
from collectors.inputs.filereader import READ_CHUNK, FileReader, fingerprint
from collectors.models import Event
from collectors.parsers import get_parser
from collectors.registry import InputContext

EMIT_CHUNK = 2000
CLOSE_INACTIVE = 5.0
DEFER_TWIN_SECONDS = 10.0
ORPHAN_SECONDS = 600.0


class FileInput:
    """Tails the files matching ``paths`` (globs), see the module docstring."""

    type = "file"

    def __init__(self, config: FileInputConfig, ctx: InputContext) -> None:
        self.cfg = config
        self.ctx = ctx
        self.name = config.name
        self.state_path = ctx.state_dir / "files.json"
        self.files: dict[tuple[int, int], Tracked] = {}
        self._first_scan = True
        self._deferred: dict[tuple[int, int], float] = {}
        self._orphans: list[tuple[str | None, str | None, int, float, tuple[int, int]]] = []
        self._load()

    # -- state ----------------------------------------------------------------------------

    def _load(self) -> None:
        known = checkpoints.load(self.state_path)
        if known is not None:
            self._first_scan = False
            self.files.update(known)

    def _save(self) -> None:
        checkpoints.save(self.state_path, self.files)

    # -- loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            busy = self.poll(stop)
            if not busy:
                stop.wait(self.cfg.poll_seconds)
        for t in self.files.values():
            if t.fh:
                t.fh.close()
        self._save()

    def poll(self, stop: threading.Event) -> bool:
        """One scan and read round; True if anything was read."""
        self._scan()
        busy = False
        for key in list(self.files):
            if stop.is_set():
                break
            t = self.files[key]
            if t.fh is None:
                continue
            busy |= self._read(t, stop)
        self._save()
        return busy

    def _scan(self) -> None:
        seen: dict[tuple[int, int], str] = {}
        for pattern in self.cfg.paths:
            for path in sorted(glob.glob(pattern)):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if not os.path.isfile(path):
                    continue
                seen.setdefault((st.st_dev, st.st_ino), path)
        for t in self.files.values():
            t.in_glob = (t.dev, t.ino) in seen
        new = [(key, path) for key, path in seen.items() if key not in self.files]
        for key, path in seen.items():
            known = self.files.get(key)
            if known is not None:
                known.path = path
                if known.fh is None:
                    self._open(known)
        for key, path in new:
            self._add(key, path)
        self._first_scan = False
        # Close files that left the glob (renamed away or deleted) once read and idle.
        now = time.monotonic()
        for key, t in list(self.files.items()):
            if not t.in_glob and t.fh is not None and now - t.last_growth > CLOSE_INACTIVE:
                self._drain_partial(t)
                t.fh.close()
                t.fh = None
            if not t.in_glob and t.fh is None and not checkpoints.exists(t):
                del self.files[key]

    def _open(self, t: Tracked) -> None:
        try:
            t.fh = open(t.path, "rb", buffering=0)  # noqa: SIM115 - kept open across polls to follow renames
        except OSError:
            t.fh = None
            return
        st = os.fstat(t.fh.fileno())
        if (st.st_dev, st.st_ino) != (t.dev, t.ino):
            t.fh.close()
            t.fh = None

    def _add(self, key: tuple[int, int], path: str) -> None:
        t = Tracked(key[0], key[1], path, None, None, 0)
        self._open(t)
        if t.fh is None:
            return
        t.fp = fingerprint(t.fh)
        if t.fp is not None:
            heir = self._truncated_original(t.fp)
            if heir is None and self._twin_alive(t.fp, key):
                # Same first line as a live file: most likely a copytruncate copy whose original
                # is about to be truncated. Wait a little before calling it a new file.
                first = self._deferred.setdefault(key, time.monotonic())
                if time.monotonic() - first < DEFER_TWIN_SECONDS:
                    t.fh.close()
                    return
            self._deferred.pop(key, None)
            if heir is not None:
                # A copytruncate copy: continue where the original stopped, with its ids.
                t.id_base, t.offset = heir.id_base, heir.checkpoint()
                heir.fp, heir.id_base, heir.offset, heir.reader = None, None, 0, None
            else:
                t.id_base = f"{t.dev}:{t.ino}:{t.fp}"
                if self._first_scan and self.cfg.start == "end":
                    t.offset = os.fstat(t.fh.fileno()).st_size
        self.files[key] = t

    def _twin_alive(self, fp: str, key: tuple[int, int]) -> bool:
        return any(o.fp == fp and (o.dev, o.ino) != key and o.fh is not None for o in self.files.values())

    def _truncated_original(self, fp: str, key: tuple[int, int] | None = None) -> Tracked | None:
        """The file a copy with fingerprint ``fp`` was made from (then truncated), if any."""
        now = time.monotonic()
        self._orphans = [o for o in self._orphans if now - o[3] < ORPHAN_SECONDS]
        for i, (ofp, id_base, offset, _when, okey) in enumerate(self._orphans):
            if ofp == fp and id_base is not None and okey != key:
                del self._orphans[i]
                return Tracked(0, 0, "", ofp, id_base, offset)
        for other in self.files.values():
            if other.fp != fp or other.fh is None:
                continue
            try:
                size = os.fstat(other.fh.fileno()).st_size
                current = fingerprint(other.fh) if size else None
            except OSError:
                current = None
            if current != fp or size < other.offset:
                return other
        return None

    def _read(self, t: Tracked, stop: threading.Event) -> bool:
        assert t.fh is not None
        size = os.fstat(t.fh.fileno()).st_size
        if t.fp is None or t.id_base is None:
            t.fp = fingerprint(t.fh)
            if t.fp is None:
                return False
            heir = self._truncated_original(t.fp, (t.dev, t.ino)) if t.offset == 0 else None
            if heir is not None and heir is not t:
                t.id_base, t.offset = heir.id_base, heir.checkpoint()
                heir.fp, heir.id_base, heir.offset, heir.reader = None, None, 0, None
            else:
                t.id_base = f"{t.dev}:{t.ino}:{t.fp}"
        elif size < t.offset or (size and fingerprint(t.fh) != t.fp):
            # Truncated in place (copytruncate) or rewritten: start over under a new identity.
            # A copy that shows up later may still inherit what this file was.
            self._orphans.append((t.fp, t.id_base, t.checkpoint(), time.monotonic(), (t.dev, t.ino)))
            t.fp, t.id_base, t.offset, t.reader = None, None, 0, None
            return self._read(t, stop) if size else False
        if t.reader is None:
            assert t.id_base is not None
            parser = get_parser(self.cfg.parser, self.cfg.timezone, path=t.path)
            t.reader = FileReader(parser, t.id_base, t.path, self.cfg.encoding, self.cfg.max_line_bytes,
                               self.cfg.multiline, self.ctx.counters, self.name)
            t.reader.carry = b""
        read_any = False
        pos = t.offset
        window = READ_CHUNK
        while pos < size and not stop.is_set():
            chunk = os.pread(t.fh.fileno(), min(window, size - pos), pos)
            if not chunk:
                break
            events = t.reader.feed(chunk, pos, final=False)
            used = len(chunk) - len(t.reader.carry)
            if used == 0:
                if len(chunk) == window and window <= self.cfg.max_line_bytes:
                    window = self.cfg.max_line_bytes + 1  # a line longer than the usual window
                    continue
                break  # only a partial line: wait for its end
            if not self._emit(events, stop):
                return read_any
            pos += used
            t.offset = pos
            t.last_growth = time.monotonic()
            read_any = True
            self._save()
        idle = time.monotonic() - t.last_growth > self.cfg.flush_seconds
        if not read_any and t.reader.assembler.pending_offset is not None and idle \
                and self._emit(t.reader.finish(), stop):
            self._save()
        return read_any

    def _drain_partial(self, t: Tracked) -> None:
        """A file leaving for good: its unterminated last line and held lines become events."""
        if t.fh is None or t.reader is None:
            return
        size = os.fstat(t.fh.fileno()).st_size
        events: list[Event] = []
        if size > t.offset:
            events += t.reader.feed(os.pread(t.fh.fileno(), size - t.offset, t.offset), t.offset, final=True)
            t.offset = size
        events += t.reader.finish()
        if self._emit(events, self.ctx.stop):
            self._save()

    def _emit(self, events: list[Event], stop: threading.Event) -> bool:
        for i in range(0, len(events), EMIT_CHUNK):
            if not self.ctx.emit(events[i:i + EMIT_CHUNK], block=True):
                return False
        return True


def create_input(config: dict[str, Any], ctx: InputContext) -> FileInput:
    return FileInput(validate_input(FileInputConfig, config), ctx)
