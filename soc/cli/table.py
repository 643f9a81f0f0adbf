"""Plain-text tables for terminals: a header row, columns padded by display width (CJK = 2)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` display columns (ending in … when cut) and pad it."""
    if display_width(text) > width:
        out, used = [], 0
        for ch in text:
            w = display_width(ch)
            if used + w > width - 1:
                break
            out.append(ch)
            used += w
        text = "".join(out) + "…"
    return text + " " * (width - display_width(text))


def render(headers: Sequence[str], rows: Sequence[Sequence[object]], *, max_width: int = 48) -> str:
    """Columns as wide as their widest cell (capped at ``max_width``); the last column is never cut."""
    cells = [[("-" if v is None or v == "" else str(v)).replace("\n", " ") for v in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], min(display_width(cell), max_width))
    last = len(headers) - 1

    def line(values: Sequence[str]) -> str:
        return "  ".join(v if i == last else _fit(v, widths[i]) for i, v in enumerate(values)).rstrip()

    out = [line(list(headers)), line(["─" * w for w in widths[:last]] + ["─" * max(widths[last], 1)])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)
