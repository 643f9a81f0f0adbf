"""Bounded IPv4/IPv6 fragment reassembly."""

from __future__ import annotations

from collections import OrderedDict

from collectors.network.models import DecodeStats


class Defragmenter:
    """Bounded IPv4/IPv6 fragment reassembly: whole datagrams only, oldest evicted first."""

    def __init__(self, max_datagrams: int = 1024, max_bytes: int = 65535 + 8, timeout: float = 30.0) -> None:
        self.max_datagrams = max_datagrams
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.pending: OrderedDict[tuple[object, ...], _Datagram] = OrderedDict()

    def add(self, key: tuple[object, ...], ts: float, offset: int, more: bool, data: bytes,
            stats: DecodeStats) -> bytes | None:
        stats.fragments += 1
        entry = self.pending.get(key)
        if entry is None or ts - entry.first_ts > self.timeout:
            if entry is not None:
                stats.fragments_dropped += 1
            entry = _Datagram(ts)
            self.pending[key] = entry
            while len(self.pending) > self.max_datagrams:
                self.pending.popitem(last=False)
                stats.fragments_dropped += 1
        end = offset + len(data)
        if end > self.max_bytes:
            del self.pending[key]
            stats.bad("fragment_too_large")
            return None
        entry.parts.setdefault(offset, data)
        if not more:
            entry.total = end
        total = entry.total
        if total is None:
            return None
        # Complete when the pieces tile [0, total) without gaps.
        pos = 0
        for off in sorted(entry.parts):
            if off > pos:
                return None
            pos = max(pos, off + len(entry.parts[off]))
        if pos < total:
            return None
        buf = bytearray(total)
        for off in sorted(entry.parts):
            chunk = entry.parts[off][: max(0, total - off)]
            buf[off:off + len(chunk)] = chunk
        del self.pending[key]
        stats.reassembled += 1
        return bytes(buf)


class _Datagram:
    __slots__ = ("first_ts", "parts", "total")

    def __init__(self, first_ts: float) -> None:
        self.first_ts = first_ts
        self.parts: dict[int, bytes] = {}
        self.total: int | None = None
