"""Detection data shapes: compiled rules, lint results, run results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.contracts import AlertDoc as AlertDoc  # published rule and alert documents
from core.contracts import RuleDoc as RuleDoc

LINT_CATEGORIES = (
    "yaml_error", "sigma_error", "unsupported_modifier", "unsupported_regex", "unsupported_condition",
    "unmapped_logsource", "unmapped_field", "unresolved_placeholder", "invalid_query", "duplicate_id",
    "unsupported_correlation",
)


class UnsupportedRule(Exception):
    """The rule uses something we cannot express faithfully; the message is the lint reason."""

    def __init__(self, reason: str, category: str = "unsupported_modifier") -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category


@dataclass(frozen=True)
class Suppression:
    """Group alerts of one rule by entity fields within a window (seconds)."""

    fields: tuple[str, ...]
    window_seconds: int

    def to_dict(self) -> dict[str, Any]:
        return {"fields": list(self.fields), "window_seconds": self.window_seconds}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Suppression | None:
        if not data:
            return None
        return cls(tuple(str(f) for f in data.get("fields") or ()), int(data.get("window_seconds") or 0))


@dataclass(frozen=True)
class Correlation:
    """A Sigma correlation (event_count, value_count, temporal, temporal_ordered)."""

    type: str
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan_seconds: int
    # {"gte": 5} etc.; for value_count also the counted field
    condition: dict[str, int]
    value_field: str | None = None
    # per referenced rule: alias field name -> real field name
    aliases: dict[str, dict[str, str]] = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "rules": list(self.rules), "group_by": list(self.group_by),
                "timespan_seconds": self.timespan_seconds, "condition": dict(self.condition),
                "value_field": self.value_field, "aliases": self.aliases}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Correlation | None:
        if not data:
            return None
        return cls(type=data["type"], rules=tuple(data["rules"]), group_by=tuple(data.get("group_by") or ()),
                   timespan_seconds=int(data["timespan_seconds"]), condition=dict(data["condition"]),
                   value_field=data.get("value_field"), aliases=dict(data.get("aliases") or {}))


@dataclass(frozen=True)
class CompiledRule:
    id: str
    title: str
    level: str
    status: str
    tags: tuple[str, ...]
    logsource: dict[str, str]
    pipeline: str
    datasets: tuple[str, ...]
    kind: str  # "query" | "correlation"
    query: dict[str, Any] | None
    source: str
    version: str
    description: str = ""
    correlation: Correlation | None = None
    suppression: Suppression | None = None
    warnings: tuple[str, ...] = ()
    sigma: str = ""
    # False for rules only referenced by correlations (Sigma's ``generate: false``): they are
    # evaluated by the correlation, not alerted on their own.
    generate: bool = True
    correlation_generates: bool = False
    # Logic checked on each hit for what the node can't search (|fieldref); see compiler.
    residual: Any = None

    @property
    def techniques(self) -> list[str]:
        return sorted({t.split(".", 1)[1].upper() for t in self.tags
                       if t.lower().startswith("attack.t") and t[8:9].isdigit()})

    @property
    def tactics(self) -> list[str]:
        out = set()
        for tag in self.tags:
            low = tag.lower()
            name = low[len("attack."):]
            if low.startswith("attack.") and not (name[:1] in "tgs" and name[1:2].isdigit()):
                out.add(name)
        return sorted(out)

    def indices(self, prefix: str) -> str:
        if not self.datasets:
            return f"{prefix}-events-*"
        return ",".join(f"{prefix}-events-{d}-*" for d in self.datasets)


@dataclass(frozen=True)
class LintEntry:
    source: str
    rule_id: str | None
    title: str | None
    status: str  # loaded | rejected
    category: str | None = None
    reason: str | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rule_id": self.rule_id, "title": self.title, "status": self.status,
                "category": self.category, "reason": self.reason, "warnings": list(self.warnings)}


@dataclass(frozen=True)
class LintReport:
    entries: tuple[LintEntry, ...]
    rules: tuple[CompiledRule, ...] = field(hash=False, compare=False, default=())

    @property
    def loaded(self) -> int:
        return sum(1 for e in self.entries if e.status == "loaded")

    @property
    def rejected(self) -> int:
        return sum(1 for e in self.entries if e.status == "rejected")

    def by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.entries:
            if e.status == "rejected":
                out[e.category or "other"] = out.get(e.category or "other", 0) + 1
        return dict(sorted(out.items()))

    def summary(self) -> dict[str, Any]:
        return {"total": len(self.entries), "loaded": self.loaded, "rejected": self.rejected,
                "rejected_by_reason": self.by_category()}


@dataclass(frozen=True)
class RuleRunResult:
    rule_id: str
    window_start: str
    window_end: str
    hits: int
    alerts_created: int
    overflow: int
    took_ms: int
    error: str | None = None
    # Matches past the per-run cap, raised as grouped alerts (one per rule and entity).
    grouped: int = 0


@dataclass(frozen=True)
class CycleResult:
    worker: str
    rules_run: int
    partitions: tuple[int, ...]
    alerts_created: int
    errors: int
    took_ms: int
    results: tuple[RuleRunResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"worker": self.worker, "rules_run": self.rules_run, "partitions": list(self.partitions),
                "alerts_created": self.alerts_created, "errors": self.errors, "took_ms": self.took_ms}
