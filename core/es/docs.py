"""Single documents and searches (with point-in-time scans)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from core.errors import Unavailable
from core.es._base import (
    ApiError,
    Connection,
    NotFoundError,
    TransportError,
    _check_text,
    _dumps,
    _translated,
    translate,
)


class DocOps(Connection):
    # -- documents -------------------------------------------------------------------------

    def get(self, index: str, doc_id: str) -> dict[str, Any] | None:
        """The document with ``_seq_no``/``_primary_term`` for optimistic updates, or None
        (also for an empty id, which no document has: the client would raise instead)."""
        if not doc_id:
            return None
        try:
            resp = self._client.get(index=index, id=doc_id)
        except NotFoundError:
            return None
        except (ApiError, TransportError) as exc:
            raise translate(exc, f"Reading {index}/{doc_id}") from exc
        return dict(resp.body)

    def mget(self, index: str, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        if not ids:
            return []
        with _translated(f"Reading {len(ids)} documents from {index}"):
            docs = self._client.mget(index=index, ids=list(ids)).body["docs"]
        return [d if d.get("found") else None for d in docs]

    def put(self, index: str, doc_id: str | None, doc: Mapping[str, Any], *, create: bool = False,
            refresh: bool | str = False, if_seq_no: int | None = None,
            if_primary_term: int | None = None) -> dict[str, Any]:
        """Index one document. ``create=True`` raises ``Conflict`` when the id exists."""
        _check_text(doc)
        params: dict[str, Any] = {"index": index, "document": dict(doc), "refresh": refresh}
        if doc_id is not None:
            params["id"] = doc_id
        if create:
            params["op_type"] = "create"
        if if_seq_no is not None:
            params["if_seq_no"] = if_seq_no
            params["if_primary_term"] = if_primary_term
        with _translated(f"Writing to {index}"):
            return dict(self._client.index(**params).body)

    def update(self, index: str, doc_id: str, partial: Mapping[str, Any], *, refresh: bool | str = False,
               if_seq_no: int | None = None, if_primary_term: int | None = None) -> dict[str, Any]:
        _check_text(partial)
        params: dict[str, Any] = {"index": index, "id": doc_id, "doc": dict(partial), "refresh": refresh}
        if if_seq_no is not None:
            params["if_seq_no"] = if_seq_no
            params["if_primary_term"] = if_primary_term
        with _translated(f"Updating {index}/{doc_id}"):
            return dict(self._client.update(**params).body)

    def delete(self, index: str, doc_id: str, *, refresh: bool | str = False) -> bool:
        try:
            self._client.delete(index=index, id=doc_id, refresh=refresh)
            return True
        except NotFoundError:
            return False
        except (ApiError, TransportError) as exc:
            raise translate(exc, f"Deleting {index}/{doc_id}") from exc

    # -- search ----------------------------------------------------------------------------

    def _reads(self) -> Elasticsearch:
        """The client for searches: another node after a dead one, but not after a timeout — a
        slow search is slow on every node, and its caller (the detection runner) splits or
        isolates it sooner than three attempts of the full timeout would."""
        return self._client.options(retry_on_timeout=False)

    def search(self, index: str, body: Mapping[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        params.setdefault("ignore_unavailable", True)
        params.setdefault("allow_no_indices", True)
        try:
            with _translated(f"Searching {index}"):
                return dict(self._reads().search(index=index, body=dict(body or {}), **params).body)
        except Unavailable as exc:
            # An index created a moment ago (by this or another request) may not have its primary
            # started yet: wait for it once instead of answering 503.
            if "no_shard_available" not in exc.message:
                raise
            with _translated(f"Waiting for {index}"):
                self._client.cluster.health(index=index, wait_for_status="yellow", timeout="10s")
            with _translated(f"Searching {index}"):
                return dict(self._reads().search(index=index, body=dict(body or {}), **params).body)

    def count(self, index: str, query: Mapping[str, Any] | None = None) -> int:
        with _translated(f"Counting {index}"):
            resp = self._client.count(index=index, query=dict(query) if query else None,
                                      ignore_unavailable=True, allow_no_indices=True)
        return int(resp.body["count"])

    def msearch(self, searches: Sequence[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
        """Run many searches in one round trip; each response is a result or ``{"error": ...}``."""
        if not searches:
            return []
        lines: list[bytes] = []
        for index, body in searches:
            lines.append(_dumps({"index": index, "ignore_unavailable": True, "allow_no_indices": True}))
            lines.append(_dumps(body))
        payload = b"\n".join(lines) + b"\n"
        with _translated(f"Running {len(searches)} searches"):
            resp = self._reads().msearch(body=payload)  # type: ignore[arg-type]
        return [dict(r) for r in resp.body["responses"]]

    def scan(self, index: str, query: Mapping[str, Any] | None = None, *, size: int = 1000,
             sort: list[Any] | None = None, source: Any = True) -> Iterator[dict[str, Any]]:
        """Every hit of a query, in a stable order, using a point in time and ``search_after``."""
        with _translated(f"Opening point in time on {index}"):
            try:
                pit = self._client.open_point_in_time(index=index, keep_alive="2m",
                                                      ignore_unavailable=True).body["id"]
            except NotFoundError:
                return
        try:
            after: list[Any] | None = None
            while True:
                body: dict[str, Any] = {
                    "size": size,
                    "query": dict(query or {"match_all": {}}),
                    "pit": {"id": pit, "keep_alive": "2m"},
                    "sort": sort or [{"_shard_doc": "asc"}],
                    "_source": source,
                    "track_total_hits": False,
                }
                if after is not None:
                    body["search_after"] = after
                with _translated(f"Scanning {index}"):
                    resp = self._client.search(body=body).body
                hits = resp["hits"]["hits"]
                if not hits:
                    return
                pit = resp.get("pit_id", pit)
                yield from hits
                after = hits[-1]["sort"]
        finally:
            with contextlib.suppress(Exception):
                self._client.close_point_in_time(id=pit)

