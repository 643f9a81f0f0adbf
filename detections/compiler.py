"""Sigma condition trees → Elasticsearch query DSL that honours Sigma's matching semantics.

The stock Lucene backend emits ``field:value`` strings that match keyword fields case-sensitively,
which silently breaks most Sigma rules. We walk pySigma's parsed (pipeline-processed) condition
tree ourselves and emit term/prefix/wildcard/regexp queries with ``case_insensitive: true`` unless
the rule says ``|cased``. Only server-core query types are produced.

Field types come from ``core.schema.TYPED_FIELDS``; every other event field is a keyword.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from core.schema import TYPED_FIELDS

MATCH_NONE: dict[str, Any] = {"match_none": {}}
MATCH_ALL: dict[str, Any] = {"match_all": {}}
# Field-name suffixes that target subfields of Elastic's own templates; ours match
# case-insensitively on the field itself.
_SUBFIELD_SUFFIXES = (".caseless", ".keyword", ".text", ".wildcard")


class UnsupportedRule(Exception):
    """The rule uses something we cannot express faithfully; the message is the lint reason."""

    def __init__(self, reason: str, category: str = "unsupported_modifier") -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category


def field_type(field: str) -> str:
    mapping = TYPED_FIELDS.get(field)
    if mapping is None:
        return "keyword"
    if mapping.get("index") is False:
        return "unindexed"
    return str(mapping.get("type", "keyword"))


def normalise_field(field: str) -> str:
    for suffix in _SUBFIELD_SUFFIXES:
        if field.endswith(suffix):
            return field[: -len(suffix)]
    return field


class Compiler:
    """One compiler per rule: collects warnings that end up in the lint report."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.fields: set[str] = set()
        self.names: list[str] = []
        self.bare_field_prefix = ""

    # -- tree -----------------------------------------------------------------------------

    def compile_residual(self, node: Any, negated: bool = False) -> tuple[dict[str, Any], Any]:
        """For rules with ``|fieldref`` (field-to-field comparison needs scripts on the node):
        an ES query that matches a superset, with every other leaf named, and a logic tree that
        ``residual_matches`` evaluates on each hit with its ``matched_queries``."""
        if isinstance(node, ConditionAND | ConditionOR):
            parts = [self.compile_residual(a, negated) for a in node.args]
            combine = _and if isinstance(node, ConditionAND) else _or
            return combine([p[0] for p in parts]), ["and" if isinstance(node, ConditionAND) else "or",
                                                      [p[1] for p in parts]]
        if isinstance(node, ConditionNOT):
            query, logic = self.compile_residual(node.args[0], not negated)
            return _not(query), ["not", logic]
        if isinstance(node, ConditionFieldEqualsValueExpression) and isinstance(node.value, SigmaFieldReference):
            ref = node.value
            field, other = normalise_field(node.field), normalise_field(ref.field)
            # Pipelines map the compared field but not the referenced one.
            if "." not in other and self.bare_field_prefix:
                other = self.bare_field_prefix + other
            self.fields.update((field, other))
            # Superset for the node: anything where it could hold (or could fail, under NOT).
            return (MATCH_NONE if negated else MATCH_ALL), ["fieldref", field, other, ref.starts_with, ref.ends_with]
        name = f"q{len(self.names)}"
        self.names.append(name)
        query = self.compile(node)
        return {"bool": {"filter": [query], "_name": name}}, ["leaf", name]

    def compile(self, node: Any) -> dict[str, Any]:
        if isinstance(node, ConditionAND):
            return _and([self.compile(a) for a in node.args])
        if isinstance(node, ConditionOR):
            return _or([self.compile(a) for a in node.args])
        if isinstance(node, ConditionNOT):
            return _not(self.compile(node.args[0]))
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self.field_value(node.field, node.value)
        if isinstance(node, ConditionValueExpression):
            return self.keyword_value(node.value)
        raise UnsupportedRule(f"condition element {type(node).__name__} is not supported", "unsupported_condition")

    # -- field = value --------------------------------------------------------------------

    def field_value(self, raw_field: str | None, value: Any) -> dict[str, Any]:
        if raw_field is None:
            return self.keyword_value(value)
        field = normalise_field(raw_field)
        self.fields.add(field)
        ftype = field_type(field)
        if ftype == "unindexed":
            raise UnsupportedRule(f"field {field} is not indexed; it cannot be searched", "unmapped_field")
        if isinstance(value, SigmaExpansion):
            return _or([self.field_value(field, v) for v in value.values])
        if isinstance(value, SigmaNull):
            return _not({"exists": {"field": field}})
        if isinstance(value, SigmaExists):
            exists = {"exists": {"field": field}}
            return exists if value.exists else _not(exists)
        if isinstance(value, SigmaFieldReference):
            raise UnsupportedRule("the |fieldref modifier needs scripts, which the core node lacks")
        if isinstance(value, SigmaCompareExpression):
            return self._compare(field, ftype, value)
        if isinstance(value, SigmaRegularExpression):
            return self._regex(field, ftype, value)
        if isinstance(value, SigmaCIDRExpression):
            return self._cidr(field, ftype, value)
        if isinstance(value, SigmaBool):
            if ftype == "keyword":
                return {"term": {field: {"value": str(value.boolean).lower(), "case_insensitive": True}}}
            return {"term": {field: value.boolean}}
        if isinstance(value, SigmaNumber):
            if ftype in ("long", "float", "ip", "date"):
                return {"term": {field: value.number}}
            return {"term": {field: {"value": str(value.number)}}}
        if isinstance(value, SigmaString):
            return self._string(field, ftype, value)
        raise UnsupportedRule(f"value type {type(value).__name__} on {field} is not supported")

    def _string(self, field: str, ftype: str, value: SigmaString) -> dict[str, Any]:
        if any(isinstance(p, Placeholder) for p in value.s):
            raise UnsupportedRule("the rule uses a placeholder (%name%) that no pipeline resolved",
                                  "unresolved_placeholder")
        cased = isinstance(value, SigmaCasedString)
        plain = not value.contains_special()
        if ftype == "text":
            return self._text(field, value)
        if ftype == "ip":
            return self._ip_string(field, value)
        if ftype in ("long", "float", "date"):
            text = value.to_plain()
            if plain:
                try:
                    number = float(text) if ftype == "float" else int(text)
                except ValueError:
                    if ftype == "date":
                        return {"term": {field: text}}
                    self.warnings.append(f"{field} is numeric; {text!r} can never match")
                    return MATCH_NONE
                return {"term": {field: number}}
            self.warnings.append(f"{field} is numeric; pattern {text!r} cannot be applied and never matches")
            return MATCH_NONE
        parts = value.s
        if len(parts) == 1 and parts[0] == SpecialChars.WILDCARD_MULTI:
            return {"exists": {"field": field}}
        hashed = _hash_term(field, value)
        if hashed is not None:
            return hashed
        # Case-insensitive matching runs on the ``.lower`` subfield (lowercase normalizer) with a
        # lowercased pattern: a case_insensitive automaton of a long wildcard costs many times more
        # to build on every shard.
        target = field if cased else f"{field}.lower"

        def fold(text: str) -> str:
            return text if cased else text.lower()

        if plain:
            return {"term": {target: {"value": fold(_literal(value))}}}
        if (parts and parts[-1] == SpecialChars.WILDCARD_MULTI
                and all(isinstance(p, str) for p in parts[:-1])):
            return {"prefix": {target: {"value": fold("".join(parts[:-1]))}}}  # type: ignore[arg-type]
        return {"wildcard": {target: {"value": fold(_wildcard(value))}}}

    def _text(self, field: str, value: SigmaString) -> dict[str, Any]:
        # Analysed text: approximate "contains" with a phrase; wildcards inside a term need
        # query_string, which is core.
        stripped = _strip_outer_wildcards(value)
        if stripped is not None:
            return {"match_phrase": {field: stripped}} if stripped else {"exists": {"field": field}}
        self.warnings.append(f"{field} is analysed text; pattern {value.to_plain()!r} is matched per token")
        return {"query_string": {"query": _wildcard(value, query_string=True), "default_field": field,
                                 "analyze_wildcard": True}}

    def _ip_string(self, field: str, value: SigmaString) -> dict[str, Any]:
        text = _literal(value) if not value.contains_special() else None
        if text is not None:
            try:
                ipaddress.ip_address(text)
                return {"term": {field: text}}
            except ValueError:
                self.warnings.append(f"{field} is an IP field; {text!r} is not an address and never matches")
                return MATCH_NONE
        # '10.*', '192.168.' + startswith: octet-aligned prefixes become CIDR ranges.
        parts = value.s
        if parts and parts[-1] == SpecialChars.WILDCARD_MULTI and all(isinstance(p, str) for p in parts[:-1]):
            prefix = "".join(parts[:-1])  # type: ignore[arg-type]
            cidr = _ipv4_prefix_to_cidr(prefix)
            if cidr:
                return {"term": {field: cidr}}
        self.warnings.append(f"{field} is an IP field; pattern {value.to_plain()!r} cannot be applied")
        return MATCH_NONE

    def _compare(self, field: str, ftype: str, value: SigmaCompareExpression) -> dict[str, Any]:
        op = {CompareOperators.LT: "lt", CompareOperators.LTE: "lte", CompareOperators.GT: "gt",
              CompareOperators.GTE: "gte"}.get(value.op)
        number = value.number.number
        if op is None:  # NEQ
            return _not({"term": {field: number}})
        if ftype == "keyword":
            self.warnings.append(f"{field} is a keyword; numeric comparison is lexical")
            return {"range": {field: {op: str(number)}}}
        return {"range": {field: {op: number}}}

    def _cidr(self, field: str, ftype: str, value: SigmaCIDRExpression) -> dict[str, Any]:
        if ftype == "ip":
            return {"term": {field: str(value.network)}}
        patterns = value.expand("*")
        return _or([{"wildcard": {field: {"value": p}}} if p.endswith("*") else {"term": {field: p}}
                    for p in patterns])

    def _regex(self, field: str, ftype: str, value: SigmaRegularExpression) -> dict[str, Any]:
        if ftype not in ("keyword", "text"):
            raise UnsupportedRule(f"regular expression on {ftype} field {field} is not supported")
        pattern, inline_ci = translate_regex(str(value.regexp))
        ci = inline_ci or SigmaRegularExpressionFlag.IGNORECASE in value.flags
        query: dict[str, Any] = {"value": pattern, "flags": "NONE"}
        if ci:
            query["case_insensitive"] = True
        return {"regexp": {field: query}}

    # -- keywords (no field) ----------------------------------------------------------------

    def keyword_value(self, value: Any) -> dict[str, Any]:
        if isinstance(value, SigmaExpansion):
            return _or([self.keyword_value(v) for v in value.values])
        if isinstance(value, SigmaString):
            return self._text("message", value)
        if isinstance(value, SigmaNumber):
            return {"match_phrase": {"message": str(value.number)}}
        if isinstance(value, SigmaRegularExpression):
            raise UnsupportedRule("regular expressions without a field are not supported")
        raise UnsupportedRule(f"keyword value of type {type(value).__name__} is not supported")


