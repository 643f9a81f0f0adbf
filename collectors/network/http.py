"""HTTP/1.x over a reassembled TCP connection: requests paired with responses in order.

Each direction is a small state machine (headers → body by Content-Length, chunked or until
close). Only header blocks are buffered (at most ``MAX_HEADER`` bytes); bodies are counted,
never kept. A header block that is too large or unparsable turns that direction off.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

METHODS = (b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"TRACE", b"PATCH",
           b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"SEARCH",
           b"SUBSCRIBE", b"NOTIFY", b"M-SEARCH", b"REPORT", b"MKCALENDAR", b"UNSUBSCRIBE",
           b"BPROPFIND", b"POLL")
_METHOD_PREFIXES = tuple(m + b" " for m in METHODS)
MAX_HEADER = 64 * 1024
MAX_PENDING_REQUESTS = 64
MAX_CHUNK_LINE = 1024

HEADERS, BODY_LEN, CHUNK_SIZE, CHUNK_DATA, CHUNK_TRAILER, BODY_CLOSE, DEAD = range(7)


SNIFF_BYTES = 16
MAGIC = ((b"MZ", "application/x-dosexec"), (b"\x7fELF", "application/x-executable"), (b"%PDF-", "application/pdf"),
         (b"PK\x03\x04", "application/zip"), (b"\x1f\x8b", "application/x-gzip"), (b"GIF8", "image/gif"),
         (b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"Rar!", "application/x-rar"),
         (b"7z\xbc\xaf", "application/x-7z-compressed"), (b"\xca\xfe\xba\xbe", "application/x-java-applet"),
         (b"{\\rtf", "text/rtf"), (b"\xd0\xcf\x11\xe0", "application/vnd.ms-office"))


def sniff_mime(head: bytes) -> str | None:
    if not head:
        return None
    for magic, mime in MAGIC:
        if head.startswith(magic):
            return mime
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "text/html"
    if lowered.startswith(b"<?xml"):
        return "text/xml"
    return None


def looks_like_request(data: bytes) -> bool:
    return data.startswith(_METHOD_PREFIXES)


@dataclass
class Transaction:
    ts: float
    index: int
    method: str = ""
    uri: str = ""
    version: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    header_names: list[str] = field(default_factory=list)
    request_body: int = 0
    status: int | None = None
    reason: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: int = 0
    end_ts: float | None = None
    depth: int = 1
    request_mime: str | None = None
    response_mime: str | None = None


def _parse_head(block: bytes) -> tuple[str, dict[str, str], list[str]]:
    text = block.decode("latin-1")
    lines = text.split("\n")
    start = lines[0].rstrip("\r")
    headers: dict[str, str] = {}
    names: list[str] = []
    for line in lines[1:]:
        line = line.rstrip("\r")
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        names.append(name.strip().upper())
        headers.setdefault(key, value.strip())
    return start, headers, names


class _Direction:
    """Parses one direction; hands complete heads and body lengths to the session."""

    def __init__(self, session: HttpSession, is_request: bool) -> None:
        self.session = session
        self.is_request = is_request
        self.state = HEADERS
        self.buf = bytearray()
        self.remaining = 0
        self.body = 0
        self.sniff = b""  # first body bytes, for the MIME type the way Zeek's file analysis sniffs it
        self._last_index = -1

    def data(self, chunk: bytes, ts: float, index: int) -> None:
        self._last_index = index
        view = memoryview(chunk)
        pos = 0
        for _ in range(10000):  # bounded: every pass consumes bytes or changes state
            if pos >= len(view) or self.state == DEAD:
                return
            if self.state == HEADERS:
                if not self.buf:
                    # skip stray CRLFs between messages
                    while pos < len(view) and view[pos] in (10, 13):
                        pos += 1
                    if pos >= len(view):
                        return
                self.buf += view[pos:]
                pos = len(view)
                end = self.buf.find(b"\r\n\r\n")
                sep = 4
                if end < 0:
                    end = self.buf.find(b"\n\n")
                    sep = 2
                if end < 0:
                    if len(self.buf) > MAX_HEADER:
                        self._die()
                    return
                head, rest = bytes(self.buf[:end]), bytes(self.buf[end + sep:])
                self.buf = bytearray()
                if not self._head(head, ts, index):
                    return
                view = memoryview(rest)
                pos = 0
            elif self.state == BODY_LEN:
                take = min(self.remaining, len(view) - pos)
                if self.body < SNIFF_BYTES:
                    self.sniff += bytes(view[pos:pos + min(take, SNIFF_BYTES - self.body)])
                self.body += take
                self.remaining -= take
                pos += take
                if self.remaining == 0:
                    self._message_done(ts)
            elif self.state == BODY_CLOSE:
                if self.body < SNIFF_BYTES:
                    self.sniff += bytes(view[pos:pos + SNIFF_BYTES - self.body])
                self.body += len(view) - pos
                return
            elif self.state == CHUNK_DATA:
                take = min(self.remaining, len(view) - pos)
                if self.body < SNIFF_BYTES:
                    self.sniff += bytes(view[pos:pos + min(take, SNIFF_BYTES - self.body)])
                self.body += take
                self.remaining -= take
                pos += take
                if self.remaining == 0:
                    self.state = CHUNK_SIZE
                    self.buf = bytearray()
            else:  # CHUNK_SIZE / CHUNK_TRAILER: line oriented
                nl = bytes(view[pos:pos + MAX_CHUNK_LINE]).find(b"\n")
                if nl < 0:
                    self.buf += view[pos:]
                    if len(self.buf) > MAX_CHUNK_LINE:
                        self._die()
                    return
                line = (bytes(self.buf) + bytes(view[pos:pos + nl])).strip()
                self.buf = bytearray()
                pos += nl + 1
                if self.state == CHUNK_TRAILER:
                    if not line:
                        self._message_done(ts)
                    continue
                if not line:
                    continue  # CRLF after chunk data
                try:
                    size = int(line.split(b";")[0], 16)
                except ValueError:
                    self._die()
                    return
                if size == 0:
                    self.state = CHUNK_TRAILER
                else:
                    self.remaining = size
                    self.state = CHUNK_DATA

    def _head(self, head: bytes, ts: float, index: int) -> bool:
        start, headers, names = _parse_head(head)
        if self.is_request:
            parts = start.split(" ")
            if len(parts) < 2 or not parts[0].encode("latin-1").isalpha() and parts[0] != "M-SEARCH":
                self._die()
                return False
            method = parts[0]
            # Like Wireshark and Zeek: the URI ends at the first space, even if the client
            # forgot to encode one (``GET /a b HTTP/1.1``).
            uri = parts[1]
            version = parts[-1][5:] if len(parts) >= 3 and parts[-1].startswith("HTTP/") else ""
            self.session.request(Transaction(ts, index, method, uri, version, headers, names))
            length = self._length(headers, no_body=False)
        else:
            if not start.startswith("HTTP/"):
                self._die()
                return False
            parts = start.split(" ", 2)
            try:
                status = int(parts[1])
            except (IndexError, ValueError):
                self._die()
                return False
            reason = parts[2] if len(parts) > 2 else ""
            if 100 <= status < 200 and status != 101:
                return True  # interim response: the real one follows
            pending = self.session.pending_method()
            no_body = pending == "HEAD" or status in (204, 304)
            self.session.response(status, reason, headers, ts)
            length = self._length(headers, no_body=no_body, until_close_ok=True)
            if status == 101 or (pending == "CONNECT" and 200 <= status < 300):
                length = -2  # switched protocols or a tunnel: the rest is not HTTP
                self.session.tunnel = pending == "CONNECT"
        self.body = 0
        if length == -2:
            self._message_done(ts)
            self.state = DEAD
            if not self.session.tunnel:  # protocol upgrade: neither side speaks HTTP/1 any more
                self.session.client.state = DEAD
        elif length == -1:
            self.state = CHUNK_SIZE
        elif length == -3:
            self.state = BODY_CLOSE
        elif length == 0:
            self._message_done(ts)
        else:
            self.remaining = length
            self.state = BODY_LEN
        return True

    @staticmethod
    def _length(headers: dict[str, str], *, no_body: bool, until_close_ok: bool = False) -> int:
        if no_body:
            return 0
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return -1
        cl = headers.get("content-length")
        if cl is not None:
            try:
                return max(0, int(cl.split(",")[0].strip()))
            except ValueError:
                pass
        return -3 if until_close_ok else 0

    def _message_done(self, ts: float) -> None:
        self.session.body_done(self.is_request, self.body, ts, sniff_mime(self.sniff))
        self.body = 0
        self.sniff = b""
        self.state = HEADERS

    def _die(self) -> None:
        self.state = DEAD
        self.buf = bytearray()
        self.session.errors += 1

    def gap(self, missing: int) -> None:
        if self.state in (BODY_LEN, CHUNK_DATA):
            take = min(self.remaining, missing)
            self.remaining -= take
            self.body += take
            missing -= take
            if self.remaining == 0 and self.state == BODY_LEN:
                self._message_done(0.0)
        elif self.state == BODY_CLOSE:
            self.body += missing
            return
        if missing and self.state != BODY_CLOSE:
            # Lost bytes inside framing: resynchronise on the next message head.
            self.buf = bytearray()
            self.state = HEADERS

    def datagram_end(self, ts: float) -> None:
        """HTTP over UDP (SSDP): a datagram is a whole message, blank line or not."""
        if self.state == HEADERS and self.buf:
            head, self.buf = bytes(self.buf).rstrip(b"\r\n"), bytearray()
            self._head(head, ts, -1 if not self.is_request else self._last_index)
        if self.state in (BODY_LEN, BODY_CLOSE, CHUNK_SIZE, CHUNK_DATA, CHUNK_TRAILER):
            self._message_done(ts)
        if self.state == DEAD:
            self.state = HEADERS

    def finish(self, ts: float) -> None:
        """Connection over: a body cut short still reports what arrived."""
        if self.state == BODY_CLOSE or (self.state in (BODY_LEN, CHUNK_SIZE, CHUNK_DATA, CHUNK_TRAILER) and self.body):
            self._message_done(ts)


class HttpSession:
    def __init__(self, client_is_orig: bool = True) -> None:
        self.client_is_orig = client_is_orig
        self.tunnel = False  # CONNECT succeeded: what follows is the tunnelled protocol (TLS)
        self.client = _Direction(self, True)
        self.server = _Direction(self, False)
        self.waiting: deque[Transaction] = deque()
        self.done: list[Transaction] = []
        self.errors = 0
        self._current_response: Transaction | None = None
        self._depth = 0

    def request(self, tx: Transaction) -> None:
        self._depth += 1
        tx.depth = self._depth
        self.waiting.append(tx)
        if len(self.waiting) > MAX_PENDING_REQUESTS:
            self.done.append(self.waiting.popleft())

    def pending_method(self) -> str | None:
        return self.waiting[0].method if self.waiting else None

    def response(self, status: int, reason: str, headers: dict[str, str], ts: float) -> None:
        tx = self.waiting.popleft() if self.waiting else Transaction(ts, -1)
        tx.status, tx.reason, tx.response_headers = status, reason, headers
        self._current_response = tx

    def body_done(self, is_request: bool, length: int, ts: float, mime: str | None = None) -> None:
        if is_request:
            if self.waiting:
                self.waiting[-1].request_body = length
                self.waiting[-1].request_mime = mime
            return
        tx = self._current_response
        if tx is not None:
            tx.response_body = length
            tx.response_mime = mime
            tx.end_ts = ts or tx.end_ts
            self.done.append(tx)
            self._current_response = None

    def close(self, ts: float) -> list[Transaction]:
        """Finish the connection: everything seen, answered or not, in request order."""
        self.server.finish(ts)
        if self._current_response is not None:
            self.done.append(self._current_response)
            self._current_response = None
        self.done.extend(self.waiting)
        self.waiting.clear()
        out, self.done = self.done, []
        return out

    def take(self) -> list[Transaction]:
        out, self.done = self.done, []
        return out
