"""Connection, version check and error translation: the client and its exceptions stay here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import elasticsearch
import orjson
from elasticsearch import Elasticsearch

from core import scope as scoping
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, SocError, Unavailable
from core.urls import redact_url, split_urls

SUPPORTED_MAJOR = 8

# Re-exported for the sibling modules, which import their elasticsearch names from here.
ApiError = elasticsearch.ApiError
BadRequestError = elasticsearch.BadRequestError
NotFoundError = elasticsearch.NotFoundError
TransportError = elasticsearch.TransportError


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


class EsSection(Protocol):
    """What ``connect`` reads of ``core.settings.EsSettings``."""

    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> _Secret | None: ...
    @property
    def api_key(self) -> _Secret | None: ...
    @property
    def ca_cert(self) -> Path | None: ...
    @property
    def verify_certs(self) -> bool: ...
    @property
    def request_timeout(self) -> float: ...


class ConnectSettings(Protocol):
    """What ``connect`` reads of ``core.settings.Settings`` (a protocol, so ``core.es`` does not
    import the settings module)."""

    @property
    def es(self) -> EsSection: ...
    @property
    def es_urls(self) -> list[str]: ...

@dataclass(frozen=True)
class ClusterInfo:
    version: str
    cluster_name: str
    status: str
    nodes: int


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


_METADATA_PATHS = ("/_cluster/health", "/_nodes", "/_snapshot", "/_alias", "/_cat/")


def _restricted() -> bool:
    current = scoping.current()
    return current is not None and current.restricted


def district_only(what: str) -> None:
    """Refuse cluster-wide changes (index deletion, aliases, rollover) to a department caller."""
    if _restricted():
        raise PermissionDenied(f"{what} is for district operators only.")


class Connection:
    """A connection to one cluster; the other parts of ``Store`` build on ``self._client``."""

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
    ) -> Self:
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
    def connect(cls, settings: ConnectSettings) -> Self:
        """From ``core.settings.Settings``."""
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
            self._client.cluster.health(index=index, wait_for_status=status, timeout=timeout)

    # -- snapshots (backup orchestrator) -----------------------------------------------------

    def request(self, method: str, path: str, body: Any = None,
                params: Mapping[str, Any] | None = None) -> Any:
        """Escape hatch for server-core APIs without a wrapper method (snapshots, tasks).

        Inside a department scope only cluster metadata may be read this way: documents are read
        through the methods that apply the scope, never around them."""
        if _restricted():
            allowed = method == "GET" and path.startswith(_METADATA_PATHS)
            existence = (method == "POST" and path.endswith("/_mget")
                         and str((params or {}).get("_source", "")).lower() == "false")
            if not (allowed or existence):
                raise PermissionDenied(f"{method} {path} is for district operators only.")
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        with _translated(f"{method} {path}"):
            resp = self._client.perform_request(method, path, headers=headers, body=body,
                                                params=dict(params or {}))
        return resp.body
