"""The one place where platform errors become HTTP responses."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core.errors import SocError
from core.i18n import negotiate, t

E = TypeVar("E", bound=SocError)


def localized(exc: E, key: str, **params: Any) -> E:
    """Attach a catalog key: API callers sending Accept-Language get the message in their
    language (``zh-CN`` or ``en``); the English ``message`` stays for logs and the CLI."""
    exc.i18n_key = key  # type: ignore[attr-defined]
    exc.i18n_params = params  # type: ignore[attr-defined]
    return exc


class ErrorBody(BaseModel):
    """Every error response: a code, a message saying what to do next, and optional detail
    (for ``invalid_input``: a list of ``{"field", "message"}``)."""

    error: str
    message: str
    detail: Any = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in ((401, "Not authenticated"), (403, "Not allowed"), (404, "Not found"),
                         (409, "Conflict with the current state"), (413, "Request too large"),
                         (422, "Invalid input (per-field detail)"), (503, "A dependency is unavailable"))
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SocError)
    async def _soc_error(request: Request, exc: SocError) -> JSONResponse:
        content = exc.to_dict()
        key = getattr(exc, "i18n_key", None)
        accept = request.headers.get("accept-language")
        if key and accept:
            content["message"] = t(key, negotiate(accept), **getattr(exc, "i18n_params", {}))
        return JSONResponse(status_code=exc.http_status, content=content)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields: list[dict[str, Any]] = [
            {"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"), "message": err.get("msg", "")}
            for err in exc.errors()
        ]
        return JSONResponse(
            status_code=422,
            content={"error": "invalid_input", "message": "The request has invalid fields; see detail.",
                     "detail": fields},
        )
