"""The one place where platform errors become HTTP responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core.errors import SocError


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
    async def _soc_error(_request: Request, exc: SocError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content=exc.to_dict())

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