def residual_matches(logic: Any, source: dict[str, Any], matched: set[str]) -> bool:
    """Evaluate a ``compile_residual`` logic tree on one hit."""
    from core.schema import get_field

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


# -- helpers ----------------------------------------------------------------------------------

def _literal(value: SigmaString) -> str:
    return "".join(p for p in value.s if isinstance(p, str))


def _wildcard(value: SigmaString, *, query_string: bool = False) -> str:
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


def _strip_outer_wildcards(value: SigmaString) -> str | None:
    parts = list(value.s)
    while parts and parts[0] == SpecialChars.WILDCARD_MULTI:
        parts.pop(0)
    while parts and parts[-1] == SpecialChars.WILDCARD_MULTI:
        parts.pop()
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)  # type: ignore[arg-type]
    return None


def _ipv4_prefix_to_cidr(prefix: str) -> str | None:
    octets = prefix.rstrip(".").split(".")
    if not prefix.endswith(".") or not 1 <= len(octets) <= 3:
        return None
    if not all(o.isdigit() and int(o) < 256 for o in octets):
        return None
    addr = ".".join(octets + ["0"] * (4 - len(octets)))
    return f"{addr}/{8 * len(octets)}"


def _and(items: list[dict[str, Any]]) -> dict[str, Any]:
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


