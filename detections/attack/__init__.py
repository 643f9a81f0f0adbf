"""MITRE ATT&CK names for Sigma tags (``attack.t1110.001``, ``attack.credential-access``), from the
data vendored at a pinned version (``enterprise-attack.json``, see scripts/vendor_attack.py)."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.I)


@cache
def data() -> dict[str, Any]:
    text = resources.files("detections.attack").joinpath("enterprise-attack.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    loaded["by_short"] = {t["short"]: t for t in loaded["tactics"]}
    return loaded


def tactic(short_or_id: str) -> dict[str, Any] | None:
    key = short_or_id.strip().lower().replace("_", "-")
    d = data()
    if key in d["by_short"]:
        return dict(d["by_short"][key])
    return next((dict(t) for t in d["tactics"] if t["id"].lower() == key), None)


def technique(tid: str) -> dict[str, Any] | None:
    tid = tid.strip().upper()
    found = data()["techniques"].get(tid)
    if found is None:
        return None
    parent = tid.split(".")[0]
    out = {"id": tid, "name": found["name"], "tactics": list(found["tactics"])}
    if parent != tid and parent in data()["techniques"]:
        out["parent"] = {"id": parent, "name": data()["techniques"][parent]["name"]}
    return out


def resolve_tags(tags: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Tactics and techniques named by Sigma tags; unknown ``attack.*`` tags are listed as such."""
    tactics: dict[str, dict[str, Any]] = {}
    techniques: dict[str, dict[str, Any]] = {}
    unknown: list[str] = []
    for tag in tags or ():
        tag = str(tag).strip()
        if not tag.lower().startswith("attack."):
            continue
        m = _TECHNIQUE.match(tag)
        if m:
            tech = technique(m.group(1))
            if tech is None:
                unknown.append(tag)
                continue
            techniques[tech["id"]] = tech
            for short in tech["tactics"]:
                found = tactic(short)
                if found:
                    tactics.setdefault(found["short"], found)
            continue
        found = tactic(tag.split(".", 1)[1])
        if found:
            tactics[found["short"]] = found
        elif not re.match(r"^attack\.(g|s)\d{4}$", tag, re.I):  # groups/software are not mapped here
            unknown.append(tag)
    return {"tactics": list(tactics.values()), "techniques": list(techniques.values()), "unknown": unknown,
            "version": data()["attack_version"]}


def tag_filter(*, technique_id: str | None = None, tactic_name: str | None = None,
               field: str = "rule.tags") -> dict[str, Any]:
    """An Elasticsearch filter for documents whose Sigma tags name a technique (with its
    sub-techniques) or a tactic."""
    should: list[dict[str, Any]] = []
    if technique_id:
        t = technique_id.strip().lower()
        should += [{"term": {field: f"attack.{t}"}}, {"prefix": {field: f"attack.{t}."}}]
    if tactic_name:
        found = tactic(tactic_name)
        short = found["short"] if found else tactic_name.strip().lower()
        should += [{"term": {field: f"attack.{short}"}}, {"term": {field: f"attack.{short.replace('-', '_')}"}}]
        # techniques of that tactic count too (rules often tag only techniques)
        ids = [tid.lower() for tid, t in data()["techniques"].items() if short in t["tactics"]]
        should.append({"terms": {field: [f"attack.{i}" for i in ids]}})
    return {"bool": {"should": should, "minimum_should_match": 1}}
