"""Read Sigma rules from directories, zip files or text; lint and compile each one on its own.

One bad rule never stops the others: every file and every rule becomes a ``LintEntry`` that
says "loaded" or the exact reason it was rejected. YAML goes through ``core.yamlio`` (safe,
duplicate keys rejected) before pySigma sees it.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from core import yamlio
from core.errors import InvalidInput
from detections.compiler import Compiler, UnsupportedRule
from detections.dsl import or_
from detections.models import CompiledRule, Correlation, LintEntry, LintReport, Suppression
from detections.pipelines import pipeline, route_for

MAX_RULE_FILES = 20000
_TOP_LEVEL_FIELDS = {"message", "tags", "@timestamp"}
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: Any) -> int:
    if isinstance(text, int):
        return text
    m = _DURATION.match(str(text).strip())
    if not m:
        raise InvalidInput(f"Invalid duration {text!r}: use a number with s, m, h or d (e.g. 10m).")
    return int(m.group(1)) * _UNITS[m.group(2)]


def iter_rule_texts(path: str | Path) -> Iterator[tuple[str, str | bytes]]:
    """``(source name, text)`` for every .yml/.yaml file under a directory, in a zip, or a file."""
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"{p}: no such file or directory. Give a rules directory, a .zip or a .yml file.")
    count = 0
    if p.is_dir():
        for f in sorted(p.rglob("*")):
            if f.suffix.lower() in (".yml", ".yaml") and f.is_file():
                count += 1
                if count > MAX_RULE_FILES:
                    return
                try:
                    yield str(f), f.read_bytes()
                except OSError as exc:
                    yield str(f), f"__unreadable__: {exc.strerror}"
    elif p.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(p) as zf:
                for info in zf.infolist():
                    if info.is_dir() or not info.filename.lower().endswith((".yml", ".yaml")):
                        continue
                    count += 1
                    if count > MAX_RULE_FILES or info.file_size > yamlio.MAX_YAML_BYTES:
                        yield f"{p}!{info.filename}", "__unreadable__: too large"
                        continue
                    yield f"{p}!{info.filename}", zf.read(info)
        except zipfile.BadZipFile as exc:
            raise InvalidInput(f"{p}: not a readable zip file ({exc}).") from exc
    else:
        yield str(p), p.read_bytes()


def _fingerprint(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


def load_sources(sources: Iterable[tuple[str, str | bytes]]) -> LintReport:
    """Parse, lint and compile every rule; correlations are resolved across all sources."""
    entries: list[LintEntry] = []
    parsed: list[tuple[str, str, SigmaRule | SigmaCorrelationRule, str]] = []
    for source, raw in sources:
        if isinstance(raw, str) and raw.startswith("__unreadable__"):
            entries.append(LintEntry(source, None, None, "rejected", "yaml_error", raw.split(": ", 1)[1]))
            continue
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            docs = yamlio.loads(text, source=source, multi=True)
        except (InvalidInput, UnicodeDecodeError) as exc:
            entries.append(LintEntry(source, None, None, "rejected", "yaml_error", str(exc)))
            continue
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                entries.append(LintEntry(source, None, None, "rejected", "sigma_error",
                                         "document is not a mapping of Sigma attributes"))
                continue
            if doc.get("action"):
                entries.append(LintEntry(source, None, doc.get("title"), "rejected", "sigma_error",
                                         "rule collections with 'action' documents are not supported"))
                continue
            try:
                if "correlation" in doc:
                    rule: SigmaRule | SigmaCorrelationRule = SigmaCorrelationRule.from_dict(doc)
                else:
                    rule = SigmaRule.from_dict(doc, collect_errors=True)
            except (SigmaError, ValueError, TypeError, KeyError, AttributeError) as exc:
                entries.append(LintEntry(source, str(doc.get("id") or "") or None, doc.get("title"),
                                         "rejected", "sigma_error", f"{type(exc).__name__}: {exc}"))
                continue
            parsed.append((source, _fingerprint(text), rule, text))
    rules: list[CompiledRule] = []
    seen: dict[str, str] = {}
    base_rules = [r for _s, _v, r, _t in parsed]  # correlations may reference correlations (chaining)
    for source, version, rule, text in parsed:
        rid = str(rule.id) if rule.id else None
        title = rule.title
        if rid is None:
            entries.append(LintEntry(source, None, title, "rejected", "sigma_error", "the rule has no id"))
            continue
        if rid in seen:
            entries.append(LintEntry(source, rid, title, "rejected", "duplicate_id",
                                     f"id {rid} already used by {seen[rid]}"))
            continue
        try:
            if isinstance(rule, SigmaCorrelationRule):
                compiled = compile_correlation(rule, base_rules, source, version, text)
            else:
                compiled = compile_rule(rule, source, version, text)
        except UnsupportedRule as exc:
            entries.append(LintEntry(source, rid, title, "rejected", exc.category, exc.reason))
            continue
        except SigmaError as exc:
            entries.append(LintEntry(source, rid, title, "rejected", "sigma_error", str(exc)))
            continue
        except Exception as exc:  # pySigma raises plain exceptions from pipelines; keep the rest going
            entries.append(LintEntry(source, rid, title, "rejected", "sigma_error",
                                     f"{type(exc).__name__}: {exc}"))
            continue
        seen[rid] = source
        rules.append(compiled)
        entries.append(LintEntry(source, rid, title, "loaded", warnings=compiled.warnings))
    return LintReport(tuple(entries), tuple(_mark_correlation_only(rules)))


def _mark_correlation_only(rules: list[CompiledRule]) -> list[CompiledRule]:
    """Sigma's ``generate: false``: base rules referenced by a correlation raise no alerts of their
    own. A referenced *correlation* keeps alerting: in a chain its alerts are the next step's input."""
    silent: set[str] = set()
    for r in rules:
        if r.correlation is not None and not r.correlation_generates:
            silent.update(r.correlation.rules)
    return [replace(r, generate=False) if r.id in silent and r.correlation is None else r for r in rules]


