"""ASGI middleware: request size limit, Prometheus metrics, the audit of every state-changing
request, and the department scope cell of every request. Plain ASGI (not ``BaseHTTPMiddleware``)
to keep the per-request cost low."""

from __future__ import annotations

import time
from typing import Any

import anyio
import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram

from core import scope as scoping
from core.auditing import Actor

Scope = dict[str, Any]
Message = dict[str, Any]

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The identity service records logins itself (and the body holds a password).
NOT_MIRRORED = ("/api/v1/auth/login",)


def _error_body(status: int, code: str, message: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = orjson.dumps({"error": code, "message": message})
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body


def _has_credentials(scope: Scope) -> bool:
    return any(name in (b"authorization", b"x-api-key") for name, _ in scope.get("headers", []))


async def _too_many(send: Any) -> None:
    headers, body = _error_body(429, "too_many_requests",
                                "Too many failed requests without credentials from this address; wait a minute.")
    await send({"type": "http.response.start", "status": 429, "headers": [*headers, (b"retry-after", b"60")]})
    await send({"type": "http.response.body", "body": body})


class ScopeCell:
    """Every HTTP request starts with a pending department scope: scoped indices are closed to it
    (fail-closed) until authentication (``api.deps.current_session``) settles the caller's scope.
    A route that never authenticates therefore reads no department data."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scoping.open_request_cell()
        await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    pass


class RequestSizeLimit:
    """Refuse bodies over ``max_bytes`` with 413 (by Content-Length, and while streaming)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        headers, body = _error_body(413, "too_large",
                                    f"The request body is larger than {self.max_bytes} bytes; send less "
                                    "(split a bulk action into several requests).")
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("soc_api_requests_total", "API requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("soc_api_request_seconds", "API request latency", ["method", "route"],
                                 registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class ObserveRequests:
    """Count and time requests by route template; audit state-changing and denied requests."""

    def __init__(self, app: Any, metrics: Metrics, state: Any) -> None:
        self.app = app
        self.metrics = metrics
        self.state = state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        anonymous = getattr(self.state, "anonymous", None)
        path = scope.get("path", "")
        client = scope.get("client")
        address = client[0] if client else "unknown"
        if anonymous is not None and path not in NOT_MIRRORED and not _has_credentials(scope) \
                and anonymous.blocked(address):
            anonymous.note(address, scope.get("method", "?"), path, 429)
            await _too_many(send)
            return

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "?")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
            actor = (scope.get("state") or {}).get("actor")
            shared = (scope.get("state") or {}).get("shared_access")
            if shared and shared[1]:
                await anyio.to_thread.run_sync(self._note_shared, shared[0], shared[1], method, path)
            if anonymous is not None and not isinstance(actor, Actor) and status >= 400 and path not in NOT_MIRRORED:
                anonymous.note(address, method, path, status)  # aggregated: one record per source and minute
            elif method in MUTATING and path.startswith("/api/") and path not in NOT_MIRRORED:
                await anyio.to_thread.run_sync(self._audit, scope, method, path, status)

    def _note_shared(self, actor: Actor, doc_ids: list[str], method: str, path: str) -> None:
        """One audit record per request for the documents read through share grants."""
        try:
            self.state.services["sharing"].note_access(actor, list(dict.fromkeys(doc_ids)))
        except Exception as exc:  # noqa: BLE001 - the response is already sent: kept for health instead
            self.state.audit_failures.note(f"{method} {path}", exc)

    def _audit(self, scope: Scope, method: str, path: str, status: int) -> None:
        actor = (scope.get("state") or {}).get("actor")
        if not isinstance(actor, Actor):
            client = scope.get("client")
            actor = Actor(name="anonymous", role="anonymous", address=client[0] if client else None)
        outcome = "success" if status < 400 else ("denied" if status in (401, 403) else "failure")
        try:
            self.state.auditor.record(actor, "api.request", f"{method} {path}", outcome=outcome,
                                      detail={"status": status})
        except Exception as exc:  # noqa: BLE001 - the response is already sent: kept for health instead
            self.state.audit_failures.note(f"{method} {path}", exc)
