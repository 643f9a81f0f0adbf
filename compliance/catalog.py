"""Catalogs are YAML files: one framework (or one level of it) per file.

A second framework (an ISO 27001 or CIS mapping) is added by dropping another file in the
catalog directory; its items may name ``maps_to`` (results of other items count for them) or
``checks`` (check ids whose results count for them), so no code is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from compliance.models import METHODS, RISKS, Catalog, Family, Item, Text
from core import yamlio
from core.errors import InvalidInput, NotFound
from core.settings import Settings

_CATALOG_KEYS = {"id", "framework", "title", "level", "test_ids", "version", "notes"}
_ITEM_KEYS = {"id", "family", "control_point", "requirement", "summary", "method", "risk", "maps_to", "checks"}


def builtin_dir() -> Path:
    return Path(str(resources.files("compliance").joinpath("catalogs")))


def _text(value: Any, where: str) -> Text:
    if isinstance(value, str):
        return Text(value, value)
    if isinstance(value, dict) and isinstance(value.get("zh-CN", value.get("en")), str):
        zh = str(value.get("zh-CN") or value.get("en"))
        return Text(zh, str(value.get("en") or zh))
    raise InvalidInput(f"{where}: expected text or a mapping with zh-CN/en.")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{where}: expected a list of strings.")
    return tuple(value)


def parse_catalog(data: Any, source: str) -> Catalog:
    if not isinstance(data, dict) or not isinstance(data.get("catalog"), dict):
        raise InvalidInput(f"{source}: a catalog file starts with a `catalog:` mapping (id, framework, title).")
    head = data["catalog"]
    unknown = set(head) - _CATALOG_KEYS
    if unknown:
        raise InvalidInput(f"{source}: unknown catalog keys {sorted(unknown)}.")
    cid = head.get("id")
    if not isinstance(cid, str) or not cid:
        raise InvalidInput(f"{source}: catalog.id must be a non-empty string.")
    level = head.get("level")
    if level is not None and not isinstance(level, int):
        raise InvalidInput(f"{source}: catalog.level must be an integer.")
    families: list[Family] = []
    for n, fam in enumerate(data.get("families") or []):
        where = f"{source}: families[{n}]"
        if not isinstance(fam, dict) or not isinstance(fam.get("code"), str):
            raise InvalidInput(f"{where}: needs a code.")
        families.append(Family(fam["code"], _text(fam.get("name"), f"{where}.name"),
                               str(fam.get("category", "technical"))))
    codes = {f.code for f in families}
    if not codes:
        raise InvalidInput(f"{source}: a catalog needs at least one family.")
    items: list[Item] = []
    seen: set[str] = set()
    for n, raw in enumerate(data.get("items") or []):
        where = f"{source}: items[{n}]"
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where}: must be a mapping.")
        unknown = set(raw) - _ITEM_KEYS
        if unknown:
            raise InvalidInput(f"{where}: unknown keys {sorted(unknown)}.")
        iid = raw.get("id")
        if not isinstance(iid, str) or not iid:
            raise InvalidInput(f"{where}: id must be a string (quote numeric-looking ids).")
        if iid in seen:
            raise InvalidInput(f"{where}: duplicate item id {iid}.")
        seen.add(iid)
        if raw.get("family") not in codes:
            raise InvalidInput(f"{where} ({iid}): family {raw.get('family')!r} is not declared under families.")
        method = raw.get("method", "manual")
        if method not in METHODS:
            raise InvalidInput(f"{where} ({iid}): method must be one of {', '.join(METHODS)}.")
        risk = raw.get("risk", "medium")
        if risk not in RISKS:
            raise InvalidInput(f"{where} ({iid}): risk must be one of {', '.join(RISKS)}.")
        items.append(Item(
            id=iid, family=raw["family"], control_point=_text(raw.get("control_point", ""), f"{where}.control_point"),
            requirement=str(raw.get("requirement", "")), summary=str(raw.get("summary", "")), method=method,
            risk=risk, maps_to=_strings(raw.get("maps_to"), f"{where}.maps_to"),
            checks=_strings(raw.get("checks"), f"{where}.checks")))
    if not items:
        raise InvalidInput(f"{source}: a catalog needs at least one item.")
    return Catalog(id=cid, framework=str(head.get("framework", cid)), title=_text(head.get("title", cid), source),
                   level=level, families=tuple(families), items=tuple(items), source=source)


def load_catalogs(directories: list[Path], loader: Callable[[Path], Any] = yamlio.load_file) -> dict[str, Catalog]:
    """Every ``*.yaml``/``*.yml`` catalog in the directories, by id; later directories override."""
    found: dict[str, Catalog] = {}
    for directory in directories:
        if not directory.is_dir():
            raise InvalidInput(f"Catalog directory {directory} does not exist; fix compliance.catalog_dir.")
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            cat = parse_catalog(loader(path), str(path))
            found[cat.id] = cat
    return found


def catalog_dirs(settings: Settings) -> list[Path]:
    dirs = [builtin_dir()]
    extra = getattr(settings.compliance, "catalog_dir", None)
    if extra:
        dirs.append(Path(extra))
    return dirs


def pick(catalogs: dict[str, Catalog], *, level: int | None = None, catalog_id: str | None = None) -> Catalog:
    if catalog_id:
        if catalog_id not in catalogs:
            raise NotFound(f"No catalog {catalog_id!r}; available: {', '.join(sorted(catalogs))}.")
        return catalogs[catalog_id]
    wanted = f"mlps-2.0-l{level or 3}"
    if wanted not in catalogs:
        raise NotFound(f"No catalog for level {level}; available: {', '.join(sorted(catalogs))}.")
    return catalogs[wanted]
