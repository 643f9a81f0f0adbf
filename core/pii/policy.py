"""The masking policy: per dataset, field and kind of personal information, one action.

``keep``  the value stays (tagged in ``pii.*``; the API masks it on display unless unmasked);
``mask``  ``110105********1234`` / ``138****5678`` (the clear value is never written anywhere);
``hash``  ``cn_ric#<16 hex>``, an HMAC keyed with ``SOC_PII_HASH_KEY`` (never stored in
          Elasticsearch), so equal values still join and count;
``drop``  the whole field is removed from the event.

Rules are tried in order, the configured ones before the built-in defaults; the first whose
``dataset``, ``field`` and ``type`` globs all match decides. Default (PIPL 敏感个人信息): identity
card, bank card, passport and permit numbers masked everywhere; everything else kept but tagged.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from core.pii.detectors import DETECTORS

Action = Literal["keep", "mask", "hash", "drop"]
ACTIONS: tuple[str, ...] = ("keep", "mask", "hash", "drop")


@dataclass(frozen=True)
class Rule:
    action: Action
    dataset: str = "*"
    field: str = "*"
    type: str = "*"

    def matches(self, dataset: str, field: str, kind: str) -> bool:
        return (fnmatch.fnmatchcase(dataset, self.dataset) and fnmatch.fnmatchcase(field, self.field)
                and fnmatch.fnmatchcase(kind, self.type))

    def to_dict(self) -> dict[str, str]:
        return {"dataset": self.dataset, "field": self.field, "type": self.type, "action": self.action}


DEFAULT_RULES: tuple[Rule, ...] = tuple(
    Rule(action="mask" if d.sensitive else "keep", type=d.name) for d in DETECTORS
) + (Rule(action="keep"),)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...] = DEFAULT_RULES
    # datasets where personal information must not appear at all (events get pii.policy_violation)
    forbidden_datasets: tuple[str, ...] = ()

    @classmethod
    def build(cls, rules: Iterable[Mapping[str, str]] = (), forbidden: Iterable[str] = ()) -> Policy:
        custom = tuple(Rule(action=r["action"], dataset=r.get("dataset", "*"),  # type: ignore[arg-type]
                            field=r.get("field", "*"), type=r.get("type", "*")) for r in rules)
        return cls(rules=custom + DEFAULT_RULES, forbidden_datasets=tuple(forbidden))

    def action(self, dataset: str, field: str, kind: str) -> Action:
        for rule in self.rules:
            if rule.matches(dataset, field, kind):
                return rule.action
        return "keep"

    def forbidden(self, dataset: str) -> bool:
        return any(fnmatch.fnmatchcase(dataset, pat) for pat in self.forbidden_datasets)

    @property
    def uses_hash(self) -> bool:
        return any(r.action == "hash" for r in self.rules)

    def to_dict(self) -> dict[str, object]:
        return {"rules": [r.to_dict() for r in self.rules], "forbidden_datasets": list(self.forbidden_datasets)}

