"""定级对象 (graded systems): each department registers the systems it runs, their MLPS level
and the hosts (compliance targets) that make them up. Runs, scores and reports are per system.

Documents live in ``<prefix>-compliance-systems`` and carry ``organization.id``, so the store's
department scope decides who sees and changes them; this module never filters by department
itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from compliance.targets import parse_target
from core import scope as scoping
from core.auditing import Actor, Auditor
from core.departments import Departments
from core.errors import Conflict, InvalidInput, NotFound
from core.es import Store
from core.i18n import t
from core.orgmap import ORG_ID_PATTERN
from core.permissions import requires
from core.scope import DISTRICT, Scope, organization_of
from core.settings import Settings
from core.timeutil import iso, utcnow

T = TypeVar("T")
ID_PATTERN = r"[a-z0-9][a-z0-9_\-]{0,62}"
MAX_HOSTS = 200
_FIELDS = {"id", "name", "name_en", "level", "hosts", "organization", "description", "contact"}
_KW = {"type": "keyword"}

SYSTEMS_MAPPING = {"dynamic": False, "properties": {
    "id": _KW, "name": {"properties": {"zh": _KW, "en": _KW}}, "level": {"type": "integer"}, "hosts": _KW,
    "organization": {"properties": {"id": _KW}}, "description": {"type": "text"}, "contact": _KW,
    "created_at": {"type": "date"}, "updated_at": {"type": "date"}, "actor": _KW}}


def index_name(settings: Settings) -> str:
    return settings.index("compliance-systems")


# -- validation ------------------------------------------------------------------------------------

def _text(value: Any, where: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or "\0" in value:
        raise InvalidInput(f"{where}: expected text of at most {limit} characters.")
    return value.strip()


def _name(data: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, str]:
    """``name`` as one string (both languages) or ``{zh, en}``; ``name_en`` sets the English one."""
    raw = data.get("name", previous.get("name") if previous else None)
    if isinstance(raw, Mapping):
        unknown = sorted(str(k) for k in raw if k not in ("zh", "en", "zh-CN"))
        if unknown:
            raise InvalidInput(f"name: unknown language(s) {', '.join(unknown)}; use zh and en.")
        zh = _text(raw.get("zh") or raw.get("zh-CN"), "name.zh", 200)
        en = _text(raw.get("en"), "name.en", 200)
    else:
        zh = en = _text(raw, "name", 200)
    if "name_en" in data:
        en = _text(data["name_en"], "name_en", 200)
    if not (zh or en):
        raise InvalidInput("name: give the system's name (定级对象名称), e.g. name: 学籍管理系统.")
    return {"zh": zh or en, "en": en or zh}


def _level(value: Any) -> int:
    if isinstance(value, bool) or value not in (2, 3, "2", "3"):
        raise InvalidInput(f"level: a graded system is MLPS level 2 or 3, got {value!r}.")
    return int(value)


def _hosts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInput("hosts: a list of targets (local, root:/path, ssh://user@host[:port]).")
    if len(value) > MAX_HOSTS:
        raise InvalidInput(f"hosts: at most {MAX_HOSTS} targets per system; split it into several systems.")
    out: list[str] = []
    for host in (v.strip() for v in value):
        parse_target(host)  # refuses an unknown kind with the accepted forms
        if host not in out:
            out.append(host)
    return out


def organization_id(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(ORG_ID_PATTERN, value):
        raise InvalidInput(f"organization: a department id such as jiaowei or {DISTRICT}, got {value!r}.")
    return value


def parse_system(data: Any, *, previous: Mapping[str, Any] | None = None, default_org: str = DISTRICT) -> dict[str, Any]:
    """A registration (or, with ``previous``, a change) validated into the stored document."""
    if not isinstance(data, Mapping):
        raise InvalidInput("A graded system is an object with id, name, level and hosts.")
    unknown = sorted(str(k) for k in data if k not in _FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}.")
    if previous is not None:
        if "id" in data and data["id"] != previous["id"]:
            raise InvalidInput("id: a system's id cannot change; register a new system instead.")
        system_id = str(previous["id"])
    else:
        raw_id = data.get("id")
        if not isinstance(raw_id, str) or not re.fullmatch(ID_PATTERN, raw_id):
            raise InvalidInput(f"id {raw_id!r} is invalid: lowercase letters, digits, '-' and '_' (max 63).")
        system_id = raw_id
    if previous is None and "level" not in data:
        raise InvalidInput("level: say whether the system is graded level 2 or 3 (第二级/第三级).")
    org = data.get("organization", organization_of(previous) if previous else default_org)
    return {
        "id": system_id,
        "name": _name(data, previous),
        "level": _level(data["level"]) if "level" in data else int(previous["level"]),  # type: ignore[index]
        "hosts": _hosts(data["hosts"]) if "hosts" in data else list((previous or {}).get("hosts") or []),
        "organization": {"id": organization_id(org or DISTRICT)},
        "description": _text(data.get("description", (previous or {}).get("description")), "description", 2000),
        "contact": _text(data.get("contact", (previous or {}).get("contact")), "contact", 200),
    }


# -- storage ---------------------------------------------------------------------------------------

class SystemIndex:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.index = index_name(settings)

    def ensure(self) -> None:
        self.store.ensure_index(self.index, mappings=SYSTEMS_MAPPING)

    def get(self, system_id: str) -> dict[str, Any]:
        """The system as the caller may see it (another department's is not found)."""
        doc = self.store.get(self.index, system_id) if self.store.index_exists(self.index) else None
        if doc is None:
            raise NotFound(f"No graded system {system_id!r}; list them with `soc compliance systems list`.")
        return dict(doc["_source"])

    def all(self, organization: str | None = None) -> list[dict[str, Any]]:
        if not self.store.index_exists(self.index):
            return []
        query: dict[str, Any] = {"term": {"organization.id": organization}} if organization else {"match_all": {}}
        resp = self.store.search(self.index, {"size": 10000, "query": query,
                                              "sort": [{"organization.id": "asc"}, {"id": "asc"}]})
        return [dict(h["_source"]) for h in resp["hits"]["hits"]]


def department_names(store: Store, settings: Settings) -> dict[str, dict[str, str]]:
    """Department id -> ``{zh, en}`` names from the department list (platform metadata)."""
    names = {DISTRICT: {"zh": t("compliance.systems.district", "zh-CN"), "en": t("compliance.systems.district", "en")}}
    index = settings.index("departments")
    if not store.index_exists(index):
        return names
    for hit in store.search(index, {"size": 10000})["hits"]["hits"]:
        doc = hit["_source"]
        if doc.get("id") and doc["id"] != DISTRICT:
            names[str(doc["id"])] = {"zh": str(doc.get("name_zh") or doc["id"]), "en": str(doc.get("name_en") or doc["id"])}
    return names


def for_run(store: Store, settings: Settings, system_id: str | None, level: int | None,
            catalog_id: str | None, targets: list[str] | None) -> dict[str, Any] | None:
    """The system a run assesses (as the caller may see it); its level and hosts decide, so a
    run that names another level, a catalog or targets as well is refused."""
    if not system_id:
        return None
    system = SystemIndex(store, settings).get(system_id)
    if catalog_id or (level and level != system["level"]):
        raise InvalidInput(f"System {system_id} is graded level {system['level']}, which picks its catalog; "
                           "leave out level and catalog.")
    if targets:
        raise InvalidInput(f"System {system_id}'s hosts are its targets; change them on the system "
                           "(`soc compliance systems add --update` or PATCH /compliance/systems/{id}).")
    return system


def platform_scope(store: Store, settings: Settings, system: Mapping[str, Any] | None) -> Scope | None:
    """Whose data a run's platform checks read: a department's system, its department's (whoever
    starts the run, so scheduled and department runs agree and no other department's events end up
    in its evidence); otherwise the caller's own scope."""
    org = organization_of(system) if system is not None else None
    if org is None or org == DISTRICT:
        return scoping.current()
    return Scope(organizations=Departments(settings, store).descendants(org), home=org)


def in_scope(scope: Scope | None, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` acting with ``scope`` (for a worker thread, which starts without one)."""
    with scoping.acting(scope):
        return fn(*args)


def tagged(run: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    """A result document as stored: with its run's department and graded system, and the digests
    of the files uploaded as its evidence (so a download is allowed only to who sees the result)."""
    out: dict[str, Any] = {**doc, "organization": {"id": organization_of(run) or DISTRICT}}
    if run.get("system"):
        out["system_id"] = run["system"]["id"]
    uploads = [e["sha256"] for e in doc.get("evidence") or ()
               if isinstance(e, Mapping) and str(e.get("source", "")).startswith("upload:") and e.get("sha256")]
    if uploads:
        out["evidence_sha256"] = uploads
    return out


def _known_department(store: Store, settings: Settings, org: str) -> None:
    """Refuse a department the department list does not name (once there is a list)."""
    if not store.index_exists(settings.index("departments")):
        return
    names = department_names(store, settings)
    if org not in names:
        raise InvalidInput(f"organization: no department {org!r}; known: {', '.join(sorted(names))}.")


# -- operations ------------------------------------------------------------------------------------

def _home(actor: Actor) -> str:
    return actor.organization or DISTRICT


@requires("compliance.read")
def list_systems(store: Store, settings: Settings, actor: Actor, *,
                 organization: str | None = None) -> list[dict[str, Any]]:
    return SystemIndex(store, settings).all(organization_id(organization) if organization else None)


@requires("compliance.read")
def get_system(store: Store, settings: Settings, actor: Actor, system_id: str) -> dict[str, Any]:
    return SystemIndex(store, settings).get(system_id)


@requires("compliance.systems")
def register_system(store: Store, settings: Settings, auditor: Auditor, actor: Actor,
                    data: Mapping[str, Any]) -> dict[str, Any]:
    doc = parse_system(data, default_org=_home(actor))
    _known_department(store, settings, doc["organization"]["id"])
    now = iso(utcnow())
    doc.update(created_at=now, updated_at=now, actor=actor.name)
    idx = SystemIndex(store, settings)
    idx.ensure()
    try:
        # create: an id taken by another department is refused, never overwritten.
        store.put(idx.index, doc["id"], doc, create=True, refresh=True)
    except Conflict as exc:
        raise Conflict(f"A graded system with id {doc['id']!r} already exists; choose another id.") from exc
    auditor.record(actor, "compliance.systems.register", f"system:{doc['id']}", "success",
                   {"level": doc["level"], "organization": doc["organization"]["id"], "hosts": len(doc["hosts"])})
    return doc


@requires("compliance.systems")
def update_system(store: Store, settings: Settings, auditor: Auditor, actor: Actor, system_id: str,
                  changes: Mapping[str, Any]) -> dict[str, Any]:
    idx = SystemIndex(store, settings)
    previous = idx.get(system_id)
    doc = parse_system(changes, previous=previous)
    if doc["organization"] != previous.get("organization"):
        _known_department(store, settings, doc["organization"]["id"])
    doc.update(created_at=previous.get("created_at"), updated_at=iso(utcnow()), actor=actor.name)
    store.put(idx.index, system_id, doc, refresh=True)
    changed = sorted(k for k in ("name", "level", "hosts", "organization", "description", "contact")
                     if doc.get(k) != previous.get(k))
    auditor.record(actor, "compliance.systems.update", f"system:{system_id}", "success", {"changed": changed})
    return doc


@requires("compliance.systems")
def remove_system(store: Store, settings: Settings, auditor: Auditor, actor: Actor, system_id: str) -> dict[str, Any]:
    """The registration goes; the system's runs and reports stay (they name it by id)."""
    idx = SystemIndex(store, settings)
    doc = idx.get(system_id)
    store.delete(idx.index, system_id, refresh=True)
    auditor.record(actor, "compliance.systems.remove", f"system:{system_id}", "success",
                   {"organization": doc["organization"]["id"]})
    return doc
