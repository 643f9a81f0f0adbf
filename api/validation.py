"""The last check every request passes before a route runs: no string that Elasticsearch (or a
later reader of what is stored) cannot take back. Pydantic models add per-field limits; this
catches what models cannot express globally — lone surrogates (``"\\ud800"`` is valid JSON but
not valid UTF-8: stored, it breaks every later read), runaway strings and nesting, and update
bodies with nothing in them.

It runs as a route dependency right after the permission gate, so a caller who may not use the
route still gets 401/403, never a validation answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from core.errors import InvalidInput

MAX_STRING = 256 * 1024
MAX_DEPTH = 32


def _problem(path: str, message: str) -> InvalidInput:
    where = path or "body"
    return InvalidInput(f"{where}: {message}.", detail=[{"field": where, "message": message}])


def check_string(value: str, path: str) -> None:
    if len(value) > MAX_STRING:
        raise _problem(path, f"longer than {MAX_STRING} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _problem(path, "contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode text") from exc


def check_value(value: Any, path: str = "", depth: int = 0) -> None:
    """Walk a parsed JSON value; ``path`` names the field like the 422 detail does (``values.0``)."""
    if depth > MAX_DEPTH:
        raise _problem(path, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_string(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_string(str(key), path)
            check_value(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_value(item, f"{path}.{i}" if path else str(i), depth + 1)


def _is_json(request: Request) -> bool:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype == "application/json" or ctype.endswith("+json")


async def guard_request(request: Request) -> None:
    for name, value in request.path_params.items():
        if isinstance(value, str):
            check_string(value, name)
    for name, value in request.query_params.multi_items():
        check_string(value, name)
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE") or not _is_json(request):
        return
    if not await request.body():
        return
    try:
        body = await request.json()  # cached by Starlette: the route reads the same object
    except ValueError:
        return  # malformed JSON: FastAPI answers 422 itself
    check_value(body)
    if request.method in ("PUT", "PATCH") and body == {}:
        raise _problem("body", "no fields given: an update must say what to change")
