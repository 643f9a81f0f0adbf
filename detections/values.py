"""Sigma string values (with their modifiers already applied by pySigma) → query pieces:
literals, wildcards, hash digests and IP prefixes."""

from __future__ import annotations

import re
from typing import Any

from sigma.types import SigmaCasedString, SigmaString, SpecialChars


def literal(value: SigmaString) -> str:
    return "".join(p for p in value.s if isinstance(p, str))


def wildcard(value: SigmaString, *, query_string: bool = False) -> str:
    out = []
    for p in value.s:
        if p == SpecialChars.WILDCARD_MULTI:
            out.append("*")
        elif p == SpecialChars.WILDCARD_SINGLE:
            out.append("?")
        elif isinstance(p, str):
            if query_string:
                out.append(re.sub(r'([+\-=&|><!(){}\[\]^"~*?:\\/ ])', r"\\\1", p))
            else:
                out.append(p.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?"))
    return "".join(out)


def strip_outer_wildcards(value: SigmaString) -> str | None:
    parts = list(value.s)
    while parts and parts[0] == SpecialChars.WILDCARD_MULTI:
        parts.pop(0)
    while parts and parts[-1] == SpecialChars.WILDCARD_MULTI:
        parts.pop()
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)  # type: ignore[arg-type]
    return None


def ipv4_prefix_to_cidr(prefix: str) -> str | None:
    octets = prefix.rstrip(".").split(".")
    if not prefix.endswith(".") or not 1 <= len(octets) <= 3:
        return None
    if not all(o.isdigit() and int(o) < 256 for o in octets):
        return None
    addr = ".".join(octets + ["0"] * (4 - len(octets)))
    return f"{addr}/{8 * len(octets)}"


_HASH_VALUE = re.compile(r"^(md5|sha1|sha256|imphash)=([0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$")


def hash_term(field: str, value: SigmaString) -> dict[str, Any] | None:
    """``Hashes|contains: 'MD5=<hex>'`` → a term on ``hash.md5`` (``collectors.evtx`` splits the
    Sysmon Hashes list like Winlogbeat). A full digest inside the comma-separated list equals
    that algorithm's value, and a term is far cheaper than thousands of ``*…*`` automata."""
    if not field.endswith("Hashes") or isinstance(value, SigmaCasedString):
        return None
    parts = value.s
    if not (len(parts) == 3 and parts[0] == SpecialChars.WILDCARD_MULTI and parts[2] == SpecialChars.WILDCARD_MULTI
            and isinstance(parts[1], str)):
        return None
    m = _HASH_VALUE.match(parts[1].lower())
    if not m:
        return None
    return {"term": {f"hash.{m.group(1)}": {"value": m.group(2)}}}

