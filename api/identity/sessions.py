"""Login sessions in ``<prefix>-sessions``, shared by every API process and the CLI.

A session document holds who logged in, when, and the user's session generation at that
time. Every request reads the session and the user record by id (realtime GETs, no cache), so
a change made anywhere — ``soc users disable``, a role change, a password change — applies to
the very next request, and an API restart keeps everyone logged in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from api.errors import localized
from api.identity.models import Session, User
from api.identity.records import IdentityStore
from core.auditing import Actor, Auditor
from core.errors import NotFound, Unauthenticated
from core.scope import organization_of
from core.timeutil import iso, parse_iso

# last_seen is written at most this often: the idle timeout is counted in minutes, and one
# write per request would double the cost of every call.
_TOUCH_SECONDS = 30


def token_id(token: str) -> str:
    """Sessions are stored under a hash of the token: reading the index yields no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, records: IdentityStore, auditor: Auditor) -> None:
        self.records = records
        self.auditor = auditor
        self.settings = records.settings

    @property
    def _index(self) -> str:
        return self.records.sessions_index

    def issue(self, user: User, *, address: str | None = None) -> tuple[str, Session]:
        """A new session for a user who just proved who they are."""
        now = self.records.now()
        token = secrets.token_urlsafe(32)
        expires = now + timedelta(minutes=self.settings.api.token_ttl_minutes)
        session = Session(session_id=token_id(token), username=user.username, role=user.role, created=now,
                          last_seen=now, expires=expires, address=address,
                          must_change_password=user.must_change_password, organization=user.organization)
        self.records.ensure_indices()
        self.records.store.put(self._index, session.session_id, {
            "username": user.username, "generation": user.session_generation, "created": iso(now),
            "last_seen": iso(now), "expires": iso(expires), "address": address,
            "organization": {"id": user.organization},
        }, create=True)
        self._forget_expired(user.username, now)
        return token, session

    def authenticate(self, token: str, *, address: str | None = None) -> Session:
        self.records.ensure_indices()
        sid = token_id(token)
        doc = self.records.store.get(self._index, sid)
        if doc is None:
            raise Unauthenticated("The token is unknown or was revoked; log in again.")
        src = doc["_source"]
        now = self.records.now()
        created, last_seen, expires = (parse_iso(src[k]) for k in ("created", "last_seen", "expires"))
        idle = timedelta(minutes=self.settings.api.idle_timeout_minutes)
        if now >= expires or now - last_seen > idle:
            self.records.store.delete(self._index, sid)
            self.auditor.record(Actor(name=src["username"], role="?", address=address,
                                      organization=organization_of(src)), "auth.session_expired", src["username"])
            raise localized(Unauthenticated("The session expired (idle or too old); log in again."),
                            "auth.session_expired")
        found = self.records.load(src["username"])
        if found is None or found[0].disabled or found[0].session_generation != src.get("generation", 0):
            self.records.store.delete(self._index, sid)
            raise localized(Unauthenticated("The session was ended: the account was disabled or its password "
                                            "changed; log in again."), "auth.session_ended")
        user = found[0]
        if (now - last_seen).total_seconds() >= _TOUCH_SECONDS:
            try:
                self.records.store.update(self._index, sid, {"last_seen": iso(now)})
            except NotFound as exc:  # logged out by a concurrent request
                raise Unauthenticated("The token is unknown or was revoked; log in again.") from exc
        return Session(session_id=sid, username=user.username, role=user.role, created=created, last_seen=now,
                       expires=expires, address=address or src.get("address"),
                       must_change_password=user.must_change_password, organization=user.organization)

    def end(self, session: Session) -> None:
        self.records.ensure_indices()
        self.records.store.delete(self._index, session.session_id)

    def keep_only(self, session: Session, generation: int) -> None:
        """After the user's generation moved on (a password change): this session stays valid."""
        self.records.store.update(self._index, session.session_id, {"generation": generation})

    def _forget_expired(self, username: str, now: datetime) -> None:
        # No delete-by-query on a server-core node: remove what a search finds (bounded per login).
        resp = self.records.store.search(self._index, {
            "size": 100, "_source": False,
            "query": {"bool": {"filter": [{"term": {"username": username}},
                                          {"range": {"expires": {"lt": iso(now)}}}]}}})
        for hit in resp["hits"]["hits"]:
            self.records.store.delete(self._index, hit["_id"])
