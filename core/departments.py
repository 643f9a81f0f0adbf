"""Departments (部门): the tree of organisations whose data the platform keeps apart.

Every document carries ECS ``organization.id``, one of these ids. The root ``district``
(全区 / District) is always present and sees everything; every other department has a parent,
so a department's scope is its own id plus its sub-departments (``descendants``).

Departments are platform metadata in ``<prefix>-departments`` (an unscoped index): any caller may
read the tree, only an administrator of the district may change it. Seeds from the settings
(``org.departments``) are created on first use and never overwrite what was changed since.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core import scope as scoping
from core.auditing import Actor, Auditor
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.es import Store
from core.permissions import requires
from core.settings import DEPARTMENT_ID, Settings

DISTRICT = scoping.DISTRICT
# A department tree changes rarely; each API request asks for a subtree, so the tree is read at
# most this often per process (and at once after a change made by this process).
CACHE_SECONDS = 5.0

MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"id": {"type": "keyword"}, "name_zh": {"type": "keyword"}, "name_en": {"type": "keyword"},
                   "parent": {"type": "keyword"}, "created": {"type": "date"}},
}


@dataclass(frozen=True)
class Department:
    id: str
    name_zh: str
    name_en: str
    parent: str | None = DISTRICT

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "name_zh": self.name_zh, "name_en": self.name_en, "parent": self.parent}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Department:
        return cls(id=str(doc["id"]), name_zh=str(doc.get("name_zh") or doc["id"]),
                   name_en=str(doc.get("name_en") or doc["id"]), parent=doc.get("parent") or DISTRICT)


ROOT = Department(id=DISTRICT, name_zh="全区", name_en="District", parent=None)


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", detail=[{"field": field, "message": message}])


def check_id(dept_id: str, field: str = "id") -> str:
    value = (dept_id or "").strip()
    if not DEPARTMENT_ID.match(value):
        raise _field_error(field, "a department id is a lowercase slug of 2-40 characters: a letter first, then "
                                  "letters, digits, '-' or '_' (e.g. jiaowei)")
    return value


def _check_name(value: str | None, field: str) -> str:
    text = (value or "").strip()
    if not text or len(text) > 100 or any(ord(c) < 32 for c in text):
        raise _field_error(field, "give a name of 1-100 printable characters")
    return text


class Departments:
    """The department tree over ``<prefix>-departments``, with the root always present."""

    def __init__(self, settings: Settings, store: Store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.store = store
        self.index = settings.index("departments")
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: tuple[float, dict[str, Department]] | None = None
        self._ready = False

    # -- storage ----------------------------------------------------------------------------

    def _ensure(self) -> None:
        if self._ready:
            return
        self.store.ensure_index(self.index, mappings=MAPPING)
        for seed in self.settings.org.departments:
            dept = Department(id=check_id(seed.id), name_zh=_check_name(seed.name_zh, "name_zh"),
                              name_en=_check_name(seed.name_en, "name_en"), parent=seed.parent or DISTRICT)
            try:
                self.store.put(self.index, dept.id, dept.to_doc(), create=True)
            except Conflict:
                pass  # changed (or seeded) before: what is stored wins
        self.store.refresh(self.index)
        self._ready = True

    def _load(self) -> dict[str, Department]:
        self._ensure()
        resp = self.store.search(self.index, {"size": 10_000, "sort": [{"id": "asc"}]})
        found = {DISTRICT: ROOT}
        for hit in resp["hits"]["hits"]:
            dept = Department.from_doc(hit["_source"])
            if dept.id != DISTRICT:
                found[dept.id] = dept
        return found

    def tree(self) -> dict[str, Department]:
        with self._lock:
            now = self.clock()
            if self._cache is None or now - self._cache[0] > CACHE_SECONDS:
                self._cache = (now, self._load())
            return self._cache[1]

    def invalidate(self) -> None:
        with self._lock:
            self._cache = None

    # -- queries ----------------------------------------------------------------------------

    def all(self) -> list[Department]:
        tree = self.tree()
        return [tree[DISTRICT], *sorted((d for d in tree.values() if d.id != DISTRICT), key=lambda d: d.id)]

    def get(self, dept_id: str) -> Department | None:
        return self.tree().get(dept_id)

    def require(self, dept_id: str) -> Department:
        dept = self.get(dept_id)
        if dept is None:
            raise NotFound(f"No department {dept_id!r}; list them with `soc departments list` or "
                           "GET /api/v1/departments.")
        return dept

    def exists(self, dept_id: str) -> bool:
        return dept_id in self.tree()

    def descendants(self, dept_id: str) -> frozenset[str]:
        """The department and everything under it (an unknown id: itself only, which holds nothing)."""
        tree = self.tree()
        children: dict[str, list[str]] = {}
        for dept in tree.values():
            if dept.parent is not None:
                children.setdefault(dept.parent, []).append(dept.id)
        out: set[str] = set()
        todo = [dept_id]
        while todo:
            current = todo.pop()
            if current in out:
                continue
            out.add(current)
            todo.extend(children.get(current, ()))
        return frozenset(out)

    def in_subtree(self, root: str | None) -> list[Department]:
        if root is None or root == DISTRICT:
            return self.all()
        ids = self.descendants(root)
        return [d for d in self.all() if d.id in ids]

    # -- changes ----------------------------------------------------------------------------

    def _check_parent(self, dept_id: str, parent: str | None) -> str:
        parent_id = check_id(parent or DISTRICT, "parent")
        if not self.exists(parent_id):
            raise _field_error("parent", f"no department {parent_id!r}; create the parent first")
        if parent_id in self.descendants(dept_id):
            raise _field_error("parent", f"{parent_id!r} is {dept_id!r} itself or under it: that would make a cycle")
        return parent_id

    def create(self, dept_id: str, name_zh: str, name_en: str, parent: str | None = DISTRICT) -> Department:
        dept_id = check_id(dept_id)
        zh, en = _check_name(name_zh, "name_zh"), _check_name(name_en, "name_en")
        if self.exists(dept_id):
            raise Conflict(f"Department {dept_id!r} already exists; change it with PATCH or `soc departments set`.")
        dept = Department(id=dept_id, name_zh=zh, name_en=en, parent=self._check_parent(dept_id, parent))
        try:
            self.store.put(self.index, dept_id, dept.to_doc(), create=True, refresh="wait_for")
        except Conflict as exc:
            raise Conflict(f"Department {dept_id!r} already exists.") from exc
        finally:
            self.invalidate()
        return dept

    def update(self, dept_id: str, *, name_zh: str | None = None, name_en: str | None = None,
               parent: str | None = None) -> Department:
        if dept_id == DISTRICT:
            raise InvalidInput("The district is the root of the tree: it has no parent and keeps its names.")
        current = self.require(dept_id)
        changed = Department(
            id=current.id,
            name_zh=_check_name(name_zh, "name_zh") if name_zh is not None else current.name_zh,
            name_en=_check_name(name_en, "name_en") if name_en is not None else current.name_en,
            parent=self._check_parent(dept_id, parent) if parent is not None else current.parent)
        self._ensure()
        try:
            self.store.put(self.index, dept_id, changed.to_doc(), refresh="wait_for")
        finally:
            self.invalidate()
        return changed


# -- service functions (API and CLI) --------------------------------------------------------------

def public(dept: Department) -> dict[str, Any]:
    return dept.to_doc()


def list_departments(repo: Departments, organization: str | None) -> list[dict[str, Any]]:
    """Every department a caller of ``organization`` may see: its own subtree (all for the district)."""
    return [public(d) for d in repo.in_subtree(organization)]


def show_department(repo: Departments, dept_id: str, organization: str | None) -> dict[str, Any]:
    """One department with its sub-departments; one outside the caller's subtree does not exist for them."""
    if dept_id not in {d.id for d in repo.in_subtree(organization)}:
        raise NotFound(f"No department {dept_id!r}; list them with `soc departments list` or "
                       "GET /api/v1/departments.")
    dept = repo.require(dept_id)
    return {**public(dept), "sub_departments": sorted(repo.descendants(dept_id) - {dept_id})}


