"""Checks are YAML (in the spirit of Wazuh SCA): rules combined with all/any/none, mapped to items."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from compliance.catalog import _strings, _text
from compliance.models import Check, Rule
from compliance.probes import RULE_TYPES
from core import yamlio
from core.errors import InvalidInput
from core.settings import Settings

PLATFORM_RULE = "platform"
_CHECK_KEYS = {"id", "title", "kind", "items", "condition", "rules", "remediation", "platforms"}


def builtin_dir() -> Path:
    return Path(str(resources.files("compliance").joinpath("checks")))


def _rule(raw: Any, where: str, kind: str) -> Rule:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise InvalidInput(f"{where}: a rule is a one-key mapping such as `file_kv: {{...}}`.")
    (rtype, params), = raw.items()
    allowed = (PLATFORM_RULE,) if kind == "platform" else RULE_TYPES
    if rtype not in allowed:
        raise InvalidInput(f"{where}: unknown rule type {rtype!r} for a {kind} check; use one of {', '.join(allowed)}.")
    if not isinstance(params, dict):
        raise InvalidInput(f"{where}: the parameters of {rtype} must be a mapping.")
    required = {"file_regex": ("pattern",), "file_kv": ("key",), "command": ("id", "run", "pattern"),
                "sysctl": ("key", "value"), "service": ("names",), "port": ("ports",), "package": ("names",),
                "accounts": ("property",), "file_age": ("paths", "max_age_days"), PLATFORM_RULE: ("probe",)}
    missing = [k for k in required.get(rtype, ()) if k not in params]
    if missing:
        raise InvalidInput(f"{where}: {rtype} needs {', '.join(missing)}.")
    for key in ("pattern",):
        if key in params:
            try:
                re.compile(str(params[key]))
            except re.error as exc:
                raise InvalidInput(f"{where}: {rtype}.{key} is not a valid regular expression ({exc}).") from exc
    if rtype == "command" and (not isinstance(params["run"], list) or not all(isinstance(a, str) for a in params["run"])):
        raise InvalidInput(f"{where}: command.run must be a list of strings (argv, no shell).")
    return Rule(rtype, dict(params))


def parse_checks(data: Any, source: str) -> list[Check]:
    if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
        raise InvalidInput(f"{source}: a check file is a mapping with a `checks:` list.")
    out: list[Check] = []
    for n, raw in enumerate(data["checks"]):
        where = f"{source}: checks[{n}]"
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where}: must be a mapping.")
        unknown = set(raw) - _CHECK_KEYS
        if unknown:
            raise InvalidInput(f"{where}: unknown keys {sorted(unknown)}.")
        cid = raw.get("id")
        if not isinstance(cid, str) or not cid:
            raise InvalidInput(f"{where}: id must be a non-empty string.")
        kind = raw.get("kind", "host")
        if kind not in ("host", "platform"):
            raise InvalidInput(f"{where} ({cid}): kind must be host or platform.")
        condition = raw.get("condition", "all")
        if condition not in ("all", "any", "none"):
            raise InvalidInput(f"{where} ({cid}): condition must be all, any or none.")
        rules = raw.get("rules")
        if not isinstance(rules, list) or not rules:
            raise InvalidInput(f"{where} ({cid}): needs at least one rule.")
        items = _strings(raw.get("items"), f"{where}.items")
        if not items:
            raise InvalidInput(f"{where} ({cid}): map the check to at least one catalog item.")
        if "remediation" not in raw:
            raise InvalidInput(f"{where} ({cid}): every check carries remediation advice.")
        out.append(Check(id=cid, title=_text(raw.get("title", cid), f"{where}.title"), kind=kind, items=items,
                         condition=condition,
                         rules=tuple(_rule(r, f"{where}.rules[{i}]", kind) for i, r in enumerate(rules)),
                         remediation=_text(raw["remediation"], f"{where}.remediation"),
                         platforms=_strings(raw.get("platforms"), f"{where}.platforms") or ("linux",),
                         source=source))
    return out


def load_checks(directories: list[Path], loader: Callable[[Path], Any] = yamlio.load_file) -> dict[str, Check]:
    found: dict[str, Check] = {}
    for directory in directories:
        if not directory.is_dir():
            raise InvalidInput(f"Check directory {directory} does not exist; fix compliance.checks_dir.")
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            for check in parse_checks(loader(path), str(path)):
                if check.id in found and found[check.id].source != check.source and directory == directories[0]:
                    raise InvalidInput(f"{path}: duplicate check id {check.id} (also in {found[check.id].source}).")
                found[check.id] = check
    return found


def check_dirs(settings: Settings) -> list[Path]:
    dirs = [builtin_dir()]
    extra = getattr(settings.compliance, "checks_dir", None)
    if extra:
        dirs.append(Path(extra))
    return dirs
