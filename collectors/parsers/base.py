"""The parser every line parser extends (its own module so that parsers loaded by name, such as
journald's, need not import the package that picks them)."""

from __future__ import annotations

from typing import Any

from collectors.parsers.common import Clock, zone, zone_label


class LineParser:
    """Parses the lines of one event (usually one line) into ``(dataset, doc, ok)``."""

    name = "plain"
    module = "log"
    dataset = "log"

    def __init__(self, timezone: str = "UTC") -> None:
        self.tz = zone(timezone)
        self.tz_label = zone_label(self.tz)
        self.clock = Clock(self.tz)

    def continues(self, text: str) -> bool:
        """True if ``text`` continues the previous event (multi-line)."""
        return False

    def group_key(self, text: str) -> str | None:
        return None

    def parse(self, lines: list[str]) -> tuple[str, dict[str, Any], bool]:
        text = "\n".join(lines)
        return self.dataset, {"message": text, "event": {"kind": "event", "dataset": self.dataset,
                                                          "module": self.module, "original": text}}, True
