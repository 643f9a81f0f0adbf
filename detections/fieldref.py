"""``|fieldref`` (field compared with field): the node can't search it without scripts, so the
compiler emits a superset query with named leaves and this logic tree is checked on each hit
with the hit's ``matched_queries``."""

from __future__ import annotations

from typing import Any

from core.schema import get_field


def residual_matches(logic: Any, source: dict[str, Any], matched: set[str]) -> bool:
    """Evaluate a ``compile_residual`` logic tree on one hit."""
    kind = logic[0]
    if kind == "leaf":
        return logic[1] in matched
    if kind == "and":
        return all(residual_matches(x, source, matched) for x in logic[1])
    if kind == "or":
        return any(residual_matches(x, source, matched) for x in logic[1])
    if kind == "not":
        return not residual_matches(logic[1], source, matched)
    _kind, field, other, starts, ends = logic
    value, ref = get_field(source, field), get_field(source, other)
    if value is None or ref is None:
        return False
    a, b = str(value).lower(), str(ref).lower()
    if starts:
        return a.startswith(b)
    if ends:
        return a.endswith(b)
    return a == b
