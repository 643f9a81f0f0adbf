"""Shared pieces of the line parsers: timestamps, time zones, the base ECS document."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import InvalidInput
from core.timeutil import iso

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """``UTC``, ``local``, an IANA name (``Asia/Shanghai``) or an offset (``+08:00``)."""
    if name in ("UTC", "utc", "Z", ""):
        return UTC
    if name == "local":
        local = datetime.now().astimezone().tzinfo
        return local or UTC
    m = _OFFSET.match(name)
    if m:
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        return timezone(-delta if m.group(1) == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"Unknown time zone {name!r}; use UTC, local, ±HH:MM or an IANA name "
                           "such as Asia/Shanghai.") from exc


def zone_label(tz: tzinfo) -> str:
    off = datetime.now(tz).utcoffset() or timedelta(0)
    minutes = int(off.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


class Clock:
    """Turns the timestamps found in logs into the stored ISO form, caching per second."""

    def __init__(self, tz: tzinfo, now: datetime | None = None) -> None:
        self.tz = tz
        self._now = now
        self._cache: dict[str, str | None] = {}

    def now(self) -> datetime:
        return self._now or datetime.now(UTC)

    def bsd(self, text: str) -> str | None:
        """``Feb 21 21:54:44`` (no year, no zone). The year is the one that puts the time at most a
        day in the future of now (so December lines read in January land in the previous year)."""
        hit = self._cache.get(text)
        if hit is not None or text in self._cache:
            return hit
        out: str | None = None
        parts = text.split()
        try:
            month = MONTHS[parts[0][:3].lower()]
            day = int(parts[1])
            hh, mm, ss = parts[2].split(":")
            sec_f = float(ss)
            now = self.now()
            year = now.year
            dt = datetime(year, month, day, int(hh), int(mm), int(sec_f), int(round((sec_f % 1) * 1e6)) % 1000000,
                          tzinfo=self.tz)
            if dt - now > timedelta(days=1):
                dt = dt.replace(year=year - 1)
            out = iso(dt)
        except (KeyError, IndexError, ValueError):
            out = None
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[text] = out
        return out

    def iso8601(self, text: str) -> str | None:
        """ISO 8601 with or without zone (the input's zone applies when there is none)."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        t = text.strip()
        if t.endswith("Z") or t.endswith("z"):
            t = t[:-1] + "+00:00"
        # Python < 3.11 style offsets without colon (+0400) are accepted by fromisoformat in 3.11.
        try:
            dt = datetime.fromisoformat(t.replace(" ", "T", 1))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz)
        out = iso(dt)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[text] = out
        return out

    def epoch(self, seconds: float) -> str:
        return iso(datetime.fromtimestamp(seconds, UTC))

    def clf(self, text: str) -> str | None:
        """Common log format ``25/Oct/2016:14:49:33 +0200``."""
        hit = self._cache.get(text)
        if hit is not None:
            return hit
        try:
            dt = datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")
        except ValueError:
            try:
                dt = datetime.strptime(text, "%d/%b/%Y:%H:%M:%S").replace(tzinfo=self.tz)
            except ValueError:
                return None
        out = iso(dt)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[text] = out
        return out


def add_related(doc: dict[str, Any], kind: str, value: Any) -> None:
    if value in (None, "", "-"):
        return
    related = doc.setdefault("related", {})
    values = related.setdefault(kind, [])
    if value not in values:
        values.append(value)


def is_ip(text: str) -> bool:
    """A valid IPv4 or IPv6 address (hot path: ``inet_pton`` is strict and fast)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
        return True
    except (OSError, ValueError):
        return False


def to_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None
