"""Response hardening shared by the API and the console: security headers, JSON that can always
be encoded, and the aggregation and rate limit of anonymous failures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

from core.auditing import Actor, Auditor

Scope = dict[str, Any]

# The console is plain ES modules from this origin; styles are set through the CSSOM only.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# The interactive API docs load Swagger UI from its CDN with an inline bootstrap script.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
_COMMON = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer"), (b"cross-origin-opener-policy", b"same-origin")]


class SafeJSONResponse(JSONResponse):
    """JSON whose text is always valid UTF-8: a lone surrogate stored before input was checked
    is shown as U+FFFD instead of failing every read of the document with a 500."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
        return text.encode("utf-8", errors="replace")


class SecurityHeaders:
    def __init__(self, app: Any, docs_prefix: str) -> None:
        self.app = app
        self.docs_prefix = docs_prefix

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (DOCS_CSP if scope.get("path", "").startswith(self.docs_prefix) else CSP).encode()

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in [*_COMMON, (b"content-security-policy", csp)] if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


@dataclass
class _Window:
    count: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)


class AnonymousFailures:
    """Failed requests without a user (401, 404, …): one audit record per source address and
    minute carrying the count, instead of one record per request — an anonymous flood must not
    be able to grow the tamper-evident trail at its own pace. A source over ``limit`` failures in
    a minute is answered 429 until the minute ends."""

    def __init__(self, auditor: Callable[[], Auditor], limit: int, clock: Callable[[], float] = time.time,
                 on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self._auditor = auditor
        self.on_error = on_error
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, int], _Window] = {}
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        self.errors = 0

    def _minute(self) -> int:
        return int(self._clock() // 60)

    def blocked(self, address: str) -> bool:
        with self._lock:
            window = self._windows.get((address, self._minute()))
            return window is not None and window.count >= self.limit

    def note(self, address: str, method: str, path: str, status: int) -> None:
        with self._lock:
            window = self._windows.setdefault((address, self._minute()), _Window())
            window.count += 1
            window.statuses[str(status)] = window.statuses.get(str(status), 0) + 1
            if len(window.paths) < 10 and f"{method} {path}" not in window.paths:
                window.paths.append(f"{method} {path}"[:300])
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._run, name="anonymous-audit", daemon=True)
                self._flusher.start()

    def flush(self, *, everything: bool = False) -> int:
        """Write the records of ended minutes (all of them with ``everything``)."""
        current = self._minute()
        with self._lock:
            due = [(k, w) for k, w in self._windows.items() if everything or k[1] < current]
            for key, _w in due:
                del self._windows[key]
        for (address, minute), window in due:
            try:
                self._auditor().record(
                    Actor(name="anonymous", role="anonymous", address=address), "api.anonymous_failures",
                    address, outcome="denied",
                    detail={"count": window.count, "minute": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(minute * 60)),
                            "statuses": window.statuses, "requests": window.paths,
                            "refused": max(0, window.count - self.limit)})
            except Exception as exc:  # noqa: BLE001 - counted and shown in health
                self.errors += 1
                if self.on_error is not None:
                    self.on_error(f"anonymous failures of {address}", exc)
        return len(due)

    def _run(self) -> None:
        # Ends once nothing is pending (the next failure starts it again): an idle app keeps no thread.
        while not self._stop.wait(5):
            self.flush()
            with self._lock:
                if not self._windows:
                    self._flusher = None  # under the lock: note() starts a new one
                    return

    def close(self) -> None:
        self._stop.set()
        self.flush(everything=True)
