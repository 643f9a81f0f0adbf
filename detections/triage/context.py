"""What an analyst needs beside an alert: the rule behind it (title, description, references,
false positives, Sigma source, compiled query) and the ATT&CK names of its tags."""

from __future__ import annotations

from typing import Any

from core import yamlio
from core.errors import InvalidInput, SocError
from core.es import Store
from core.settings import Settings
from detections import attack
from detections import repository as repo


def rule_context(store: Store, settings: Settings, rule_id: str, tags: list[str]) -> dict[str, Any]:
    """The rule as stored (None fields when it was deleted since) and its ATT&CK names."""
    out: dict[str, Any] = {"attack": attack.resolve_tags(tags)}
    if not rule_id:
        out["rule"] = None
        return out
    try:
        doc = store.get(repo.rules_index(settings.index_prefix), rule_id)
    except SocError:
        doc = None
    if doc is None:
        out["rule"] = None
        return out
    src = doc["_source"]
    sigma: dict[str, Any] = {}
    try:
        parsed = yamlio.loads(src.get("sigma") or "")
        sigma = parsed if isinstance(parsed, dict) else {}
    except (InvalidInput, ValueError):
        sigma = {}
    out["rule"] = {
        "id": src.get("id"), "title": src.get("title"), "level": src.get("level"), "status": src.get("status"),
        "description": src.get("description") or sigma.get("description"), "author": sigma.get("author"),
        "references": list(sigma.get("references") or []), "falsepositives": list(sigma.get("falsepositives") or []),
        "logsource": src.get("logsource"), "kind": src.get("kind"), "sigma": src.get("sigma"),
        "query": src.get("query"), "correlation": src.get("correlation"), "enabled": src.get("enabled"),
    }
    return out
