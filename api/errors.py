"""The one place where platform errors become HTTP responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from core.errors import SocError


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