_HASH_VALUE = re.compile(r"^(md5|sha1|sha256|imphash)=([0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$")


def _hash_term(field: str, value: SigmaString) -> dict[str, Any] | None:
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


def _merge_terms(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def _merge_wildcards(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def _or(items: list[dict[str, Any]]) -> dict[str, Any]:
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
    flat = _merge_wildcards(_merge_terms(flat))
    return flat[0] if len(flat) == 1 else {"bool": {"should": flat, "minimum_should_match": 1}}


def _not(item: dict[str, Any]) -> dict[str, Any]:
    if item == MATCH_NONE:
        return MATCH_ALL
    if item == MATCH_ALL:
        return MATCH_NONE
    inner = item.get("bool")
    if inner is not None and set(inner) == {"must_not"} and len(inner["must_not"]) == 1:
        return dict(inner["must_not"][0])
    return {"bool": {"must_not": [item]}}


_UNSUPPORTED_REGEX = (
    (re.compile(r"\(\?[=!<]"), "lookaround assertions"),
    (re.compile(r"(?<!\\)\\[bBAZzG]"), "anchors/word boundaries (\\b, \\A, \\Z)"),
    (re.compile(r"(?<!\\)\\[1-9]"), "back-references"),
    (re.compile(r"\(\?P?<"), "named groups"),
)
_LUCENE_RESERVED = set('@&~<>#"')
MAX_BOUNDED_REPEAT = 16
MAX_MIN_REPEAT = 100


def translate_regex(pattern: str) -> tuple[str, bool]:
    """PCRE-style Sigma regex (unanchored search) → Lucene RegExp (whole-value match).

    Returns ``(lucene_pattern, case_insensitive)``. Raises ``UnsupportedRule`` for constructs Lucene
    cannot express (lookarounds, back-references, word boundaries).
    """
    ci = False
    flags = re.match(r"^\(\?([imsx]+)\)", pattern)
    if flags:
        ci = "i" in flags.group(1)
        if "x" in flags.group(1):
            raise UnsupportedRule("verbose (?x) regular expressions are not supported")
        pattern = pattern[flags.end():]
    for rx, what in _UNSUPPORTED_REGEX:
        if rx.search(pattern):
            raise UnsupportedRule(f"regular expression uses {what}, which Elasticsearch regexp lacks",
                                  "unsupported_regex")
    out: list[str] = []
    i = 0
    in_class = False
    depth = 0
    anchored_start = False
    anchored_end = False
    n = len(pattern)
    top_alternation = False
    loosened: list[str] = []
    optional: list[bool] = []
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "x" and i + 3 < n and re.match(r"[0-9a-fA-F]{2}", pattern[i + 2:i + 4]):
                ch = chr(int(pattern[i + 2:i + 4], 16))
                out.append(_escape_lucene_char(ch))
                i += 4
                continue
            if nxt in "dDwWsS":
                if in_class:
                    out.append({"d": "0-9", "w": "a-zA-Z0-9_", "s": " \t\r\n"}.get(nxt, "\\" + nxt))
                else:
                    out.append("\\" + nxt)
            elif nxt == "n":
                out.append("\n")
            elif nxt == "t":
                out.append("\t")
            elif nxt == "r":
                out.append("\r")
            else:
                out.append("\\" + nxt)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "-" and (pattern[i + 1:i + 2] == "]" or out[-1] in ("[", "^")):
                # A literal dash at a class edge; Lucene would read it as a range.
                out.append("\\-")
                i += 1
                continue
            out.append("\\" + c if c in _LUCENE_RESERVED or c == "[" else c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "(":
            depth += 1
            optional.append(False)
            if pattern.startswith("(?:", i):
                out.append("(")
                i += 3
                continue
            if pattern.startswith("(?", i):
                raise UnsupportedRule("regular expression uses inline group flags", "unsupported_regex")
            out.append("(")
            i += 1
            continue
        if c == ")":
            depth -= 1
            out.append(")")
            if optional and optional.pop():
                out.append("?")
            i += 1
            continue
        if c == "|" and depth > 0 and (pattern[i + 1:i + 2] == ")" or out[-1] == "("):
            # An empty alternative, "(a|)": Lucene has none, so the group becomes optional.
            optional[-1] = True
            i += 1
            continue
        if c == "|" and depth == 0:
            top_alternation = True
        if c == "^":
            if i == 0:
                anchored_start = True
                i += 1
                continue
            raise UnsupportedRule("regular expression uses ^ inside the pattern", "unsupported_regex")
        if c == "$":
            if i == n - 1:
                anchored_end = True
                i += 1
                continue
            raise UnsupportedRule("regular expression uses $ inside the pattern", "unsupported_regex")
        if c == "{":
            m = re.match(r"\{(\d+),(\d*)\}", pattern[i:])
            if m and int(m.group(1)) > MAX_MIN_REPEAT:
                raise UnsupportedRule(f"regular expression repeats at least {m.group(1)} times; Lucene's "
                                      "automaton for it is too large", "unsupported_regex")
            if m and (not m.group(2) or int(m.group(2)) > MAX_BOUNDED_REPEAT):
                # A large bounded repeat explodes the automaton on every shard; {n,} matches a
                # superset, which is what an unanchored search around it accepts anyway.
                out.append("{" + m.group(1) + ",}")
                i += m.end()
                loosened.append(m.group(0))
                continue
        if c in "*+?}" and i + 1 < n and pattern[i + 1] in "?+":
            # lazy/possessive quantifiers: same language for a whole-value match
            out.append(c)
            i += 2
            continue
        out.append(_escape_lucene_char(c) if c in _LUCENE_RESERVED else c)
        i += 1
    body = "".join(out)
    if top_alternation:
        if anchored_start or anchored_end:
            raise UnsupportedRule("regular expression mixes anchors and top-level alternation",
                                  "unsupported_regex")
        body = f"({body})"
    return ("" if anchored_start else ".*") + body + ("" if anchored_end else ".*"), ci


def _escape_lucene_char(ch: str) -> str:
    if ch in _LUCENE_RESERVED or ch in ".?+*|{}[]()\\":
        return "\\" + ch
    return ch
