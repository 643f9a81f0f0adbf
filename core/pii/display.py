"""Display masking: what analysts see by default.

Values kept at ingest (mobile numbers and e-mail under the default policy) are stored, tagged in
``pii.*``, and masked on the way out of the API and CLI (hunt, alert detail, alert export). Only
an unmask grant (``privacy.service.unmask_event``) shows them, audited.
"""

from __future__ import annotations

from typing import Any

import orjson

from core.pii.scanner import NAME_PRESCAN, PRESCAN, mask_span, scan


def _mask_text(text: str) -> str:
    # labelled names are masked on display whether or not ingest tags them (SOC_PII_NAMES)
    findings = scan(text, names=True)
    if not findings:
        return text
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(text[pos:f.start])
        parts.append(mask_span(text[f.start:f.end], f.detector))
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, dict):
        return {k: (v if k == "pii" else _walk(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v) for v in value]
    return value


def mask_for_display(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with every personal identifier masked (a copy; ``doc`` itself is unchanged)."""
    raw = orjson.dumps(doc, default=str)
    if not PRESCAN.search(raw) and not NAME_PRESCAN.search(raw):
        return doc
    out = _walk(doc)
    assert isinstance(out, dict)
    return out
