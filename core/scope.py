"""Department scope (部门间共享信息安全): which organisations' documents a caller may read and write.

One enforcement point: ``core.es.Store`` consults ``current()`` on every read and write, so no
route or service can forget the scope. A request or CLI command runs inside ``acting(scope)``;
background jobs (scheduler, collectors, drills) run with no scope at all, which means
unrestricted — they write ``organization.id`` themselves from the data they handle.

- ``Scope.organizations`` ``None``: the district (sees everything); otherwise the department and
  its sub-departments. ``home`` is stamped on documents a caller writes without one.
- ``Scope.shared_ids``: documents another department shared with this caller (a case, its alerts
  and the events they cite) for a limited time; reads that return them call ``on_shared_access``
  so every access through a grant is audited.
- ``pending()``: a request whose caller is not yet known. Scoped indices are closed to it
  (fail-closed) until authentication replaces the cell's scope; identity look-ups run under
  ``system()``.

Indices that hold no department data (rules, sessions, API keys, shipper state, departments)
are listed in ``UNSCOPED_SUFFIXES``; every other index is scoped, so a new index is closed to
departments until it carries ``organization.id`` (fail-closed, not fail-open).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from core.errors import PermissionDenied

ORG_FIELD = "organization.id"
DISTRICT = "district"

# Index names (after the prefix) that hold platform metadata, not department data.
UNSCOPED_SUFFIXES: tuple[str, ...] = (
    "-rules", "-rules-state", "-rules-imports", "-rules-validation", "-sessions", "-apikeys",
    "-shippers", "-state", "-departments", "-notify-channels", "-ingest-watermarks",
)


@dataclass(frozen=True)
class Scope:
    organizations: frozenset[str] | None
    home: str = DISTRICT
    user: str | None = None
    shared_ids: frozenset[str] = frozenset()
    on_shared_access: Callable[[list[str]], None] | None = field(default=None, compare=False)

    @property
    def restricted(self) -> bool:
        return self.organizations is not None

    def allows(self, organization: str | None) -> bool:
        if self.organizations is None:
            return True
        return (organization or DISTRICT) in self.organizations

    def read_filter(self) -> dict[str, Any]:
        """The filter clause every search on a scoped index carries."""
        assert self.organizations is not None
        clauses: list[dict[str, Any]] = [{"terms": {ORG_FIELD: sorted(self.organizations)}}]
        if self.shared_ids:
            clauses.append({"ids": {"values": sorted(self.shared_ids)}})
        return {"bool": {"should": clauses, "minimum_should_match": 1}}


# A request's scope cell: set to pending by the middleware, filled in by authentication.
@dataclass
class _Cell:
    scope: Scope | None
    pending: bool = False


_CELL: ContextVar[_Cell | None] = ContextVar("qinglang_scope", default=None)
_NOTHING = Scope(organizations=frozenset(), home=DISTRICT)


def current() -> Scope | None:
    """The caller's scope; ``None`` = unrestricted (system jobs, the district, local operators)."""
    cell = _CELL.get()
    if cell is None:
        return None
    if cell.pending:
        return _NOTHING
    return cell.scope


def is_scoped_index(index: str) -> bool:
    """Every part of a comma-separated index expression that is not platform metadata."""
    parts = [p.strip() for p in index.split(",") if p.strip()]
    return any(not p.endswith(UNSCOPED_SUFFIXES) for p in parts) if parts else True


def active_for(index: str | None) -> Scope | None:
    """The restricting scope for a read or write on ``index`` (``None`` when unrestricted).
    ``index=None`` (a point-in-time search) is always scoped."""
    scope = current()
    if scope is None or not scope.restricted:
        return None
    if index is not None and not is_scoped_index(index):
        return None
    return scope


def with_organization(mappings: Mapping[str, Any]) -> dict[str, Any]:
    """``mappings`` with ``organization.id`` mapped as a keyword (unless mapped already)."""
    out = dict(mappings)
    props = dict(out.get("properties") or {})
    org = dict(props.get("organization") or {})
    org_props = dict(org.get("properties") or {})
    org_props.setdefault("id", {"type": "keyword"})
    org["properties"] = org_props
    props["organization"] = org
    out["properties"] = props
    return out


def filtered_query(query: Mapping[str, Any] | None, scope: Scope) -> dict[str, Any]:
    inner = dict(query) if query else {"match_all": {}}
    return {"bool": {"filter": [scope.read_filter()], "must": [inner]}}


def filtered_body(body: Mapping[str, Any] | None, scope: Scope) -> dict[str, Any]:
    """A search body whose query (and so its aggregations, hits and cursors) stays in scope.
    ``post_filter`` and ``knn`` are refused rather than trusted to be safe."""
    out = dict(body or {})
    for key in ("knn", "rank", "retriever"):
        if key in out:
            raise PermissionDenied(f"Search option {key!r} is not available inside a department scope.")
    out["query"] = filtered_query(out.get("query"), scope)
    return out


def organization_of(doc: Mapping[str, Any] | None) -> str | None:
    if not doc:
        return None
    org = doc.get("organization")
    if isinstance(org, Mapping):
        value = org.get("id")
        return str(value) if value is not None else None
    value = doc.get(ORG_FIELD)
    return str(value) if value is not None else None


def visible(doc_id: str, source: Mapping[str, Any] | None, scope: Scope) -> bool:
    """A document read by id: in scope, or shared with the caller. A document without
    ``organization.id`` is the district's (like the search filter, which never matches it)."""
    if doc_id in scope.shared_ids:
        return True
    org = organization_of(source)
    return org is not None and scope.allows(org)


def note_shared(hits: Sequence[Mapping[str, Any]], scope: Scope) -> None:
    """Report hits that only a share grant made visible (for the audit trail)."""
    if not scope.shared_ids or scope.on_shared_access is None:
        return
    via = [str(h.get("_id")) for h in hits
           if h.get("_id") in scope.shared_ids and not scope.allows(organization_of(h.get("_source")))]
    if via:
        scope.on_shared_access(via)


def stamp(doc: Mapping[str, Any], scope: Scope, what: str) -> dict[str, Any]:
    """A write's document with the caller's home organisation when it names none; refused when
    it names one outside the scope."""
    out = dict(doc)
    org = organization_of(out)
    if org is None:
        org_obj = dict(out.get("organization") or {}) if isinstance(out.get("organization"), Mapping) else {}
        org_obj["id"] = scope.home
        out["organization"] = org_obj
        return out
    if not scope.allows(org):
        raise PermissionDenied(f"{what}: organisation {org!r} is outside your department scope.")
    return out


@contextlib.contextmanager
def acting(scope: Scope | None) -> Iterator[None]:
    """Run the block as a caller with ``scope`` (``None``: unrestricted)."""
    token = _CELL.set(_Cell(scope=scope))
    try:
        yield
    finally:
        _CELL.reset(token)


@contextlib.contextmanager
def system() -> Iterator[None]:
    """Run the block unrestricted (identity look-ups, audit trail writes, share bookkeeping)."""
    with acting(None):
        yield


def open_request_cell() -> _Cell:
    """A fresh pending cell for one API request (the middleware calls this); authentication
    fills it with ``settle``. The cell object is shared by reference, so a scope settled in a
    dependency running in a worker thread is seen by the route that follows."""
    cell = _Cell(scope=None, pending=True)
    _CELL.set(cell)
    return cell


def settle(scope: Scope | None) -> None:
    """Fill the current request's cell with the authenticated caller's scope."""
    cell = _CELL.get()
    if cell is None:
        _CELL.set(_Cell(scope=scope))
        return
    cell.scope = scope
    cell.pending = False
