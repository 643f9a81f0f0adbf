"""One direction of a TCP byte stream, reassembled in sequence order within a bound.

Out-of-order segments wait (up to ``max_segments``/``max_bytes``); when the bound is hit the
stream skips the hole and tells the consumer how many bytes are missing, so memory stays
bounded however hostile the traffic. Retransmitted and overlapping bytes are trimmed.
"""

from __future__ import annotations

from typing import Protocol

MOD = 1 << 32
HALF = 1 << 31


class Consumer(Protocol):
    def data(self, chunk: bytes, ts: float, index: int) -> None: ...

    def gap(self, missing: int) -> None: ...


class Stream:
    __slots__ = ("next_seq", "pending", "pending_bytes", "consumer", "missed", "max_segments", "max_bytes")

    def __init__(self, consumer: Consumer, max_segments: int = 32, max_bytes: int = 256 * 1024) -> None:
        self.next_seq: int | None = None
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.consumer = consumer
        self.missed = 0
        self.max_segments = max_segments
        self.max_bytes = max_bytes

    def syn(self, seq: int) -> None:
        self.next_seq = (seq + 1) % MOD

    def feed(self, seq: int, data: bytes, ts: float, index: int) -> None:
        if not data:
            return
        if self.next_seq is None:
            self.next_seq = seq
        diff = (seq - self.next_seq) % MOD
        if diff >= HALF:  # starts before what we have: retransmission or overlap
            behind = MOD - diff
            if behind >= len(data):
                return
            data = data[behind:]
            diff = 0
        if diff:
            if seq not in self.pending:
                self.pending[seq] = data
                self.pending_bytes += len(data)
            if len(self.pending) > self.max_segments or self.pending_bytes > self.max_bytes:
                self._skip_hole(ts, index)
            return
        self._deliver(data, ts, index)
        if self.pending:
            self._drain(ts, index)

    def _deliver(self, data: bytes, ts: float, index: int) -> None:
        self.next_seq = ((self.next_seq or 0) + len(data)) % MOD
        self.consumer.data(data, ts, index)

    def _drain(self, ts: float, index: int) -> None:
        progressed = True
        while progressed and self.pending:
            progressed = False
            for seq in list(self.pending):
                diff = (seq - (self.next_seq or 0)) % MOD
                if diff == 0 or diff >= HALF:
                    data = self.pending.pop(seq)
                    self.pending_bytes -= len(data)
                    behind = 0 if diff == 0 else MOD - diff
                    if behind < len(data):
                        self._deliver(data[behind:], ts, index)
                    progressed = True

    def _skip_hole(self, ts: float, index: int) -> None:
        base = self.next_seq or 0
        nearest = min(self.pending, key=lambda s: (s - base) % MOD)
        missing = (nearest - base) % MOD
        self.missed += missing
        self.consumer.gap(missing)
        self.next_seq = nearest
        self._drain(ts, index)

    def flush(self, ts: float, index: int) -> None:
        """At connection end: deliver what is left, reporting holes as gaps."""
        for _ in range(len(self.pending)):
            if not self.pending:
                break
            self._skip_hole(ts, index)
