"""Index administration: templates, indices, mappings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.es._base import (
    ApiError,
    BadRequestError,
    Connection,
    NotFoundError,
    TransportError,
    _translated,
    district_only,
    translate,
)
from core.replicas import index_settings
from core.scope import is_scoped_index, with_organization


class IndexAdmin(Connection):
    # -- indices and templates ---------------------------------------------------------------

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        with _translated(f"Index template {name}"):
            self._client.indices.put_index_template(name=name, **body)

    def ensure_index(self, name: str, *, mappings: Mapping[str, Any] | None = None,
                     settings: Mapping[str, Any] | None = None) -> bool:
        """Create the index if missing; returns True when created. Safe under races.

        Every scoped index (``core.scope``) gets ``organization.id`` as a keyword, also when its
        mapping is otherwise closed (``dynamic: false``): the department filter must match."""
        body_settings = index_settings(**(settings or {}))
        if mappings is not None and is_scoped_index(name):
            mappings = with_organization(mappings)
        try:
            self._client.indices.create(index=name, mappings=dict(mappings or {}), settings=body_settings)
            return True
        except BadRequestError as exc:
            if "resource_already_exists_exception" in str(exc):
                if mappings:
                    with _translated(f"Updating mapping of {name}"):
                        self._client.indices.put_mapping(index=name, **dict(mappings))
                return False
            raise translate(exc, f"Creating index {name}") from exc
        except ApiError as exc:
            raise translate(exc, f"Creating index {name}") from exc
        except TransportError as exc:
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
        district_only(f"Deleting indices {pattern}")
        with _translated(f"Deleting indices {pattern}"):
            self._client.indices.delete(index=pattern, ignore_unavailable=True, allow_no_indices=True,
                                        expand_wildcards="all")

    def delete_index_templates(self, pattern: str) -> None:
        district_only(f"Deleting templates {pattern}")
        with _translated(f"Deleting templates {pattern}"):
            try:
                self._client.indices.delete_index_template(name=pattern)
            except NotFoundError:
                pass

    def refresh(self, index: str) -> None:
        with _translated(f"Refreshing {index}"):
            self._client.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)

    def get_mapping(self, index: str) -> dict[str, Any]:
        with _translated(f"Reading mapping of {index}"):
            return dict(self._client.indices.get_mapping(index=index).body)


    # -- aliases, rollover, shard usage --------------------------------------------------------

    def create_index(self, name: str, *, aliases: Mapping[str, Any] | None = None) -> bool:
        """Create ``name`` from the matching index templates; False if it already exists."""
        try:
            self._client.indices.create(index=name, aliases=dict(aliases) if aliases else None)
            return True
        except BadRequestError as exc:
            if "resource_already_exists_exception" in str(exc):
                return False
            raise translate(exc, f"Creating index {name}") from exc
        except (ApiError, TransportError) as exc:
            raise translate(exc, f"Creating index {name}") from exc

    def aliases(self, pattern: str) -> dict[str, dict[str, bool]]:
        """``{alias: {index: is_write_index}}`` for aliases matching ``pattern``."""
        try:
            body = self._client.indices.get_alias(name=pattern, expand_wildcards="open").body
        except NotFoundError:
            return {}
        except (ApiError, TransportError) as exc:
            raise translate(exc, f"Reading aliases {pattern}") from exc
        out: dict[str, dict[str, bool]] = {}
        for index, entry in body.items():
            for alias, meta in (entry.get("aliases") or {}).items():
                out.setdefault(alias, {})[index] = bool((meta or {}).get("is_write_index"))
        return out

    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        district_only("Updating aliases")
        with _translated("Updating aliases"):
            self._client.indices.update_aliases(actions=actions)

    def rollover(self, alias: str, conditions: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Server-core ``_rollover`` of a write alias; ``rolled_over`` says whether it happened."""
        district_only(f"Rolling over {alias}")
        with _translated(f"Rolling over {alias}"):
            return dict(self._client.indices.rollover(alias=alias, conditions=dict(conditions) if conditions else None).body)

    def shard_limits(self) -> tuple[int, int, int]:
        """``(shards in use incl. unassigned, max_shards_per_node, data nodes)``."""
        with _translated("Reading the cluster's shard limits"):
            health = self._client.cluster.health().body
            sets = self._client.cluster.get_settings(include_defaults=True, flat_settings=True).body
        per_node = 1000
        for scope in ("transient", "persistent", "defaults"):
            value = (sets.get(scope) or {}).get("cluster.max_shards_per_node")
            if value is not None:
                per_node = int(value)
                break
        used = sum(int(health.get(k) or 0) for k in ("active_shards", "initializing_shards", "unassigned_shards"))
        return used, per_node, max(1, int(health.get("number_of_data_nodes") or 1))
