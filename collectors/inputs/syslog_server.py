"""Syslog server: UDP, TCP (RFC 6587 octet counting or newline framing, detected per frame),
optional TLS. The sender's address is kept in ``log.source.address``.

Event ids: ``stable_id("syslog", receiver, run, sender, sequence)`` where ``run`` is unique per
server start (a message received twice is two messages; nothing can be replayed over the
network, so ids only need to be unique). Messages are buffered at most ``FLUSH_SECONDS`` before
the spool; when the spool is full they are counted as ``dropped``. A connection that closes in
the middle of a frame still yields what was received, stored with ``error.message``.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import socketserver
import ssl
import threading
import uuid
from typing import Any

from collectors.config import SyslogInputConfig, validate_input
from collectors.inputs.lines import build_event, decode
from collectors.models import Event
from collectors.parsers import LineParser, get_parser
from collectors.registry import InputContext
from core.errors import InvalidInput
from core.ids import stable_id
from core.timeutil import iso, utcnow

FLUSH_SECONDS = 0.1
BATCH = 1000
RECV = 256 * 1024


class _Batcher:
    def __init__(self, ctx: InputContext) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.events: list[Event] = []

    def add(self, events: list[Event]) -> None:
        with self.lock:
            self.events.extend(events)
            ready = len(self.events) >= BATCH
        if ready:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            events, self.events = self.events, []
        if events:
            self.ctx.emit(events, block=False)


class SyslogInput:
    type = "syslog"

    def __init__(self, config: SyslogInputConfig, ctx: InputContext) -> None:
        if (config.tls_cert is None) != (config.tls_key is None):
            raise InvalidInput(f"Input {config.name!r}: set both tls_cert and tls_key (or neither).")
        if config.tls_cert is not None and config.protocol != "tcp":
            raise InvalidInput(f"Input {config.name!r}: TLS needs protocol: tcp.")
        self.cfg = config
        self.ctx = ctx
        self.name = config.name
        self.run_id = uuid.uuid4().hex
        self.receiver = f"{config.name}:{config.protocol}:{config.host}:{config.port}"
        self._seq = itertools.count()
        self._local = threading.local()
        self.batcher = _Batcher(ctx)
        self.server: socketserver.BaseServer | None = None
        self.bound = threading.Event()
        self.address: tuple[str, int] | None = None

    def parser(self) -> LineParser:
        # Parsers cache timestamps; one per thread keeps that lock-free.
        p = getattr(self._local, "parser", None)
        if p is None:
            p = self._local.parser = get_parser("syslog" if self.cfg.parser == "auto" else self.cfg.parser,
                                                self.cfg.timezone)
        return p

    def make_events(self, frames: list[bytes], sender: str, note: str | None = None) -> list[Event]:
        parser = self.parser()
        created = iso(utcnow())
        out = []
        parsed = 0
        self.ctx.count("read", len(frames))
        for raw in frames:
            text, enc_note = decode(raw.rstrip(b"\n"), self.cfg.encoding)
            notes = [n for n in (enc_note, note) if n]
            event, ok = build_event(
                parser, [text], created=created,
                event_id=stable_id("syslog", self.receiver, self.run_id, sender, next(self._seq)),
                extra={"log": {"source": {"address": sender}}, "input": {"type": self.cfg.protocol}},
                notes=notes or None)
            if ok and not note:
                parsed += 1
            out.append(event)
        self.ctx.count("parsed", parsed)
        self.ctx.count("parse_failures", len(frames) - parsed)
        return out

    # -- servers ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        server = self._udp() if self.cfg.protocol == "udp" else self._tcp()
        self.server = server
        self.address = server.server_address[:2]  # type: ignore[assignment]
        self.bound.set()
        serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                 name=f"{self.name}-serve", daemon=True)
        serve.start()
        try:
            while not stop.wait(FLUSH_SECONDS):
                self.batcher.flush()
        finally:
            server.shutdown()
            server.server_close()
            self.batcher.flush()

    def _udp(self) -> socketserver.UDPServer:
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = self.request[0]
                sender = f"{self.client_address[0]}:{self.client_address[1]}"
                owner.batcher.add(owner.make_events([data[:owner.cfg.max_message_bytes]], sender))

        server = socketserver.UDPServer((self.cfg.host, self.cfg.port), Handler)
        with contextlib.suppress(OSError):
            server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        return server

    def _tcp(self) -> socketserver.ThreadingTCPServer:
        owner = self
        context = None
        if self.cfg.tls_cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.cfg.tls_cert), str(self.cfg.tls_key))
        active = threading.BoundedSemaphore(self.cfg.max_connections)

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                if not active.acquire(blocking=False):
                    return  # over the connection limit: closed at once
                try:
                    sock: socket.socket = self.request
                    if context is not None:
                        try:
                            sock = context.wrap_socket(sock, server_side=True)
                        except (ssl.SSLError, OSError):
                            owner.ctx.count("parse_failures")
                            return
                    sock.settimeout(owner.cfg.idle_timeout)
                    owner.serve_connection(sock, f"{self.client_address[0]}:{self.client_address[1]}")
                finally:
                    active.release()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        server = socketserver.ThreadingTCPServer((self.cfg.host, self.cfg.port), Handler)
        server.daemon_threads = True
        return server

    def serve_connection(self, sock: socket.socket, sender: str) -> None:
        framer = Framer(self.cfg.max_message_bytes)
        while True:
            try:
                data = sock.recv(RECV)
            except (TimeoutError, OSError):
                data = b""
            if not data:
                break
            frames = framer.feed(data)
            if frames:
                self.batcher.add(self.make_events(frames, sender))
        rest, note = framer.close()
        if rest:
            self.batcher.add(self.make_events([rest], sender, note))


class Framer:
    """RFC 6587 framing: ``<len> <msg>`` (octet counting) or LF-terminated, decided per frame."""

    def __init__(self, max_bytes: int) -> None:
        self.buf = bytearray()
        self.max = max_bytes

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        out: list[bytes] = []
        buf = self.buf
        pos = 0
        n = len(buf)
        while pos < n:
            c = buf[pos]
            if 48 <= c <= 57:  # a digit: maybe octet counting
                sp = buf.find(b" ", pos, pos + 12)
                if sp > pos and buf[pos:sp].isdigit():
                    length = int(buf[pos:sp])
                    if length <= self.max:
                        if sp + 1 + length > n:
                            break
                        out.append(bytes(buf[sp + 1:sp + 1 + length]))
                        pos = sp + 1 + length
                        continue
            if c in (10, 13):  # stray line ends between frames
                pos += 1
                continue
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if n - pos > self.max:
                    out.append(bytes(buf[pos:pos + self.max]))
                    pos += self.max
                    continue
                break
            out.append(bytes(buf[pos:nl]))
            pos = nl + 1
        del self.buf[:pos]
        return out

    def close(self) -> tuple[bytes, str | None]:
        rest = bytes(self.buf).strip(b"\r\n")
        self.buf.clear()
        if not rest:
            return b"", None
        return rest, "connection closed in the middle of a frame (partial message kept)"


def create_input(config: dict[str, Any], ctx: InputContext) -> SyslogInput:
    return SyslogInput(validate_input(SyslogInputConfig, config), ctx)
