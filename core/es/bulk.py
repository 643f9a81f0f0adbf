"""Bulk writes with per-item outcomes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from core import scope as scoping
from core.errors import PermissionDenied
from core.es._base import Connection, _dumps, _restricted, _translated


@dataclass(frozen=True)
class ItemResult:
    index: str
    id: str
    status: int
    # created | exists | rejected | retry
    outcome: str
    error: str | None = None


@dataclass
class BulkResult:
    items: list[ItemResult] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for i in self.items if i.outcome == "created")

    @property
    def exists(self) -> int:
        return sum(1 for i in self.items if i.outcome == "exists")

    @property
    def rejected(self) -> list[ItemResult]:
        return [i for i in self.items if i.outcome == "rejected"]

    @property
    def retry(self) -> list[ItemResult]:
        return [i for i in self.items if i.outcome == "retry"]

    @property
    def all_stored(self) -> bool:
        """Every item is now durably in Elasticsearch (created now or before)."""
        return all(i.outcome in ("created", "exists") for i in self.items)


class BulkOps(Connection):
    # -- bulk ------------------------------------------------------------------------------

    def bulk_create(self, docs: Iterable[tuple[str, str, Mapping[str, Any]]], *,
                    refresh: bool | str = False) -> BulkResult:
        """Write ``(index, id, source)`` with ``op_type=create``; a 409 means already stored.

        Every item's outcome is reported: a 200 response with ``errors: true`` is inspected
        item by item. Mapping errors are ``rejected`` (dead-letter them), 429/5xx are ``retry``.
        Connection failures raise ``Unavailable`` (nothing was acknowledged).
        """
        lines: list[bytes] = []
        keys: list[tuple[str, str]] = []
        refused: list[ItemResult] = []
        for index, doc_id, source in docs:
            checked = self._in_scope(index, doc_id, source, refused, overwrite=False)
            if checked is None:
                continue
            lines.append(b'{"create":{"_index":' + _dumps(index) + b',"_id":' + _dumps(doc_id) + b"}}")
            lines.append(_dumps(checked))
            keys.append((index, doc_id))
        if not keys:
            return BulkResult(refused)
        return self._bulk(b"\n".join(lines) + b"\n", keys, refresh, refused)

    def bulk_create_raw(self, docs: Sequence[tuple[str, str, bytes]], *,
                        refresh: bool | str = False, require_alias: bool = False) -> BulkResult:
        """Like ``bulk_create`` with sources already serialised as JSON bytes (hot paths that
        keep events encoded, e.g. the collectors' spool), so nothing is decoded and re-encoded.
        ``require_alias``: fail an item (404) rather than auto-create an index named like the target."""
        if not docs:
            return BulkResult()
        if _restricted() and any(scoping.active_for(index) is not None for index, _, _ in docs):
            # A department caller's raw batch: decoded once so each item passes the scope check.
            return self.bulk_create([(i, d, orjson.loads(src)) for i, d, src in docs], refresh=refresh)
        parts: list[bytes] = []
        keys: list[tuple[str, str]] = []
        tail = b',"require_alias":true}}\n' if require_alias else b"}}\n"
        for index, doc_id, source in docs:
            parts.append(b'{"create":{"_index":' + _dumps(index) + b',"_id":' + _dumps(doc_id) + tail)
            parts.append(source + b"\n")
            keys.append((index, doc_id))
        return self._bulk(b"".join(parts), keys, refresh)

    def bulk_index(self, docs: Iterable[tuple[str, str | None, Mapping[str, Any]]], *,
                   refresh: bool | str = False) -> BulkResult:
        """Write with ``op_type=index`` (overwrite): for platform state, never for events."""
        lines: list[bytes] = []
        keys: list[tuple[str, str]] = []
        refused: list[ItemResult] = []
        for index, doc_id, raw in docs:
            source = self._in_scope(index, doc_id, raw, refused, overwrite=doc_id is not None)
            if source is None:
                continue
            meta: dict[str, Any] = {"_index": index}
            if doc_id is not None:
                meta["_id"] = doc_id
            lines.append(_dumps({"index": meta}))
            lines.append(_dumps(source))
            keys.append((index, doc_id or ""))
        if not keys:
            return BulkResult(refused)
        return self._bulk(b"\n".join(lines) + b"\n", keys, refresh, refused)

    def bulk_update(self, docs: Iterable[tuple[str, str, Mapping[str, Any]]], *,
                    refresh: bool | str = False) -> BulkResult:
        """Partial updates ``(index, id, fields)`` of existing documents (missing ones are rejected)."""
        lines: list[bytes] = []
        keys: list[tuple[str, str]] = []
        refused: list[ItemResult] = []
        for index, doc_id, raw in docs:
            partial = self._in_scope(index, doc_id, raw, refused, overwrite=True, partial=True)
            if partial is None:
                continue
            lines.append(b'{"update":{"_index":' + _dumps(index) + b',"_id":' + _dumps(doc_id) + b"}}")
            lines.append(_dumps({"doc": partial}))
            keys.append((index, doc_id))
        if not keys:
            return BulkResult(refused)
        return self._bulk(b"\n".join(lines) + b"\n", keys, refresh, refused)

    def _in_scope(self, index: str, doc_id: str | None, source: Mapping[str, Any], refused: list[ItemResult],
                  *, overwrite: bool, partial: bool = False) -> Mapping[str, Any] | None:
        """The item as a department caller may write it (stamped with its organisation), or
        None after recording it as refused (403) — per item, like every other outcome."""
        scope = scoping.active_for(index)
        if scope is None:
            return source
        try:
            checked: Mapping[str, Any] = source
            if not partial or scoping.organization_of(source) is not None:
                stamped = scoping.stamp(source, scope, f"Writing to {index}")
                checked = source if partial else stamped
            if overwrite and doc_id:
                current = self._client.options(ignore_status=404).get(
                    index=index, id=doc_id, source_includes=["organization"]).body
                if current.get("found"):
                    org = scoping.organization_of(current.get("_source"))
                    if org is None or not scope.allows(org):
                        raise PermissionDenied(f"Writing to {index}: the document belongs to another department.")
                elif partial:
                    return source  # missing: Elasticsearch answers 404 for it
            return checked
        except PermissionDenied as exc:
            refused.append(ItemResult(index, doc_id or "", 403, "rejected", exc.message))
            return None

    def _bulk(self, payload: bytes, keys: list[tuple[str, str]], refresh: bool | str,
              refused: list[ItemResult] | None = None) -> BulkResult:
        with _translated(f"Bulk write of {len(keys)} documents"):
            resp = self._client.bulk(body=payload, refresh=refresh)  # type: ignore[arg-type]
        body = resp.body
        result = BulkResult(list(refused or ()))
        for (index, doc_id), item in zip(keys, body["items"], strict=True):
            op = next(iter(item.values()))
            status = int(op.get("status", 0))
            err = op.get("error")
            if 200 <= status < 300:
                outcome = "created"
            elif status == 409:
                outcome = "exists"
            elif status == 429 or status >= 500:
                outcome = "retry"
            else:
                outcome = "rejected"
            reason = None
            if err:
                reason = err.get("reason") if isinstance(err, dict) else str(err)
                if isinstance(err, dict) and err.get("caused_by"):
                    reason = f"{reason}: {err['caused_by'].get('reason')}"
            result.items.append(ItemResult(index, op.get("_id", doc_id), status, outcome, reason))
        return result

