"""Compliance data: catalogs, checks, evidence, results and runs (frozen dataclasses)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from core.timeutil import iso, utcnow

# Result values are the Chinese terms auditors use; the report translates them for English.
COMPLIANT = "符合"
PARTIAL = "部分符合"
NON_COMPLIANT = "不符合"
NOT_APPLICABLE = "不适用"
PENDING = "待人工"
EXCERPT_CHARS = 600  # of evidence shown in results and reports; the digest covers the whole content

RESULTS = (COMPLIANT, PARTIAL, NON_COMPLIANT, NOT_APPLICABLE, PENDING)
RESULT_KEYS = {COMPLIANT: "compliant", PARTIAL: "partial", NON_COMPLIANT: "non_compliant",
               NOT_APPLICABLE: "not_applicable", PENDING: "pending"}

METHODS = ("host", "platform", "manual")
RISKS = ("high", "medium", "low")


@dataclass(frozen=True)
class Text:
    """A label in both user languages."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class Family:
    code: str
    name: Text
    category: str  # technical | management


@dataclass(frozen=True)
class Item:
    id: str
    family: str
    control_point: Text
    requirement: str
    summary: str
    method: str
    risk: str
    maps_to: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalog:
    id: str
    framework: str
    title: Text
    level: int | None
    families: tuple[Family, ...]
    items: tuple[Item, ...]
    source: str = ""

    def family(self, code: str) -> Family:
        return next(f for f in self.families if f.code == code)

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)


@dataclass(frozen=True)
class Rule:
    """One probe and its expectation, e.g. ``{type: file_kv, path: ..., key: ..., op: le, value: 90}``."""

    type: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Check:
    id: str
    title: Text
    kind: str  # host | platform
    items: tuple[str, ...]
    condition: str  # all | any | none
    rules: tuple[Rule, ...]
    remediation: Text
    platforms: tuple[str, ...] = ("linux",)
    source: str = ""


@dataclass(frozen=True)
class Evidence:
    """What was inspected, what it showed, a digest of the full content and when."""

    source: str
    excerpt: str
    sha256: str
    time: str
    note: str = ""

    @classmethod
    def of(cls, source: str, content: bytes | str | None, excerpt: str, note: str = "") -> Evidence:
        """Evidence taken now: the excerpt shortened, the digest over the whole content."""
        raw = content.encode("utf-8", "replace") if isinstance(content, str) else (content or b"")
        return cls(source=source, excerpt=excerpt[:EXCERPT_CHARS], sha256=hashlib.sha256(raw).hexdigest(),
                   time=iso(utcnow()), note=note)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "excerpt": self.excerpt, "sha256": self.sha256, "time": self.time,
                "note": self.note}


@dataclass(frozen=True)
class RuleOutcome:
    passed: bool
    detail: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    asset: str
    result: str
    detail: str
    evidence: tuple[Evidence, ...]
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class ItemResult:
    item_id: str
    asset: str
    result: str
    source: str  # check | manual | none
    checks: tuple[str, ...] = ()
    detail: str = ""
    evidence: tuple[dict[str, Any], ...] = ()
    assessor: str | None = None
    assessed_at: str | None = None


@dataclass(frozen=True)
class TargetSpec:
    """Where host checks run: ``local``, ``root:/path`` or ``ssh://user@host[:port]``."""

    kind: str  # local | root | ssh
    name: str
    root: str | None = None
    host: str | None = None
    port: int = 22
    user: str | None = None
    key_file: str | None = None
    known_hosts: str | None = None


@dataclass
class RunSummary:
    """Mutable while a run accumulates; stored as one document."""

    id: str
    catalog: str
    level: int | None
    targets: list[str]
    started_at: str
    status: str = "running"
    finished_at: str | None = None
    actor: str = ""
    score: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    check_seconds: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    previous_run: str | None = None