def load_paths(paths: Iterable[str | Path]) -> LintReport:
    def all_sources() -> Iterator[tuple[str, str | bytes]]:
        for p in paths:
            yield from iter_rule_texts(p)

    return load_sources(all_sources())


def _custom(rule: SigmaRule | SigmaCorrelationRule, key: str) -> Any:
    return (getattr(rule, "custom_attributes", None) or {}).get(key)


def _suppression(rule: SigmaRule | SigmaCorrelationRule) -> Suppression | None:
    raw = _custom(rule, "suppression")
    if not raw:
        return None
    if not isinstance(raw, dict) or not raw.get("fields"):
        raise UnsupportedRule("suppression needs 'fields' (a list) and 'window' (e.g. 10m)", "sigma_error")
    try:
        window = parse_duration(raw.get("window", "5m"))
    except InvalidInput as exc:
        raise UnsupportedRule(exc.message, "sigma_error") from exc
    return Suppression(tuple(str(f) for f in raw["fields"]), window)


def compile_rule(rule: SigmaRule, source: str, version: str, text: str = "") -> CompiledRule:
    if rule.errors:
        raise UnsupportedRule(str(rule.errors[0]), "sigma_error")
    route = route_for(rule.logsource)
    if route is None:
        ls = rule.logsource
        raise UnsupportedRule(
            f"unmapped log source product={ls.product} category={ls.category} service={ls.service}: no "
            "pipeline maps it to our event fields", "unmapped_logsource")
    pipeline(route.pipeline).apply(rule)
    compiler = Compiler()
    residual = None
    try:
        queries = [compiler.compile(cond.parsed) for cond in rule.detection.parsed_condition]
    except UnsupportedRule as exc:
        if "fieldref" not in exc.reason:
            raise
        compiler = Compiler()
        compiler.bare_field_prefix = "winlog.event_data." if route.pipeline == "ecs_windows" else ""
        pairs = [compiler.compile_residual(cond.parsed) for cond in rule.detection.parsed_condition]
        queries = [q for q, _l in pairs]
        residual = ["or", [lg for _q, lg in pairs]]
        compiler.warnings.append("|fieldref is checked on each candidate hit after the search")
    query = or_(queries)
    if route.pipeline == "linux":
        missing = sorted(f for f in compiler.fields if "." not in f and f not in _TOP_LEVEL_FIELDS)
        if missing:
            raise UnsupportedRule(f"field(s) {', '.join(missing)} missing from the Linux field mapping",
                                  "unmapped_field")
    return CompiledRule(
        id=str(rule.id), title=rule.title, level=str(rule.level or "medium").lower(),
        status=str(rule.status or "experimental").lower(), tags=tuple(str(t) for t in rule.tags),
        logsource={k: v for k, v in (("product", rule.logsource.product), ("category", rule.logsource.category),
                                      ("service", rule.logsource.service)) if v},
        pipeline=route.pipeline, datasets=route.datasets, kind="query", query=query, source=source,
        version=version, description=rule.description or "", suppression=_suppression(rule),
        warnings=tuple(dict.fromkeys(compiler.warnings)), sigma=text, residual=residual,
    )


