"""Boolean combinators for compiled queries: flatten nested bools, short-circuit
match_all/match_none, and merge OR-ed leaves into fewer, cheaper queries (``terms``, regexp
unions) — the shape every rule's DSL goes through."""

from __future__ import annotations

from typing import Any

MATCH_NONE: dict[str, Any] = {"match_none": {}}
MATCH_ALL: dict[str, Any] = {"match_all": {}}

def and_(items: list[dict[str, Any]]) -> dict[str, Any]:
    flat: list[dict[str, Any]] = []
    for item in items:
        if item == MATCH_ALL:
            continue
        if item == MATCH_NONE:
            return MATCH_NONE
        inner = item.get("bool")
        if inner is not None and set(inner) == {"filter"}:
            flat.extend(inner["filter"])
        else:
            flat.append(item)
    if not flat:
        return MATCH_ALL
    return flat[0] if len(flat) == 1 else {"bool": {"filter": flat}}



def merge_terms(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OR-ed ``term`` clauses on one field become one ``terms`` query (one lookup, not N)."""
    by_field: dict[str, list[Any]] = {}
    rest: list[dict[str, Any]] = []
    for item in items:
        term = item.get("term") if len(item) == 1 else None
        if isinstance(term, dict) and len(term) == 1:
            (field, spec), = term.items()
            if isinstance(spec, dict) and set(spec) == {"value"}:
                by_field.setdefault(field, []).append(spec["value"])
                continue
            if not isinstance(spec, dict):
                by_field.setdefault(field, []).append(spec)
                continue
        rest.append(item)
    merged = [{"terms": {f: vals}} if len(vals) > 1 else {"term": {f: {"value": vals[0]}}}
              for f, vals in by_field.items()]
    return merged + rest


MERGE_WILDCARDS_AT = 4
WILDCARDS_PER_REGEXP = 32
MAX_REGEX_CHARS = 900
_REGEX_SPECIAL = set('.?+*|{}[]()"\\#@&<>~^$')


def _wildcard_to_regexp(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\" + nxt if nxt in _REGEX_SPECIAL else nxt)
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else ("\\" + c if c in _REGEX_SPECIAL else c))
        i += 1
    return "".join(out)


def _shape(pattern: str) -> tuple[str, str] | None:
    """('contains'|'endswith'|'startswith', literal) for ``*x*``, ``*x``, ``x*`` without other wildcards."""
    lead, trail = pattern.startswith("*"), pattern.endswith("*") and not pattern.endswith("\\*")
    core = pattern[1 if lead else 0: len(pattern) - (1 if trail else 0)]
    stripped = core.replace("\\\\", "").replace("\\*", "").replace("\\?", "")
    if not core or "*" in stripped or "?" in stripped:
        return None
    kind = "contains" if lead and trail else "endswith" if lead else "startswith" if trail else None
    return (kind, core) if kind else None


def merge_wildcards(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Many OR-ed contains/endswith/startswith wildcards on one field become a few regexps such
    as ``.*(a|b|c).*``: each wildcard clause walks the field's whole term dictionary on every
    shard, a union walks it once."""
    groups: dict[tuple[str, str], list[str]] = {}
    rest: list[dict[str, Any]] = []
    for item in items:
        wc = item.get("wildcard") if len(item) == 1 else None
        if isinstance(wc, dict) and len(wc) == 1:
            (field, spec), = wc.items()
            shape = _shape(spec["value"]) if isinstance(spec, dict) and set(spec) == {"value"} else None
            if shape is not None:
                groups.setdefault((field, shape[0]), []).append(shape[1])
                continue
        rest.append(item)
    merged: list[dict[str, Any]] = []
    for (field, kind), cores in groups.items():
        if len(cores) < MERGE_WILDCARDS_AT:
            for c in cores:
                value = {"contains": f"*{c}*", "endswith": f"*{c}", "startswith": f"{c}*"}[kind]
                merged.append({"wildcard": {field: {"value": value}}})
            continue
        # Indices refuse regexps longer than index.max_regex_length (1000 by default).
        chunks: list[list[str]] = []
        length = 0
        for c in (_wildcard_to_regexp(c) for c in cores):
            if not chunks or len(chunks[-1]) >= WILDCARDS_PER_REGEXP or length + len(c) + 1 > MAX_REGEX_CHARS:
                chunks.append([])
                length = 8
            chunks[-1].append(c)
            length += len(c) + 1
        for chunk in chunks:
            union = "(" + "|".join(chunk) + ")"
            value = {"contains": f".*{union}.*", "endswith": f".*{union}", "startswith": f"{union}.*"}[kind]
            merged.append({"regexp": {field: {"value": value, "flags": "NONE"}}})
    return merged + rest


def or_(items: list[dict[str, Any]]) -> dict[str, Any]:
    flat: list[dict[str, Any]] = []
    for item in items:
        if item == MATCH_NONE:
            continue
        if item == MATCH_ALL:
            return MATCH_ALL
        inner = item.get("bool")
        if inner is not None and set(inner) == {"should", "minimum_should_match"}:
            flat.extend(inner["should"])
        else:
            flat.append(item)
    if not flat:
        return MATCH_NONE
    flat = merge_wildcards(merge_terms(flat))
    return flat[0] if len(flat) == 1 else {"bool": {"should": flat, "minimum_should_match": 1}}


def not_(item: dict[str, Any]) -> dict[str, Any]:
    if item == MATCH_NONE:
        return MATCH_ALL
    if item == MATCH_ALL:
        return MATCH_NONE
    inner = item.get("bool")
    if inner is not None and set(inner) == {"must_not"} and len(inner["must_not"]) == 1:
        return dict(inner["must_not"][0])
    return {"bool": {"must_not": [item]}}

