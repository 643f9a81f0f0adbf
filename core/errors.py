"""The platform's error hierarchy.

Every error a user can see is a ``SocError``; its message says what went wrong *and what to do
next*. The API maps each subclass to one HTTP status in a single handler, the CLI prints the
message and exits non-zero. Nothing else should leak out of a service function.
"""

from __future__ import annotations

from typing import Any


class SocError(Exception):
    """Root of all platform errors."""

    http_status = 500
    code = "error"

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


class InvalidInput(SocError):
    """The caller sent something malformed: bad settings, hostile YAML, a wrong field."""

    http_status = 422
    code = "invalid_input"


class NotFound(SocError):
    http_status = 404
    code = "not_found"


class Conflict(SocError):
    """The request clashes with current state (a run already going, a duplicate id, a lock)."""

    http_status = 409
    code = "conflict"


class PermissionDenied(SocError):
    """Authenticated or not, the actor may not do this."""

    http_status = 403
    code = "permission_denied"


class Unauthenticated(PermissionDenied):
    """No valid credentials: log in again."""

    http_status = 401
    code = "unauthenticated"


class RateLimited(SocError):
    """Too many requests from one source: wait (``detail.retry_after`` seconds) and retry."""

    http_status = 429
    code = "rate_limited"


class Unavailable(SocError):
    """A dependency (Elasticsearch, a repository, a remote host) cannot be reached right now."""

    http_status = 503
    code = "unavailable"
