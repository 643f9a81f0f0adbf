"""Shared helpers for triage: time ranges, cursors, field names, optimistic updates."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from core import scope as scopes
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.es import Store
from core.timeutil import iso, parse_iso, utcnow

FIELD_RE = re.compile(r"^[A-Za-z_@][A-Za-z0-9_.@\-]{0,200}$")
MAX_PAGE = 500
# Relative times are bounded so the arithmetic cannot leave the calendar (now-999999d).
MAX_LOOKBACK_DAYS = 36500
MAX_LOOKBACK_SECONDS = MAX_LOOKBACK_DAYS * 86400
_RETRIES = 12


def parse_time(value: str | None, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    text = value.strip()
    rel = re.fullmatch(r"now-(\d{1,6})([smhd])", text)
    if rel:
        seconds = int(rel.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[rel.group(2)]
        if seconds > MAX_LOOKBACK_SECONDS:
            raise InvalidInput(f"{field}: {text} reaches back more than {MAX_LOOKBACK_DAYS} days; give a later "
                               "time (e.g. now-30d) or an ISO 8601 time.",
                               detail=[{"field": field, "message": f"more than {MAX_LOOKBACK_DAYS} days back"}])
        return utcnow() - timedelta(seconds=seconds)
    if text == "now":
        return utcnow()
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise InvalidInput(f"{field}: give an ISO 8601 time (2026-01-31T08:00:00Z) or now-24h.",
                           detail=[{"field": field, "message": "not a time"}]) from exc


def time_range(field: str, start: str | None, end: str | None) -> dict[str, Any] | None:
    lo, hi = parse_time(start, "start"), parse_time(end, "end")
    if lo and hi and lo > hi:
        raise InvalidInput("start must be before end.", detail=[{"field": "start", "message": "after end"}])
    if not lo and not hi:
        return None
    rng: dict[str, Any] = {}
    if lo:
        rng["gte"] = iso(lo)
    if hi:
        rng["lte"] = iso(hi)
    return {"range": {field: rng}}


def check_field(name: str, what: str = "field") -> str:
    if not FIELD_RE.match(name or ""):
        raise InvalidInput(f"{what} {name!r} is not a field name (letters, digits, '.', '_', '@').",
                           detail=[{"field": what, "message": "invalid field name"}])
    return name


def encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(sort_values)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidInput("The page cursor is invalid; start again without `after`.",
                           detail=[{"field": "after", "message": "invalid cursor"}]) from exc
    if not isinstance(values, list) or not all(isinstance(v, str | int | float | None) for v in values):
        raise InvalidInput("The page cursor is invalid; start again without `after`.",
                           detail=[{"field": "after", "message": "invalid cursor"}])
    return values


_CURSOR_TTL_SECONDS = 600


def _cursor_box(secret: str) -> Fernet:
    # A key of its own, derived from the API key: a cursor can never pass for a session token.
    key = hmac.new(secret.encode(), b"qinglang hunt cursor v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal_cursor(secret: str, payload: dict[str, Any]) -> str:
    """An opaque page cursor: encrypted and HMAC-signed (Fernet), so it shows nothing internal
    (index names, node ids, point-in-time ids) and cannot be altered or made up by the client."""
    return _cursor_box(secret).encrypt(orjson.dumps(payload)).decode().rstrip("=")


def open_cursor(secret: str, cursor: str) -> dict[str, Any]:
    bad = InvalidInput("The page cursor is invalid or expired; search again without `after`.",
                       detail=[{"field": "after", "message": "invalid cursor"}])
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(_cursor_box(secret).decrypt(padded.encode(), ttl=_CURSOR_TTL_SECONDS))
    except (InvalidToken, ValueError, TypeError) as exc:
        raise bad from exc
    if not isinstance(data, dict):
        raise bad
    return data


def page_size(size: int) -> int:
    if size < 1 or size > MAX_PAGE:
        raise InvalidInput(f"size must be between 1 and {MAX_PAGE}.", detail=[{"field": "size", "message": "range"}])
    return size


def check_writable(index: str, source: dict[str, Any], what: str, doc_id: str) -> None:
    """Refuse a change to a document the caller reads only through a share grant (another
    department's case, alert or event), with a message saying so; the store refuses such a write
    too, but this one happens before anything else of the request was changed."""
    scope = scopes.active_for(index)
    if scope is None:
        return
    org = scopes.organization_of(source)
    if not scope.allows(org):
        raise PermissionDenied(f"The {what} {doc_id!r} belongs to department {org or scopes.DISTRICT!r} and is "
                               "shared with you read-only; ask that department to change it.")


def optimistic_update(store: Store, index: str, doc_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None],
                      what: str, *, refresh: bool = True) -> dict[str, Any]:
    """Read, compute the partial update from the current source, write with ``if_seq_no``;
    retry when someone else (the detection engine, another analyst) wrote in between.
    ``change`` returns None for "nothing to do". Returns the new source. ``refresh=True`` makes
    the change visible to the next list at once (``wait_for`` would wait up to a second)."""
    for _attempt in range(_RETRIES):
        doc = store.get(index, doc_id)
        if doc is None:
            raise NotFound(f"No {what} {doc_id!r}; check the id (list them first).")
        source = doc["_source"]
        check_writable(index, source, what, doc_id)
        partial = change(source)
        if partial is None:
            return dict(source)
        try:
            store.update(index, doc_id, partial, refresh=refresh, if_seq_no=doc["_seq_no"],
                         if_primary_term=doc["_primary_term"])
        except Conflict:
            # Back off with jitter so concurrent writers of one document stop colliding in lockstep.
            time.sleep(random.uniform(0, 0.02 * (2 ** min(_attempt, 5))))
            continue
        return deep_merge(source, partial)
    raise Conflict(f"The {what} {doc_id!r} keeps changing under concurrent updates; reload it and try again.")


def deep_merge(base: dict[str, Any], partial: dict[str, Any]) -> dict[str, Any]:
    """What Elasticsearch's partial update does: objects merge, everything else replaces."""
    out = dict(base)
    for key, value in partial.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
