"""Live capture as an input of ``soc collect run`` (inputs file ``type: pcap_live``)::

    inputs:
      - {name: wire, type: pcap_live, interface: eth0, filter: "not port 9200", max_flows: 100000}

Needs root or CAP_NET_RAW (a clear ``PermissionDenied`` otherwise). Network events are sent
with ``block=False``: when the spool is full they are counted as dropped instead of stalling
the capture (the kernel would drop packets anyway).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from collectors.models import Event
from collectors.network.engine import Engine, FlowConfig
from collectors.network.scapy_io import LiveSource
from core.errors import InvalidInput
from core.timeutil import iso, utcnow

FLUSH_SECONDS = 1.0


class LiveCaptureConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "pcap_live"
    type: str = "pcap_live"
    interface: str = Field(min_length=1)
    filter: str | None = None
    snaplen: int = Field(65535, ge=64, le=262144)
    max_flows: int = Field(100_000, ge=16)
    tcp_idle_seconds: float = Field(300.0, gt=0)
    udp_idle_seconds: float = Field(60.0, gt=0)
    active_timeout_seconds: float = Field(3600.0, gt=0)


class LiveCapture:
    """Capture → engine → ``emit`` until ``stop`` is set; open flows are flushed on stop."""

    type = "pcap_live"

    def __init__(self, config: LiveCaptureConfig, emit: Callable[[Sequence[Event]], bool],
                 count: Callable[[str, int], None] | None = None) -> None:
        self.config = config
        self.name = config.name
        self._emit = emit
        self._count = count or (lambda _name, _n: None)
        self.source = LiveSource(config.interface, config.filter, snaplen=config.snaplen)
        flow_config = FlowConfig(tcp_idle=config.tcp_idle_seconds, udp_idle=config.udp_idle_seconds,
                                 active_timeout=config.active_timeout_seconds, max_flows=config.max_flows,
                                 scan_every=1.0)
        source_id = f"live:{socket.gethostname()}:{config.interface}:{time.time_ns()}"
        self.engine = Engine(source_id, iso(utcnow()), flow_config)
        self.engine.build.observer = {"hostname": socket.gethostname(),
                                      "ingress": {"interface": {"name": config.interface}}}

    def open(self) -> None:
        """Open the capture socket now (raises PermissionDenied / InvalidInput early)."""
        self.source.open()

    def run(self, stop: threading.Event) -> None:
        engine = self.engine
        index = 0
        last_flush = time.monotonic()
        errors_before = 0
        try:
            for ts, linktype, data, _wire in self.source.records(stop.is_set):
                index += 1
                engine.packet(ts, linktype, data, index)
                self._count("read", 1)
                now = time.monotonic()
                if now - last_flush >= FLUSH_SECONDS or len(engine.out) >= 500:
                    errors_before = self._flush(errors_before)
                    last_flush = now
                    engine.expire(time.time())
            engine.expire(time.time())
        finally:
            self.source.close()
            for events in engine.finish_iter():
                engine.out.extend(events)
                errors_before = self._flush(errors_before)

    def _flush(self, errors_before: int) -> int:
        events = list(self.engine.out)
        self.engine.out.clear()
        if events:
            if self._emit(events):
                self._count("parsed", len(events))
            else:
                self._count("dropped", len(events))
        errors = self.engine.decoder.stats.malformed + self.engine.stats.app_errors
        if errors > errors_before:
            self._count("parse_failures", errors - errors_before)
        return errors


def live_capture(config: dict[str, Any], emit: Callable[[Sequence[Event]], bool],
                 count: Callable[[str, int], None] | None = None) -> LiveCapture:
    """Build a live capture from a plain mapping (validated; ``InvalidInput`` names the problem)."""
    try:
        parsed = LiveCaptureConfig.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"Input {config.get('name', 'pcap_live')!r}: {problems}. Fix the inputs file.") from exc
    return LiveCapture(parsed, emit, count)


def create_input(config: dict[str, Any], ctx: Any) -> LiveCapture:
    """Factory for ``collectors.registry`` (``type: pcap_live``)."""
    capture = live_capture({**config, "name": ctx.name}, lambda events: ctx.emit(events, block=False),
                           lambda counter, n: ctx.count(counter, n))
    capture.open()
    return capture
