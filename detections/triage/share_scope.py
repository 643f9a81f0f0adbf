"""The scope hook of case sharing: which document ids a user may read through active grants
(``visible_ids``, consulted when the API builds a caller's ``core.scope.Scope``), and the audit
record of each read that returned documents only a grant made visible (``note_access``, called
by the store through ``Scope.on_shared_access``). Registered as ``services["sharing"]``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import scope as scopes
from core.auditing import Actor, Auditor
from core.errors import NotFound
from core.es import Store
from core.settings import Settings
from core.timeutil import iso, parse_iso, utcnow
from detections.triage.share_records import for_owner, generation, shares_index

MAX_VISIBLE = 60_000
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grant:
    share_id: str
    case_id: str
    owner: str
    expires: datetime
    doc_ids: frozenset[str]


class ShareScope:
    """Grants per grantee, read under ``system()`` and cached ``ttl`` seconds (dropped at once
    when this process writes a grant). Expiry is checked on every call against ``clock``, so a
    cached grant never outlives its deadline."""

    def __init__(self, settings: Settings, store: Store, auditor: Auditor, *,
                 clock: Callable[[], datetime] = utcnow, ttl: float = 5.0) -> None:
        self.settings = settings
        self.store = store
        self.auditor = auditor
        self.clock = clock
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, int, tuple[Grant, ...]]] = {}

    def _load(self, username: str, now: datetime) -> tuple[Grant, ...]:
        query = {"bool": {"filter": [{"term": {"grantees": username}}, {"range": {"expires": {"gt": iso(now)}}}],
                          "must_not": [{"exists": {"field": "revoked"}}]}}
        with scopes.system():
            try:
                resp = self.store.search(shares_index(self.settings), {
                    "size": 200, "query": query,
                    "_source": ["share_id", "case_id", "organization", "expires", "doc_ids"]})
            except NotFound:
                return ()
        return tuple(Grant(share_id=str(s.get("share_id")), case_id=str(s.get("case_id")),
                           owner=scopes.organization_of(s) or scopes.DISTRICT, expires=parse_iso(str(s["expires"])),
                           doc_ids=frozenset(str(i) for i in s.get("doc_ids") or []))
                     for s in (h["_source"] for h in resp["hits"]["hits"]))

    def grants(self, username: str) -> tuple[Grant, ...]:
        """The user's active grants (not revoked, not expired)."""
        if not username:
            return ()
        now = self.clock()
        gen = generation()
        with self._lock:
            cached = self._cache.get(username)
        if cached is None or cached[1] != gen or time.monotonic() - cached[0] > self.ttl:
            loaded = self._load(username, now)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[username] = (time.monotonic(), gen, loaded)
            cached = self._cache[username]
        return tuple(g for g in cached[2] if g.expires > now)

    def visible_ids(self, username: str) -> frozenset[str]:
        ids: set[str] = set()
        # Newest deadline first; the hard cap keeps every search under Elasticsearch's term
        # limits even when grants grew after they were made (grants are checked when made).
        for grant in sorted(self.grants(username), key=lambda g: g.expires, reverse=True):
            if len(ids) + len(grant.doc_ids) > MAX_VISIBLE:
                _log.warning("user %s: grant %s left out of the read scope (%d shared ids already)",
                             username, grant.share_id, len(ids))
                continue
            ids |= grant.doc_ids
        return frozenset(ids)

    def note_access(self, actor: Actor, doc_ids: list[str]) -> None:
        """One audit record per read that returned documents visible only through a grant (one
        per owning department, in the rare read that spans grants of several), filed under the
        owner so its auditors see who read its data."""
        wanted = set(doc_ids)
        via = [g for g in self.grants(actor.name) if g.doc_ids & wanted]
        owners = sorted({g.owner for g in via}) or [scopes.DISTRICT]
        for owner in owners:
            mine = [g for g in via if g.owner == owner]
            ids = sorted(set().union(*(g.doc_ids & wanted for g in mine))) if mine else sorted(wanted)
            detail: dict[str, Any] = {
                "actor_organization": actor.organization, "owner": owner,
                "shares": [g.share_id for g in mine], "cases": sorted({g.case_id for g in mine}),
                # A page of events can be long: the ids up to 100, the count always.
                "count": len(ids), "doc_ids": ids[:100]}
            with scopes.system():
                self.auditor.record(for_owner(actor, owner), "case.share.access",
                                    ",".join(detail["cases"]) or "case-share", detail=detail)
