"""Find personal information in text: one compiled pattern, one pass.

``PRESCAN`` runs over an event's serialised bytes (the hot path: most events carry nothing and
cost one regex search); ``scan`` runs over one string and returns validated findings. Full-width
digits, letters and separators (common in Chinese text) are folded to ASCII one character for one
character, so match positions stay valid on the original string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.pii.detectors import (
    ALPHA_PATTERNS,
    EMAIL,
    NAME_LABELS,
    NUMERIC_BY_LENGTH,
    PERSON_NAME,
    RESIDENT_ID,
    Detector,
    ric_shaped,
)
from core.pii.prescan import Prescan

_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD[0x3000] = 0x20
_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")

_NUM = r"[0-9](?:[ -]?[0-9]){9,22}[Xx]?"
_ALPHA = "|".join(f"(?P<a{i}>{pat})" for i, (_d, pat) in enumerate(ALPHA_PATTERNS))
# Patterns start with a character class so the regex engine can skip ahead fast; the left
# boundary is checked in code (a lookbehind first would disable that skip).
_CANDIDATE = re.compile(rf"(?P<num>{_NUM})(?![0-9A-Za-z])|(?:{_ALPHA})(?![0-9A-Za-z])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){1,8}")
_ALPHA_DETECTORS = {f"a{i}": d for i, (d, _p) in enumerate(ALPHA_PATTERNS)}
_WORD = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

# Bytes pre-scan over serialised JSON: a superset of the above (no left boundary, since the
# character before a value may be the letter of an escape such as ``\n``); full-width text and any
# ``@`` send the event to the full scan (core/pii/prescan.py: Hyperscan or RE2).
PRESCAN = Prescan([r"[0-9](?:[ -]?[0-9]){9,22}"] + [pat for _d, pat in ALPHA_PATTERNS]
                  + [r"@[A-Za-z0-9\-]+\.[A-Za-z]", "[\uff01-\uff5e]", "\u3000"])


# Names (optional): 2-4 CJK characters after a label and one separator; group "n" is the name.
_NAME = re.compile("(?:" + "|".join(NAME_LABELS) + r")[:：=\s]\s?(?P<n>[\u4e00-\u9fa5]{2,4})(?![\u4e00-\u9fa5])")
NAME_PRESCAN = Prescan(list(NAME_LABELS))


@dataclass(slots=True)
class Finding:
    detector: Detector
    start: int
    end: int
    value: str  # canonical form (digits only, upper case): what keyed hashes are computed over


def fold(text: str) -> str:
    if text.isascii():
        return text
    return text.translate(_FOLD) if _FULLWIDTH.search(text) else text


def _validate(det: Detector, span: str) -> str | None:
    """A validator's own bug or a table gap (stdnum has raised KeyError) must never stop ingest."""
    try:
        return det.validate(span)
    except Exception:  # noqa: BLE001
        return None


def _left_ok(text: str, start: int) -> bool:
    return start == 0 or text[start - 1] not in _WORD


def _numeric(text: str, start: int, end: int) -> Finding | None:
    span = text[start:end]
    if span[-1] in "Xx" and len(span) > 1 and not span[-2].isdigit():
        return None
    digits = sum(1 for c in span if c.isdigit() or c in "Xx")
    for det in NUMERIC_BY_LENGTH.get(digits, ()):
        value = _validate(det, span)
        if value is not None:
            return Finding(det, start, end, value)
        if det is RESIDENT_ID and digits == 18 and ric_shaped(span):
            return None
    return None


def _split_numeric(text: str, start: int, end: int) -> list[Finding]:
    """A run such as ``port 8080 13812345678`` glued two numbers: try the whole, then its parts."""
    hit = _numeric(text, start, end)
    if hit is not None:
        return [hit]
    out: list[Finding] = []
    if any(c in " -" for c in text[start:end]):
        for m in re.finditer(r"[0-9Xx]+", text[start:end]):
            s, e = start + m.start(), start + m.end()
            if e - s >= 11:
                part = _numeric(text, s, e)
                if part is not None:
                    out.append(part)
    return out


def scan(text: str, *, names: bool = False) -> list[Finding]:
    """Validated findings in ``text`` (positions index ``text`` itself); ``names`` adds labelled
    Chinese personal names."""
    folded = fold(text)
    found: list[Finding] = []
    for m in _CANDIDATE.finditer(folded):
        start = m.start()
        if not _left_ok(folded, start):
            continue
        group = m.lastgroup
        if group == "num":
            # a leading "+86"/"0086" belongs to a mobile number; the digits are in the run already
            found.extend(_split_numeric(folded, start, m.end()))
        elif group is not None:
            det = _ALPHA_DETECTORS[group]
            value = _validate(det, m.group())
            if value is not None:
                found.append(Finding(det, start, m.end(), value))
    if "@" in folded:
        for m in _EMAIL.finditer(folded):
            value = _validate(EMAIL, m.group())
            if value is not None:
                found.append(Finding(EMAIL, m.start(), m.end(), value))
    if names:
        for m in _NAME.finditer(folded):
            value = _validate(PERSON_NAME, m.group("n"))
            if value is not None:
                found.append(Finding(PERSON_NAME, m.start("n"), m.end("n"), value))
        found.sort(key=lambda f: f.start)
    return found


def mask_span(span: str, detector: Detector) -> str:
    """``110105199003071234`` → ``110105********1234``; separators, a country code and '@domain'
    stay as they are."""
    keep = detector.keep
    at = span.rfind("@")
    if at > 0:
        local = span[:at]
        return local[:keep[0]] + "*" * max(len(local) - keep[0], 1) + span[at:]
    sig = [i for i, c in enumerate(span) if c.isalnum()]
    head, tail = keep
    if len(sig) > 11 and detector.name == "cn_mobile":
        head += len(sig) - 11
    if len(sig) <= head + tail:
        hidden = sig[head:] if len(sig) > head else sig
    else:
        hidden = sig[head:len(sig) - tail]
    chars = list(span)
    for i in hidden:
        chars[i] = "*"
    return "".join(chars)
