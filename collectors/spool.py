"""The durable local spool between inputs and Elasticsearch.

Records are appended to numbered segment files (``0000000000000001.seg``...), each framed as
``length (4 bytes) | crc32 (4 bytes) | body`` so a write torn by ``kill -9`` or a power cut is
detected and cut off on the next open instead of being shipped half. The single consumer (the
shipper) reads from a cursor that is persisted (``cursor.json``, written by rename) only after
Elasticsearch acknowledged every record before it; fully acknowledged segments are deleted.

Bounded size, stated policy: when ``max_bytes`` of unacknowledged data is reached, ``append``
with ``block=True`` waits for space (file and journald inputs pause and keep their position),
``block=False`` returns False at once (network inputs count the records as dropped).

One process owns a spool directory at a time (``flock`` on ``lock``); a second opener gets
``Conflict``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from core.errors import Conflict

_HEADER = struct.Struct(">II")
SEGMENT_BYTES = 64 * 1024 * 1024
READ_WINDOW = 8 * 1024 * 1024


@dataclass(frozen=True)
class SpoolBatch:
    records: list[bytes]
    # where the consumer's cursor goes once every record of the batch is acknowledged
    end: tuple[int, int]
    bytes: int


def _seg_name(n: int) -> str:
    return f"{n:016d}.seg"


class Spool:
    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int = SEGMENT_BYTES,
                 fsync: bool = False) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self._lock_fh = (self.dir / "lock").open("a+")
        try:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._lock_fh.close()
            raise Conflict(
                f"The spool {self.dir} is in use by another collector process. Stop it first "
                "(`soc collect status` shows it) or give this one its own SOC_COLLECT_SPOOL_DIR."
            ) from exc
        self._cond = threading.Condition()
        self._closed = False
        self.cursor = self._load_cursor()
        segs = self._segments()
        # Segments wholly before the cursor were acknowledged; a crash may have left them.
        for n in segs:
            if n < self.cursor[0]:
                (self.dir / _seg_name(n)).unlink(missing_ok=True)
        segs = [n for n in segs if n >= self.cursor[0]]
        if not segs:
            segs = [self.cursor[0] + 1]
            (self.dir / _seg_name(segs[0])).touch()
        if self.cursor[0] not in segs:
            self.cursor = (segs[0], 0)
        self._write_seg = segs[-1]
        self._recover(self._write_seg)
        self._sizes = {n: (self.dir / _seg_name(n)).stat().st_size for n in segs}
        self._writer = (self.dir / _seg_name(self._write_seg)).open("ab")
        self._read_pos = self.cursor
        self._read_fh: tuple[int, object] | None = None

    # -- state --------------------------------------------------------------------------

    def _segments(self) -> list[int]:
        out = []
        for p in self.dir.glob("*.seg"):
            with contextlib.suppress(ValueError):
                out.append(int(p.stem))
        return sorted(out)

    def _load_cursor(self) -> tuple[int, int]:
        try:
            data = orjson.loads((self.dir / "cursor.json").read_bytes())
            return int(data["segment"]), int(data["offset"])
        except (OSError, ValueError, KeyError, TypeError):
            return (0, 0)

    def _save_cursor(self, cursor: tuple[int, int]) -> None:
        tmp = self.dir / "cursor.json.tmp"
        with tmp.open("wb") as fh:
            fh.write(orjson.dumps({"segment": cursor[0], "offset": cursor[1]}))
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, self.dir / "cursor.json")

    def _recover(self, n: int) -> None:
        """Cut a torn or corrupt tail off the last segment (only the tail can be torn)."""
        path = self.dir / _seg_name(n)
        data = path.read_bytes()
        pos = 0
        while pos + _HEADER.size <= len(data):
            length, crc = _HEADER.unpack_from(data, pos)
            body = data[pos + _HEADER.size: pos + _HEADER.size + length]
            if len(body) != length or zlib.crc32(body) != crc:
                break
            pos += _HEADER.size + length
        if pos != len(data):
            with path.open("r+b") as fh:
                fh.truncate(pos)

    @property
    def pending_bytes(self) -> int:
        with self._cond:
            return self._pending_bytes_locked()

    def _pending_bytes_locked(self) -> int:
        return sum(self._sizes.values()) - self.cursor[1]

    # -- producer -----------------------------------------------------------------------

    def append(self, bodies: Sequence[bytes], *, block: bool = True, timeout: float | None = None,
               stop: threading.Event | None = None) -> bool:
        """Append records durably (written and flushed before returning). False = not appended."""
        if not bodies:
            return True
        frames = bytearray()
        for body in bodies:
            frames += _HEADER.pack(len(body), zlib.crc32(body))
            frames += body
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending_bytes_locked() + len(frames) > self.max_bytes and self._pending_bytes_locked() > 0:
                if not block or self._closed or (stop is not None and stop.is_set()):
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.2 if remaining is None else min(0.2, remaining))
            if self._sizes[self._write_seg] >= self.segment_bytes:
                self._writer.close()
                self._write_seg += 1
                self._sizes[self._write_seg] = 0
                self._writer = (self.dir / _seg_name(self._write_seg)).open("ab")
            self._writer.write(frames)
            self._writer.flush()
            if self.fsync:
                os.fsync(self._writer.fileno())
            self._sizes[self._write_seg] += len(frames)
            self._cond.notify_all()
        return True

    # -- consumer -----------------------------------------------------------------------

    def read_batch(self, max_records: int, max_bytes: int = 32 * 1024 * 1024, wait: float = 1.0,
                   linger: float = 0.0) -> SpoolBatch | None:
        """Up to ``max_records`` unread records after the read position (None when there are none
        within ``wait`` seconds). ``linger`` waits a little longer for a fuller batch."""
        deadline = time.monotonic() + wait
        with self._cond:
            while not self._has_unread_locked():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return None
                self._cond.wait(remaining)
            if linger > 0:
                end_linger = time.monotonic() + linger
                while self._unread_bytes_locked() < max_bytes // 4 and not self._closed:
                    remaining = end_linger - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
            seg, off = self._read_pos
            # A finished segment: move to the next one.
            while seg < self._write_seg and off >= self._sizes.get(seg, 0):
                seg, off = seg + 1, 0
            limit = self._sizes.get(seg, 0)
        records: list[bytes] = []
        total = 0
        with (self.dir / _seg_name(seg)).open("rb") as fh:
            fh.seek(off)
            # A window, not the whole segment: batches are a few MB; a bigger record is read whole below.
            data = fh.read(min(limit - off, max_bytes, READ_WINDOW))
        pos = 0
        while pos + _HEADER.size <= len(data) and len(records) < max_records:
            length, crc = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + length
            if end > len(data):
                if not records:
                    # one record larger than the read window: read it whole
                    with (self.dir / _seg_name(seg)).open("rb") as fh:
                        fh.seek(off + pos)
                        data = data[:pos] + fh.read(_HEADER.size + length)
                    continue
                break
            body = data[pos + _HEADER.size: end]
            if zlib.crc32(body) == crc:
                records.append(bytes(body))
            pos = end
            total += _HEADER.size + length
            if total >= max_bytes:
                break
        end_pos = (seg, off + pos)
        with self._cond:
            self._read_pos = end_pos
        return SpoolBatch(records, end_pos, total)

    def _unread_bytes_locked(self) -> int:
        seg, off = self._read_pos
        return sum(size for n, size in self._sizes.items() if n >= seg) - off

    def _has_unread_locked(self) -> bool:
        return self._unread_bytes_locked() > 0

    def rewind(self) -> None:
        """Forget what was read but not acknowledged (it is read again)."""
        with self._cond:
            self._read_pos = self.cursor

    def ack(self, batch: SpoolBatch) -> None:
        """Every record up to ``batch.end`` is in Elasticsearch: persist the cursor, free space."""
        self._save_cursor(batch.end)
        with self._cond:
            self.cursor = batch.end
            for n in [n for n in self._sizes if n < batch.end[0]]:
                del self._sizes[n]
                (self.dir / _seg_name(n)).unlink(missing_ok=True)
            # The cursor's own segment counts from the cursor offset (see pending_bytes).
            self._cond.notify_all()

    def empty(self) -> bool:
        with self._cond:
            return self._pending_bytes_locked() <= 0

    def wait_empty(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending_bytes_locked() > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.5))
        return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            with contextlib.suppress(Exception):
                self._writer.close()
        with contextlib.suppress(Exception):
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
