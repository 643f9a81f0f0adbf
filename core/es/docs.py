"""Single documents and searches (with point-in-time scans)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from core import scope as scoping
from core.errors import NotFound, PermissionDenied, Unavailable
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
        doc = dict(resp.body)
        scope = scoping.active_for(index)
        if scope is not None:
            if not scoping.visible(doc_id, doc.get("_source"), scope):
                return None
            scoping.note_shared([doc], scope)
        return doc

    def mget(self, index: str, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        if not ids:
            return []
        with _translated(f"Reading {len(ids)} documents from {index}"):
            docs = self._client.mget(index=index, ids=list(ids)).body["docs"]
        found = [d if d.get("found") else None for d in docs]
        scope = scoping.active_for(index)
        if scope is not None:
            found = [d if d is not None and scoping.visible(str(d.get("_id")), d.get("_source"), scope) else None
                     for d in found]
            scoping.note_shared([d for d in found if d is not None], scope)
        return found

    def _owned(self, index: str, doc_id: str, scope: scoping.Scope, what: str) -> bool:
        """Whether ``doc_id`` exists; refused when it belongs to an organisation outside the
        caller's scope (a share grant lets one read, never write)."""
        try:
            current = self._client.get(index=index, id=doc_id, source_includes=["organization"]).body
        except NotFoundError:
            return False
        except (ApiError, TransportError) as exc:
            raise translate(exc, f"Reading {index}/{doc_id}") from exc
        org = scoping.organization_of(current.get("_source"))
        if org is None or not scope.allows(org):
            raise PermissionDenied(f"{what}: the document belongs to another department.")
        return True

    def put(self, index: str, doc_id: str | None, doc: Mapping[str, Any], *, create: bool = False,
            refresh: bool | str = False, if_seq_no: int | None = None,
            if_primary_term: int | None = None) -> dict[str, Any]:
        """Index one document. ``create=True`` raises ``Conflict`` when the id exists."""
        _check_text(doc)
        scope = scoping.active_for(index)
        if scope is not None:
            doc = scoping.stamp(doc, scope, f"Writing to {index}")
            if doc_id is not None and not create:
                self._owned(index, doc_id, scope, f"Writing to {index}")
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
        scope = scoping.active_for(index)
        if scope is not None:
            if scoping.organization_of(partial) is not None:
                scoping.stamp(partial, scope, f"Updating {index}/{doc_id}")
            if not self._owned(index, doc_id, scope, f"Updating {index}/{doc_id}"):
                raise NotFound(f"{index}/{doc_id} does not exist.")
        params: dict[str, Any] = {"index": index, "id": doc_id, "doc": dict(partial), "refresh": refresh}
        if if_seq_no is not None:
            params["if_seq_no"] = if_seq_no
            params["if_primary_term"] = if_primary_term
        with _translated(f"Updating {index}/{doc_id}"):
            return dict(self._client.update(**params).body)

    def delete(self, index: str, doc_id: str, *, refresh: bool | str = False) -> bool:
        scope = scoping.active_for(index)
        if scope is not None and not self._owned(index, doc_id, scope, f"Deleting {index}/{doc_id}"):
            return False
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
        scope = scoping.active_for(index)
        if scope is not None:
            body = scoping.filtered_body(body, scope)
            if "q" in params:
                raise PermissionDenied("URL query strings are not available inside a department scope.")
            resp = self._search(index, body, **params)
            scoping.note_shared(resp.get("hits", {}).get("hits", []), scope)
            return resp
        return self._search(index, body, **params)

    def _search(self, index: str, body: Mapping[str, Any] | None = None, **params: Any) -> dict[str, Any]:
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
        scope = scoping.active_for(index)
        if scope is not None:
            query = scoping.filtered_query(query, scope)
        with _translated(f"Counting {index}"):
            resp = self._client.count(index=index, query=dict(query) if query else None,
                                      ignore_unavailable=True, allow_no_indices=True)
        return int(resp.body["count"])

    def msearch(self, searches: Sequence[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
        """Run many searches in one round trip; each response is a result or ``{"error": ...}``."""
        if not searches:
            return []
        lines: list[bytes] = []
        scopes = [scoping.active_for(index) for index, _ in searches]
        for (index, body), scope in zip(searches, scopes, strict=True):
            if scope is not None:
                body = scoping.filtered_body(body, scope)
            lines.append(_dumps({"index": index, "ignore_unavailable": True, "allow_no_indices": True}))
            lines.append(_dumps(body))
        payload = b"\n".join(lines) + b"\n"
        with _translated(f"Running {len(searches)} searches"):
            resp = self._reads().msearch(body=payload)  # type: ignore[arg-type]
        out = [dict(r) for r in resp.body["responses"]]
        for result, scope in zip(out, scopes, strict=True):
            if scope is not None:
                scoping.note_shared(result.get("hits", {}).get("hits", []), scope)
        return out

    def scan(self, index: str, query: Mapping[str, Any] | None = None, *, size: int = 1000,
             sort: list[Any] | None = None, source: Any = True) -> Iterator[dict[str, Any]]:
        """Every hit of a query, in a stable order, using a point in time and ``search_after``."""
        scope = scoping.active_for(index)
        if scope is not None:
            query = scoping.filtered_query(query, scope)
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
                if scope is not None:
                    scoping.note_shared(hits, scope)
                yield from hits
                after = hits[-1]["sort"]
        finally:
            with contextlib.suppress(Exception):
                self._client.close_point_in_time(id=pit)


    # -- point in time (deep paging for the hunt) ------------------------------------------

    def open_pit(self, index: str, keep_alive: str = "5m") -> str | None:
        """A point in time over ``index``, or None when no index matches."""
        try:
            with _translated(f"Opening point in time on {index}"):
                return str(self._client.open_point_in_time(index=index, keep_alive=keep_alive,
                                                           ignore_unavailable=True).body["id"])
        except NotFoundError:
            return None

    def search_pit(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A search on the point in time named in ``body["pit"]``. The point in time carries no
        index name the scope could exempt, so a restricted caller's filter always applies."""
        scope = scoping.active_for(None)
        if scope is not None:
            body = scoping.filtered_body(body, scope)
        with _translated("Searching a point in time"):
            resp = dict(self._reads().search(body=dict(body)).body)
        if scope is not None:
            scoping.note_shared(resp.get("hits", {}).get("hits", []), scope)
        return resp

    def close_pit(self, pit_id: str) -> None:
        with contextlib.suppress(Exception):  # it expires on its own
            self._client.close_point_in_time(id=pit_id)
