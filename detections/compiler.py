"""Sigma condition trees → Elasticsearch query DSL that honours Sigma's matching semantics.

The stock Lucene backend emits ``field:value`` strings that match keyword fields case-sensitively,
which silently breaks most Sigma rules. We walk pySigma's parsed (pipeline-processed) condition
tree ourselves and emit term/prefix/wildcard/regexp queries with ``case_insensitive: true`` unless
the rule says ``|cased``. Only server-core query types are produced.

Field types come from ``core.schema.TYPED_FIELDS``; every other event field is a keyword.
"""

from __future__ import annotations

import ipaddress
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
from detections.dsl import MATCH_ALL, MATCH_NONE, and_, not_, or_
from detections.fieldref import residual_matches
from detections.models import UnsupportedRule
from detections.regex import translate_regex
from detections.values import hash_term, ipv4_prefix_to_cidr, literal, strip_outer_wildcards, wildcard

__all__ = ["MATCH_ALL", "MATCH_NONE", "Compiler", "UnsupportedRule", "field_type", "normalise_field",
           "residual_matches", "translate_regex"]
# Field-name suffixes that target subfields of Elastic's own templates; ours match
# case-insensitively on the field itself.
_SUBFIELD_SUFFIXES = (".caseless", ".keyword", ".text", ".wildcard")


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
            combine = and_ if isinstance(node, ConditionAND) else or_
            return combine([p[0] for p in parts]), ["and" if isinstance(node, ConditionAND) else "or",
                                                      [p[1] for p in parts]]
        if isinstance(node, ConditionNOT):
            query, logic = self.compile_residual(node.args[0], not negated)
            return not_(query), ["not", logic]
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
            return and_([self.compile(a) for a in node.args])
        if isinstance(node, ConditionOR):
            return or_([self.compile(a) for a in node.args])
        if isinstance(node, ConditionNOT):
            return not_(self.compile(node.args[0]))
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
            return or_([self.field_value(field, v) for v in value.values])
        if isinstance(value, SigmaNull):
            return not_({"exists": {"field": field}})
        if isinstance(value, SigmaExists):
            exists = {"exists": {"field": field}}
            return exists if value.exists else not_(exists)
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
        hashed = hash_term(field, value)
        if hashed is not None:
            return hashed
        # Case-insensitive matching runs on the ``.lower`` subfield (lowercase normalizer) with a
        # lowercased pattern: a case_insensitive automaton of a long wildcard costs many times more
        # to build on every shard.
        target = field if cased else f"{field}.lower"

        def fold(text: str) -> str:
            return text if cased else text.lower()

        if plain:
            return {"term": {target: {"value": fold(literal(value))}}}
        if (parts and parts[-1] == SpecialChars.WILDCARD_MULTI
                and all(isinstance(p, str) for p in parts[:-1])):
            return {"prefix": {target: {"value": fold("".join(parts[:-1]))}}}  # type: ignore[arg-type]
        return {"wildcard": {target: {"value": fold(wildcard(value))}}}

    def _text(self, field: str, value: SigmaString) -> dict[str, Any]:
        # Analysed text: approximate "contains" with a phrase; wildcards inside a term need
        # query_string, which is core.
        stripped = strip_outer_wildcards(value)
        if stripped is not None:
            return {"match_phrase": {field: stripped}} if stripped else {"exists": {"field": field}}
        self.warnings.append(f"{field} is analysed text; pattern {value.to_plain()!r} is matched per token")
        return {"query_string": {"query": wildcard(value, query_string=True), "default_field": field,
                                 "analyze_wildcard": True}}

    def _ip_string(self, field: str, value: SigmaString) -> dict[str, Any]:
        text = literal(value) if not value.contains_special() else None
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
            cidr = ipv4_prefix_to_cidr(prefix)
            if cidr:
                return {"term": {field: cidr}}
        self.warnings.append(f"{field} is an IP field; pattern {value.to_plain()!r} cannot be applied")
        return MATCH_NONE

    def _compare(self, field: str, ftype: str, value: SigmaCompareExpression) -> dict[str, Any]:
        op = {CompareOperators.LT: "lt", CompareOperators.LTE: "lte", CompareOperators.GT: "gt",
              CompareOperators.GTE: "gte"}.get(value.op)
        number = value.number.number
        if op is None:  # NEQ
            return not_({"term": {field: number}})
        if ftype == "keyword":
            self.warnings.append(f"{field} is a keyword; numeric comparison is lexical")
            return {"range": {field: {op: str(number)}}}
        return {"range": {field: {op: number}}}

    def _cidr(self, field: str, ftype: str, value: SigmaCIDRExpression) -> dict[str, Any]:
        if ftype == "ip":
            return {"term": {field: str(value.network)}}
        patterns = value.expand("*")
        return or_([{"wildcard": {field: {"value": p}}} if p.endswith("*") else {"term": {field: p}}
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
            return or_([self.keyword_value(v) for v in value.values])
        if isinstance(value, SigmaString):
            return self._text("message", value)
        if isinstance(value, SigmaNumber):
            return {"match_phrase": {"message": str(value.number)}}
        if isinstance(value, SigmaRegularExpression):
            raise UnsupportedRule("regular expressions without a field are not supported")
        raise UnsupportedRule(f"keyword value of type {type(value).__name__} is not supported")
