"""The only module that imports ``elasticsearch``.

``Store`` wraps (never subclasses) the official client: connection and version check, index
templates, bulk writes with per-item results, and translation of client exceptions into the
platform's own errors. Only server-core APIs are used so the platform behaves the same on the
minimal managed node and on a full cluster (no ingest pipelines, painless, reindex,
delete-by-query, percolator or analysis-common).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import elasticsearch
import orjson
from elasticsearch import Elasticsearch

from core.errors import Conflict, InvalidInput, NotFound, SocError, Unavailable
from core.replicas import index_settings
from core.urls import redact_url, split_urls

SUPPORTED_MAJOR = 8


@dataclass(frozen=True)
class ClusterInfo:
    version: str
    cluster_name: str
    status: str
    nodes: int


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


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=str)


def _check_text(obj: Any) -> None:
    """Refuse text that is not valid Unicode (a lone surrogate): the last line before storage.
    Elasticsearch would accept its escaped form, and every later read of the document would fail."""
    try:
        orjson.dumps(obj, default=str)
    except TypeError as exc:
        if "surrogates" in str(exc):
            raise InvalidInput("A text value contains a lone surrogate (\\ud800-\\udfff), which is not valid "
                               "Unicode; remove it and send the request again.",
                               detail=[{"field": "body", "message": "lone surrogate"}]) from exc
        raise


def translate(exc: Exception, what: str = "Elasticsearch request") -> SocError:
    """Map a client exception to the platform's errors; the message says what to do next."""
    if isinstance(exc, SocError):
        return exc
    if isinstance(exc, elasticsearch.ConnectionError | elasticsearch.ConnectionTimeout):
        return Unavailable(
            f"{what} failed: Elasticsearch cannot be reached ({exc}). Check that the node is running "
            "(`soc es status`) or that SOC_ES_URL points at a reachable cluster."
        )
    if isinstance(exc, elasticsearch.ApiError):
        status = exc.meta.status if exc.meta is not None else 0
        reason = _error_reason(exc.body) or str(exc)
        if status == 404:
            return NotFound(f"{what}: not found ({reason}).")
        if status == 409:
            return Conflict(f"{what}: conflict ({reason}). Reload and try again.")
        if status in (400, 422):
            return InvalidInput(f"{what} was rejected by Elasticsearch: {reason}.")
        if status in (401, 403):
            return Unavailable(
                f"{what}: Elasticsearch refused the credentials ({reason}). Check SOC_ES_USERNAME/"
                "SOC_ES_PASSWORD or SOC_ES_API_KEY."
            )
        return Unavailable(f"{what} failed with HTTP {status}: {reason}. Retry later; see `soc es logs`.")
    if isinstance(exc, elasticsearch.TransportError | elasticsearch.SerializationError):
        return Unavailable(f"{what} failed: {exc}.")
    return SocError(f"{what} failed unexpectedly: {exc!r}")


def _error_reason(body: Any) -> str | None:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            root = (err.get("root_cause") or [{}])[0]
            reason = root.get("reason") or err.get("reason")
            etype = root.get("type") or err.get("type")
            return f"{etype}: {reason}" if etype else reason
        if isinstance(err, str):
            return err
    return None


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except elasticsearch.ApiError as exc:
        raise translate(exc, what) from exc
    except (elasticsearch.TransportError, elasticsearch.SerializationError) as exc:
        raise translate(exc, what) from exc


