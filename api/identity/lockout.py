"""Brute-force defences: an atomic per-account lockout and a per-address login rate.

Lockout is decided *before* a password is checked. Each attempt claims a slot in the user's
failure list with an optimistic-concurrency write (``if_seq_no``); only an attempt whose claim
was stored gets its password evaluated, and the claim that reaches the threshold stores the lock
in the same write. So however many guesses arrive in parallel, at most ``lockout_threshold``
passwords are ever checked per window. A correct password then clears the failures.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from api.errors import localized
from api.identity.models import User
from api.identity.records import IdentityStore
from core.errors import Conflict, RateLimited
from core.timeutil import iso, parse_iso

_MAX_ROUNDS = 100  # a claim loses at most one round per concurrent winner


@dataclass(frozen=True)
class Claim:
    user: User
    locks: bool  # this attempt's failure (if it fails) locks the account


class LoginGuard:
    def __init__(self, records: IdentityStore) -> None:
        self.records = records
        self.api = records.settings.api

    def claim(self, username: str, now: datetime) -> Claim | None:
        """Reserve an evaluation for ``username``; None when it must not be evaluated (no such
        user, disabled, locked, or too much contention)."""
        for _round in range(_MAX_ROUNDS):
            found = self.records.load(username)
            if found is None:
                return None
            user, seq, term = found
            if user.disabled or (user.locked_until and parse_iso(user.locked_until) > now):
                return None
            window_start = now - timedelta(minutes=self.api.lockout_window_minutes)
            recent = [f for f in user.failures if parse_iso(f) > window_start] + [iso(now)]
            locks = len(recent) >= self.api.lockout_threshold
            locked_until = iso(now + timedelta(minutes=self.api.lockout_minutes)) if locks else None
            claimed = replace(user, failures=tuple(recent[-self.api.lockout_threshold:]), locked_until=locked_until)
            try:
                self.records.save(claimed, seq, term)
            except Conflict:
                continue
            return Claim(user=claimed, locks=locks)
        return None

    def succeed(self, username: str, now: datetime) -> User:
        """The password (and second factor) were right: forget the failures, record the login."""
        for _round in range(_MAX_ROUNDS):
            user, seq, term = self.records.require(username)
            done = replace(user, failures=(), locked_until=None, last_login=iso(now))
            try:
                self.records.save(done, seq, term)
            except Conflict:
                continue
            return done
        raise Conflict("The account is being changed concurrently; log in again.")


class AddressLimiter:
    """Failed logins per source address and minute (sliding window, this process): past the
    limit, further attempts from that address are refused before anything is evaluated."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        seen = self._failures.setdefault(key, deque())
        while seen and now - seen[0] >= 60:
            seen.popleft()
        return seen

    def check(self, address: str | None) -> None:
        key = address or "?"
        now = time.monotonic()
        with self._lock:
            seen = self._recent(key, now)
            if len(seen) >= self.per_minute:
                wait = int(60 - (now - seen[0])) + 1
                raise localized(RateLimited(f"Too many failed logins from {key}; wait {wait} s and try again.",
                                            detail={"retry_after": wait}), "auth.rate_limited", seconds=wait)

    def failed(self, address: str | None) -> None:
        key = address or "?"
        now = time.monotonic()
        with self._lock:
            self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # forget idle addresses so the table stays bounded
                for stale in [a for a, q in self._failures.items() if not q or now - q[-1] >= 60]:
                    del self._failures[stale]