def _district_only(actor: Actor, what: str) -> None:
    current = scoping.current()
    if (current is not None and current.restricted) or (actor.organization or DISTRICT) != DISTRICT:
        raise PermissionDenied(f"{what}: only an administrator of the district changes the department tree; "
                               "a department administrator manages the users of their own department.")


@requires("departments.manage")
def create_department(repo: Departments, auditor: Auditor, dept_id: str, name_zh: str, name_en: str,
                      parent: str | None = None, *, actor: Actor) -> dict[str, Any]:
    _district_only(actor, "Creating a department")
    dept = repo.create(dept_id, name_zh, name_en, parent or DISTRICT)
    auditor.record(actor, "departments.create", dept.id, detail=dept.to_doc())
    return public(dept)


@requires("departments.manage")
def update_department(repo: Departments, auditor: Auditor, dept_id: str, *, actor: Actor,
                      name_zh: str | None = None, name_en: str | None = None,
                      parent: str | None = None) -> dict[str, Any]:
    _district_only(actor, "Changing a department")
    before = repo.require(dept_id)
    dept = repo.update(dept_id, name_zh=name_zh, name_en=name_en, parent=parent)
    auditor.record(actor, "departments.update", dept.id,
                   detail={"before": before.to_doc(), "after": dept.to_doc()})
    return public(dept)
