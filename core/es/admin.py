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
    translate,
)


class IndexAdmin(Connection):
    # -- indices and templates ---------------------------------------------------------------

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        with _translated(f"Index template {name}"):
            self._client.indices.put_index_template(name=name, **body)

    def ensure_index(self, name: str, *, mappings: Mapping[str, Any] | None = None,
                     settings: Mapping[str, Any] | None = None) -> bool:
        """Create the index if missing; returns True when created. Safe under races."""
        body_settings = {"number_of_shards": 1, "number_of_replicas": 0, **(settings or {})}
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
        with _translated(f"Deleting indices {pattern}"):
            self._client.indices.delete(index=pattern, ignore_unavailable=True, allow_no_indices=True,
                                        expand_wildcards="all")

    def delete_index_templates(self, pattern: str) -> None:
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