class Store:
    """A connection to one cluster. Build it with ``Store.connect(settings)``; pass it around."""

    def __init__(self, client: Elasticsearch, url: str) -> None:
        self._client = client
        # For display only: credentials in the URL are redacted.
        self.url = url

    # -- connection -------------------------------------------------------------------------

    @classmethod
    def from_url(
        cls,
        url: str | Sequence[str],
        *,
        username: str | None = None,
        password: str | None = None,
        api_key: str | None = None,
        ca_cert: str | None = None,
        verify_certs: bool = True,
        request_timeout: float = 30.0,
        max_retries: int | None = None,
    ) -> Store:
        """``url`` is one node or several of one cluster (a list or comma-separated).

        With several nodes the client's node pool spreads requests, marks a node that fails
        as dead (backoff doubling from 1 s up to 30 s before it is tried again) and retries
        the request on another node — also after a timeout: every write the platform makes
        is idempotent (deterministic ids, ``op_type=create``, ``if_seq_no``). One node: no
        in-client retry; the callers back off themselves.
        """
        urls = split_urls(url) if isinstance(url, str) else [u.strip() for u in url if u.strip()]
        if not urls:
            raise InvalidInput("No Elasticsearch URL given. Set SOC_ES_URL to http(s)://host:port[,host:port…].")
        several = len(urls) > 1
        kwargs: dict[str, Any] = {
            "request_timeout": request_timeout,
            "max_retries": (len(urls) - 1 if several else 0) if max_retries is None else max_retries,
            "retry_on_timeout": several,
            "dead_node_backoff_factor": 1.0,
            "max_dead_node_backoff": 30.0,
            "http_compress": False,
        }
        if username:
            kwargs["basic_auth"] = (username, password or "")
        if api_key:
            kwargs["api_key"] = api_key
        if urls[0].startswith("https"):
            kwargs["verify_certs"] = verify_certs
            if ca_cert:
                kwargs["ca_certs"] = ca_cert
        display = redact_url(",".join(urls))
        try:
            client = Elasticsearch(urls, **kwargs)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"Invalid Elasticsearch URL {display!r}: {exc}. Set SOC_ES_URL to "
                               "http(s)://host:port (several nodes: comma-separated).") from exc
        return cls(client, display)

    @classmethod
    def connect(cls, settings: Any) -> Store:
        """From ``core.settings.Settings`` (typed loosely so ``core.es`` stays import-light)."""
        es = settings.es
        return cls.from_url(
            settings.es_urls,
            username=es.username,
            password=es.password.get_secret_value() if es.password else None,
            api_key=es.api_key.get_secret_value() if es.api_key else None,
            ca_cert=str(es.ca_cert) if es.ca_cert else None,
            verify_certs=es.verify_certs,
            request_timeout=es.request_timeout,
        )

    def close(self) -> None:
        self._client.close()

    def check(self) -> ClusterInfo:
        """Version check and basic health; raises ``Unavailable`` with advice when unusable."""
        # GET / lives in a module the minimal distribution lacks; the nodes API is core.
        with _translated(f"Connecting to Elasticsearch at {self.url}"):
            nodes = self._client.nodes.info(filter_path="nodes.*.version").body
            health = self._client.cluster.health().body
        versions = sorted({n.get("version", "?") for n in nodes.get("nodes", {}).values()})
        version = versions[0] if versions else "?"
        major = int(version.split(".")[0]) if version[:1].isdigit() else -1
        if major != SUPPORTED_MAJOR:
            raise Unavailable(
                f"Elasticsearch at {self.url} runs version {version}; this platform's client speaks "
                f"{SUPPORTED_MAJOR}.x. Use a {SUPPORTED_MAJOR}.x cluster or the managed node (unset SOC_ES_URL)."
            )
        return ClusterInfo(
            version=version,
            cluster_name=str(health.get("cluster_name", "")),
            status=str(health.get("status", "unknown")),
            nodes=int(health.get("number_of_nodes", 0)),
        )

    def ping(self) -> bool:
        try:
            self._client.cluster.health(timeout="5s")
            return True
        except Exception:
            return False

    def health(self) -> dict[str, Any]:
        with _translated("Cluster health"):
            return dict(self._client.cluster.health().body)

    def wait_for_status(self, status: str = "yellow", timeout: str = "30s", index: str | None = None) -> None:
        with _translated("Waiting for cluster health"):
            self._client.cluster.health(index=index, wait_for_status=status, timeout=timeout)  # type: ignore[arg-type]

    # -- indices and templates ---------------------------------------------------------------

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        with _translated(f"Index template {name}"):
            self._client.indices.put_index_template(name=name, **body)

    def ensure_index(self, name: str, *, mappings: Mapping[str, Any] | None = None,
                     settings: Mapping[str, Any] | None = None) -> bool:
        """Create the index if missing; returns True when created. Safe under races."""
        body_settings = index_settings(**(settings or {}))
        try:
            self._client.indices.create(index=name, mappings=dict(mappings or {}), settings=body_settings)
            return True
        except elasticsearch.BadRequestError as exc:
            if "resource_already_exists_exception" in str(exc):
                if mappings:
                    with _translated(f"Updating mapping of {name}"):
                        self._client.indices.put_mapping(index=name, **dict(mappings))
                return False
            raise translate(exc, f"Creating index {name}") from exc
        except elasticsearch.ApiError as exc:
            raise translate(exc, f"Creating index {name}") from exc
        except elasticsearch.TransportError as exc:
            raise translate(exc, f"Creating index {name}") from exc

    def index_exists(self, name: str) -> bool:
        with _translated(f"Checking index {name}"):
            return bool(self._client.indices.exists(index=name))

    def list_indices(self, pattern: str) -> list[str]:
        with _translated(f"Listing indices {pattern}"):
            rows: Any = self._client.cat.indices(index=pattern, format="json", expand_wildcards="open").body
        return sorted(str(r["index"]) for r in rows)

    def delete_indices(self, pattern: str) -> None:
        """Delete indices by name or pattern; missing ones are fine."""
        with _translated(f"Deleting indices {pattern}"):
            self._client.indices.delete(index=pattern, ignore_unavailable=True, allow_no_indices=True,
                                        expand_wildcards="all")

    def delete_index_templates(self, pattern: str) -> None:
        with _translated(f"Deleting templates {pattern}"):
            try:
                self._client.indices.delete_index_template(name=pattern)
            except elasticsearch.NotFoundError:
                pass

    def refresh(self, index: str) -> None:
        with _translated(f"Refreshing {index}"):
            self._client.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)

    def get_mapping(self, index: str) -> dict[str, Any]:
        with _translated(f"Reading mapping of {index}"):
            return dict(self._client.indices.get_mapping(index=index).body)

    # -- documents -------------------------------------------------------------------------

    def get(self, index: str, doc_id: str) -> dict[str, Any] | None:
        """The document with ``_seq_no``/``_primary_term`` for optimistic updates, or None."""
        try:
            resp = self._client.get(index=index, id=doc_id)
        except elasticsearch.NotFoundError:
            return None
        except (elasticsearch.ApiError, elasticsearch.TransportError) as exc:
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
        except elasticsearch.NotFoundError:
            return False
        except (elasticsearch.ApiError, elasticsearch.TransportError) as exc:
            raise translate(exc, f"Deleting {index}/{doc_id}") from exc

    # -- search ----------------------------------------------------------------------------

    def search(self, index: str, body: Mapping[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        params.setdefault("ignore_unavailable", True)
        params.setdefault("allow_no_indices", True)
        with _translated(f"Searching {index}"):
            return dict(self._client.search(index=index, body=dict(body or {}), **params).body)

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
            resp = self._client.msearch(body=payload)  # type: ignore[arg-type]
        return [dict(r) for r in resp.body["responses"]]

    def scan(self, index: str, query: Mapping[str, Any] | None = None, *, size: int = 1000,
             sort: list[Any] | None = None, source: Any = True) -> Iterator[dict[str, Any]]:
        """Every hit of a query, in a stable order, using a point in time and ``search_after``."""
        with _translated(f"Opening point in time on {index}"):
            try:
                pit = self._client.open_point_in_time(index=index, keep_alive="2m",
                                                      ignore_unavailable=True).body["id"]
            except elasticsearch.NotFoundError:
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
        for index, doc_id, source in docs:
            lines.append(b'{"create":{"_index":' + _dumps(index) + b',"_id":' + _dumps(doc_id) + b"}}")
            lines.append(_dumps(source))
            keys.append((index, doc_id))
        if not keys:
            return BulkResult()
        return self._bulk(b"\n".join(lines) + b"\n", keys, refresh)

    def bulk_create_raw(self, docs: Sequence[tuple[str, str, bytes]], *,
                        refresh: bool | str = False) -> BulkResult:
        """Like ``bulk_create`` with sources already serialised as JSON bytes (hot paths that
        keep events encoded, e.g. the collectors' spool), so nothing is decoded and re-encoded."""
        if not docs:
            return BulkResult()
        parts: list[bytes] = []
        keys: list[tuple[str, str]] = []
        for index, doc_id, source in docs:
            parts.append(b'{"create":{"_index":' + _dumps(index) + b',"_id":' + _dumps(doc_id) + b"}}\n")
            parts.append(source + b"\n")
            keys.append((index, doc_id))
        return self._bulk(b"".join(parts), keys, refresh)

    def bulk_index(self, docs: Iterable[tuple[str, str | None, Mapping[str, Any]]], *,
                   refresh: bool | str = False) -> BulkResult:
        """Write with ``op_type=index`` (overwrite): for platform state, never for events."""
        lines: list[bytes] = []
        keys: list[tuple[str, str]] = []
        for index, doc_id, source in docs:
            meta: dict[str, Any] = {"_index": index}
            if doc_id is not None:
                meta["_id"] = doc_id
            lines.append(_dumps({"index": meta}))
            lines.append(_dumps(source))
            keys.append((index, doc_id or ""))
        if not keys:
            return BulkResult()
        return self._bulk(b"\n".join(lines) + b"\n", keys, refresh)

    def bulk_update(self, docs: Iterable[tuple[str, str, Mapping[str, Any]]], *,
                    refresh: bool | str = False) -> BulkResult:
        """Partial updates ``(index, id, fields)`` of existing documents (missing ones are rejected)."""
        lines: list[bytes] = []
        keys: list[tuple[str, str]] = []
        for index, doc_id, partial in docs:
            lines.append(b'{"update":{"_index":' + _dumps(index) + b',"_id":' + _dumps(doc_id) + b"}}")
            lines.append(_dumps({"doc": partial}))
            keys.append((index, doc_id))
        if not keys:
            return BulkResult()
        return self._bulk(b"\n".join(lines) + b"\n", keys, refresh)

    def _bulk(self, payload: bytes, keys: list[tuple[str, str]], refresh: bool | str) -> BulkResult:
        with _translated(f"Bulk write of {len(keys)} documents"):
            resp = self._client.bulk(body=payload, refresh=refresh)  # type: ignore[arg-type]
        body = resp.body
        result = BulkResult()
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

    # -- snapshots (backup orchestrator) -----------------------------------------------------

    def request(self, method: str, path: str, body: Any = None,
                params: Mapping[str, Any] | None = None) -> Any:
        """Escape hatch for server-core APIs without a wrapper method (snapshots, tasks)."""
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        with _translated(f"{method} {path}"):
            resp = self._client.perform_request(method, path, headers=headers, body=body,
                                                params=dict(params or {}))
        return resp.body
