"""Per-rule exceptions (allow-list conditions), compiled with the same Sigma semantics as rules.

An exception is ``{"id", "field", "op", "values", "comment", "created_by", "created"}``; an event
matching any exception of a rule raises no alert for it. ``op`` is one of ``equals``,
``contains``, ``startswith``, ``endswith``, ``cidr``, ``regex`` (case-insensitive like Sigma,
``cidr`` on ip fields). Each change bumps the rule's ``exceptions_version``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sigma.types import SigmaCIDRExpression, SigmaRegularExpression, SigmaString

from core.errors import InvalidInput
from detections.compiler import Compiler, UnsupportedRule
from detections.dsl import or_

log = logging.getLogger(__name__)
OPS = ("equals", "contains", "startswith", "endswith", "cidr", "regex")
_FIELD = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9_.@\-]{0,200}$")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def validate(field: str, op: str, values: list[str]) -> None:
    if not _FIELD.match(field or ""):
        raise InvalidInput(f"Invalid field name {field!r}: use an ECS field such as source.ip or user.name.")
    if op not in OPS:
        raise InvalidInput(f"Invalid exception operator {op!r}: use one of {', '.join(OPS)}.")
    if not values or any(not isinstance(v, str) or len(v) > 4096 for v in values):
        raise InvalidInput("An exception needs at least one value (strings of at most 4096 characters).")
    compile_one({"field": field, "op": op, "values": values})


def _valid_text(values: Any) -> bool:
    try:
        for value in values:
            str(value).encode("utf-8")
    except (UnicodeEncodeError, TypeError):
        return False
    return True


def compile_one(exc: dict[str, Any]) -> dict[str, Any]:
    compiler = Compiler()
    field, op = exc["field"], exc["op"]
    if not _valid_text(exc.get("values") or []) or not _valid_text([field]):
        # Stored before input was checked: it would make every search of the rule fail.
        raise InvalidInput(f"Exception on {field!r} holds text that is not valid Unicode (a lone surrogate); "
                           "remove it and add it again.")
    clauses = []
    try:
        for value in exc["values"]:
            if op == "cidr":
                sigma_value: Any = SigmaCIDRExpression(value)
            elif op == "regex":
                sigma_value = SigmaRegularExpression(value)
                sigma_value.add_flag(next(iter(SigmaRegularExpression.sigma_to_re_flag)))
            else:
                pattern = _escape(value)
                pattern = {"equals": pattern, "contains": f"*{pattern}*", "startswith": f"{pattern}*",
                           "endswith": f"*{pattern}"}[op]
                sigma_value = SigmaString(pattern)
            clauses.append(compiler.field_value(field, sigma_value))
    except (UnsupportedRule, ValueError) as exc_:
        raise InvalidInput(f"Exception on {field} cannot be compiled: {exc_}") from exc_
    except Exception as exc_:  # pySigma type errors (bad CIDR, bad regex)
        raise InvalidInput(f"Exception on {field} has an invalid value: {exc_}") from exc_
    return or_(clauses)


def compile_all(exceptions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """``must_not`` clauses for a rule's exceptions; one broken exception is skipped, not fatal."""
    out = []
    for exc in exceptions or []:
        try:
            out.append(compile_one(exc))
        except (InvalidInput, KeyError, TypeError) as problem:
            log.error("rule exception %s skipped: %s", (exc or {}).get("id") if isinstance(exc, dict) else "?",
                      getattr(problem, "message", problem))
            continue
    return out