def compile_correlation(rule: SigmaCorrelationRule, base_rules: list[SigmaRule | SigmaCorrelationRule], source: str,
                        version: str,
                        text: str = "") -> CompiledRule:
    ctype = str(rule.type.name if hasattr(rule.type, "name") else rule.type).lower()
    if ctype not in ("event_count", "value_count", "temporal", "temporal_ordered"):
        raise UnsupportedRule(f"correlation type {ctype} is not supported", "unsupported_correlation")
    by_name = {}
    for r in base_rules:
        by_name[str(r.id)] = r
        if r.name:
            by_name[r.name] = r
    refs: list[str] = []
    for ref in rule.rules or []:
        name = getattr(ref, "reference", None) or str(ref)
        target = by_name.get(str(name))
        if target is None:
            raise UnsupportedRule(f"correlation refers to rule {name}, which was not loaded with it",
                                  "unsupported_correlation")
        if target is rule or str(target.id) == str(rule.id):
            raise UnsupportedRule("a correlation cannot reference itself", "unsupported_correlation")
        refs.append(str(target.id))
    condition: dict[str, int] = {}
    value_field = None
    if rule.condition is not None and ctype not in ("temporal", "temporal_ordered") or (
            rule.condition is not None and getattr(rule.condition, "count", None) is not None):
        cond: Any = rule.condition
        op = str(cond.op.name if hasattr(cond.op, "name") else cond.op).lower()
        condition = {{"gte": "gte", "gt": "gt", "lte": "lte", "lt": "lt", "eq": "eq"}.get(op, op): int(cond.count)}
        value_field = getattr(cond, "fieldref", None)
    aliases: dict[str, dict[str, str]] = {}
    if rule.aliases:
        for alias in rule.aliases.aliases.values() if hasattr(rule.aliases, "aliases") else rule.aliases:
            for ref, fname in alias.mapping.items():
                target = by_name.get(getattr(ref, "reference", None) or str(ref))
                if target is not None:
                    aliases.setdefault(str(target.id), {})[alias.alias] = fname
    timespan = rule.timespan.seconds if rule.timespan else 0
    if timespan <= 0:
        raise UnsupportedRule("correlation needs a positive timespan", "unsupported_correlation")
    corr = Correlation(type=ctype, rules=tuple(refs), group_by=tuple(rule.group_by or ()),
                       timespan_seconds=int(timespan), condition=condition or {"gte": len(refs)},
                       value_field=value_field, aliases=aliases)
    level = str(rule.level or "medium").lower()
    return CompiledRule(
        id=str(rule.id), title=rule.title, level=level, status=str(rule.status or "experimental").lower(),
        tags=tuple(str(t) for t in rule.tags), logsource={}, pipeline="", datasets=(), kind="correlation",
        query=None, source=source, version=version, description=rule.description or "", correlation=corr,
        suppression=_suppression(rule), sigma=text, correlation_generates=bool(getattr(rule, "generate", False)),
    )


def load_collection_for_cli(path: str | Path) -> LintReport:
    """Alias used by the CLI's ``rules lint``: no Elasticsearch involved."""
    return load_paths([path])


__all__ = ["SigmaCollection", "compile_rule", "load_paths", "load_sources", "parse_duration"]
