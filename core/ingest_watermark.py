"""Shippers' in-flight watermarks: how far detections may look without passing an event in flight.

Detections judge each event once, in the window ``(checkpoint, upper]`` on ``event.ingested``.
A fixed ``upper = now - settle`` is not enough: a bulk that takes longer than the settle time
(retries up to the client timeout, a slow refresh) lands events whose ``event.ingested`` the
window has already passed, and they are never judged. So each shipper publishes, *before* it
stamps a batch, the oldest ``event.ingested`` stamp it has not yet had acknowledged, in a small
document of ``<prefix>-shippers`` with an expiry; detections read the oldest live one and stop
their window just before it.

The stamp and the watermark come from the same clock (the shipper's), so clock skew between a
collector host and the scheduler does not matter while a shipper holds a watermark; the settle
time still has to exceed the skew for a shipper that goes from idle to busy. A dead shipper's
watermark holds detections back until it expires (``ttl``, longer than one bulk attempt).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from core.es import Store
from core.timeutil import iso, parse_iso, utcnow

_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "owner": {"type": "keyword"},
        "inflight_since": {"type": "date"},
        "expires": {"type": "date"},
        "updated": {"type": "date"},
    },
}
# The window ends strictly before the oldest in-flight stamp (stamps have millisecond precision).
_EPSILON = timedelta(milliseconds=1)


def shippers_index(prefix: str) -> str:
    return f"{prefix}-shippers"


class Watermark:
    """One shipper's watermark. Single-threaded: the shipper that owns it calls it in order."""

    def __init__(self, store: Store, prefix: str, *, ttl_seconds: float = 120.0,
                 advance_seconds: float = 1.0, owner: str | None = None) -> None:
        self.store = store
        self.index = shippers_index(prefix)
        self.ttl = timedelta(seconds=ttl_seconds)
        self.advance = timedelta(seconds=advance_seconds)
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._published: datetime | None = None  # the visible watermark, None = idle
        self._expires: datetime | None = None
        self._ready = False

    def hold(self, stamp: datetime) -> None:
        """Before the first attempt of a batch stamped ``stamp``: make a watermark ≤ ``stamp`` visible.

        An earlier watermark is kept while it is recent (it is ≤ ``stamp`` and no batch is in
        flight), so a steady stream costs one small write per ``advance_seconds``."""
        if self._published is not None and self._expires is not None and stamp - self._published < self.advance \
                and self._expires - stamp > self.ttl / 2:
            return
        self._write(stamp, stamp + self.ttl, refresh=True)

    def keep_alive(self, now: datetime) -> None:
        """While one batch is retried: extend the expiry, keeping its first stamp."""
        if self._published is not None and self._expires is not None and self._expires - now < self.ttl / 2:
            self._write(self._published, now + self.ttl, refresh=True)

    def idle(self) -> None:
        """Nothing in flight: stop holding detections back. Made visible at once (one small
        refresh per transition to idle), so the next cycle does not wait on a stale watermark."""
        if self._published is not None:
            self._write(None, None, refresh=True)

    def close(self) -> None:
        if self._ready:
            self.store.delete(self.index, self.owner, refresh=True)
            self._published = self._expires = None

    def _write(self, since: datetime | None, expires: datetime | None, *, refresh: bool) -> None:
        if not self._ready:
            self.store.ensure_index(self.index, mappings=_MAPPINGS)
            self._ready = True
        self.store.put(self.index, self.owner, {
            "owner": self.owner, "inflight_since": iso(since) if since else None,
            "expires": iso(expires) if expires else None, "updated": iso(utcnow()),
        }, refresh=refresh)
        self._published, self._expires = since, expires


def oldest_in_flight(store: Store, prefix: str, now: datetime) -> datetime | None:
    """The oldest unexpired watermark of any shipper, or None when nothing is in flight."""
    resp = store.search(shippers_index(prefix), {
        "size": 0, "track_total_hits": False,
        "query": {"bool": {"filter": [{"exists": {"field": "inflight_since"}},
                                      {"range": {"expires": {"gt": iso(now)}}}]}},
        "aggs": {"oldest": {"min": {"field": "inflight_since"}}},
    })
    value = ((resp.get("aggregations") or {}).get("oldest") or {}).get("value_as_string")
    return parse_iso(value) if value else None


def window_end(store: Store, prefix: str, now: datetime, settle_seconds: float) -> datetime:
    """Detections' upper bound: ``now - settle``, but strictly before any event still in flight."""
    upper = now - timedelta(seconds=settle_seconds)
    oldest = oldest_in_flight(store, prefix, now)
    if oldest is not None:
        upper = min(upper, oldest - _EPSILON)
    return upper
