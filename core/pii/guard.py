"""Apply the policy to one event before it is serialised into the spool.

``Guard.protect`` is the collectors' only hook: it returns the document to write, with masked,
hashed or dropped values and the ``pii.*`` tags. An event with nothing to find costs one
serialisation and one regex search (``PRESCAN``); only candidates are walked field by field.
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson

from core.pii.policy import Policy
from core.pii.scanner import NAME_PRESCAN, PRESCAN, Finding, mask_span, scan

# Where the guard writes; never scanned (tokens are not personal information).
PII_KEY = "pii"


class Guard:
    def __init__(self, policy: Policy, key: bytes, *, names: bool = False) -> None:
        self.policy = policy
        self._key = key
        self.names = names
        # (dataset, field, kind) -> action: the glob matching runs once per combination
        self._actions: dict[tuple[str, str, str], str] = {}

    def token(self, kind: str, value: str) -> str:
        """Keyed hash of a canonical value: equal identities join without the clear value."""
        return hmac.digest(self._key, f"{kind}:{value}".encode(), "sha256").hex()[:16]

    def protect(self, dataset: str, doc: dict[str, Any]) -> dict[str, Any]:
        raw = orjson.dumps(doc, default=str)
        if not PRESCAN.search(raw) and not (self.names and NAME_PRESCAN.search(raw)):
            return doc
        state = _State()
        out = self._walk(dataset, doc, "", state)
        if not state.count:
            return doc
        tags: dict[str, Any] = {
            "types": sorted(state.types), "count": state.count, "fields": sorted(state.fields),
            "ids": sorted(state.ids), "actions": sorted(state.actions),
            # "field|type" pairs: where each kind was found (the inventory groups on these)
            "locations": sorted(state.locations),
        }
        if self.policy.forbidden(dataset):
            tags["policy_violation"] = True
        out[PII_KEY] = tags
        return out

    def _walk(self, dataset: str, node: dict[str, Any], path: str, state: _State) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not path and key == PII_KEY:
                continue
            field = f"{path}.{key}" if path else key
            new = self._value(dataset, field, value, state)
            if new is not _DROP:
                out[key] = new
        return out

    def _value(self, dataset: str, field: str, value: Any, state: _State) -> Any:
        if isinstance(value, str):
            return self._text(dataset, field, value, state)
        if isinstance(value, dict):
            return self._walk(dataset, value, field, state)
        if isinstance(value, list):
            items = [self._value(dataset, field, v, state) for v in value]
            return [v for v in items if v is not _DROP]
        return value

    def _text(self, dataset: str, field: str, text: str, state: _State) -> Any:
        findings = scan(text, names=self.names)
        if not findings:
            return text
        state.fields.add(field)
        parts: list[str] = []
        pos = 0
        dropped = False
        for f in findings:
            key = (dataset, field, f.detector.name)
            action = self._actions.get(key)
            if action is None:
                if len(self._actions) > 50_000:
                    self._actions.clear()
                action = self._actions[key] = self.policy.action(*key)
            state.note(f, action, self.token(f.detector.name, f.value), field)
            parts.append(text[pos:f.start])
            parts.append(self._replace(text, f, action))
            pos = f.end
            dropped = dropped or action == "drop"
        if dropped:
            return _DROP
        parts.append(text[pos:])
        return "".join(parts)

    def _replace(self, text: str, f: Finding, action: str) -> str:
        span = text[f.start:f.end]
        if action == "mask":
            return mask_span(span, f.detector)
        if action == "hash":
            return f"{f.detector.name}#{self.token(f.detector.name, f.value)}"
        return span


class _Drop:
    pass


_DROP = _Drop()


class _State:
    __slots__ = ("count", "types", "fields", "ids", "actions", "locations")

    def __init__(self) -> None:
        self.count = 0
        self.types: set[str] = set()
        self.fields: set[str] = set()
        self.ids: set[str] = set()
        self.actions: set[str] = set()
        self.locations: set[str] = set()

    def note(self, f: Finding, action: str, token: str, field: str) -> None:
        self.locations.add(f"{field}|{f.detector.name}")
        self.count += 1
        self.types.add(f.detector.name)
        self.ids.add(token)
        self.actions.add(action)
