"""Where identity state lives: the users, sessions and API-key indices, and user records read
and written with optimistic concurrency (every write names the ``_seq_no`` it read)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from api.identity.models import User
from core.errors import InvalidInput, NotFound
from core.es import Store
from core.permissions import ROLES
from core.settings import Settings

INITIAL_ADMIN = "admin"
# Known demo passwords (demo mode only); each satisfies the password policy.
DEMO_USERS: dict[str, tuple[str, str]] = {
    "analyst": ("analyst", "Demo#Analyze2026"),
    "auditor": ("auditor", "Demo#Inspect2026"),
    "sysadmin": ("sysadmin", "Demo#Operate2026"),
}
# Demo users of the demo network's departments (soc.demo.DEPARTMENTS): username -> (role,
# department, password); created in demo mode when that department is among the settings' seeds.
DEMO_DEPARTMENT_USERS: dict[str, tuple[str, str, str]] = {
    "jw-analyst": ("analyst", "jiaowei", "Demo#Jiaowei2026"),
    "wj-auditor": ("auditor", "weijianwei", "Demo#Weijian2026"),
}


def demo_password(username: str) -> str | None:
    """The published password of a demo account (None: not a demo account)."""
    if username in DEMO_USERS:
        return DEMO_USERS[username][1]
    if username in DEMO_DEPARTMENT_USERS:
        return DEMO_DEPARTMENT_USERS[username][2]
    return None


USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")

_KW = {"type": "keyword"}
_ORG = {"properties": {"id": _KW}}
USERS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"username": _KW, "role": _KW, "disabled": {"type": "boolean"}, "created": {"type": "date"},
                   "organization": _ORG},
}
APIKEYS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"key_id": _KW, "username": _KW, "revoked": {"type": "boolean"}, "created": {"type": "date"},
                   "organization": _ORG},
}
SESSIONS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"username": _KW, "expires": {"type": "date"}, "created": {"type": "date"}},
}
REQUESTS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"status": _KW, "target": _KW, "requested_by": _KW, "created": {"type": "date"},
                   "organization": _ORG},
}

Loaded = tuple[User, int, int]


def check_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not (2 <= len(name) <= 64) or not set(name) <= USERNAME_CHARS:
        raise InvalidInput("A user name has 2-64 characters: lowercase letters, digits, '.', '_' or '-'.",
                           detail=[{"field": "username", "message": "invalid user name"}])
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.",
                           detail=[{"field": "role", "message": "unknown role"}])
    return role


class IdentityStore:
    """The indices of identity, created on first use; user records by name."""

    def __init__(self, settings: Settings, store: Store, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.users_index = settings.index("users")
        self.keys_index = settings.index("apikeys")
        self.sessions_index = settings.index("sessions")
        self.requests_index = settings.index("user-requests")
        self._ready = False

    def ensure_indices(self) -> None:
        if not self._ready:
            self.store.ensure_index(self.users_index, mappings=USERS_MAPPING)
            self.store.ensure_index(self.keys_index, mappings=APIKEYS_MAPPING)
            self.store.ensure_index(self.sessions_index, mappings=SESSIONS_MAPPING)
            self.store.ensure_index(self.requests_index, mappings=REQUESTS_MAPPING)
            self._ready = True

    def load(self, username: str) -> Loaded | None:
        self.ensure_indices()
        doc = self.store.get(self.users_index, username)
        if doc is None:
            return None
        return User.from_doc(doc["_source"]), int(doc["_seq_no"]), int(doc["_primary_term"])

    def require(self, username: str) -> Loaded:
        found = self.load(username)
        if found is None:
            raise NotFound(f"No user {username!r}; list users with `soc users list` or GET /api/v1/users.")
        return found

    def save(self, user: User, seq: int | None = None, term: int | None = None, *, create: bool = False) -> None:
        """Write the record; with ``seq``/``term`` only if nobody wrote it since (else ``Conflict``)."""
        self.ensure_indices()
        self.store.put(self.users_index, user.username, user.to_doc(), create=create,
                       if_seq_no=seq, if_primary_term=term)

    def all_users(self) -> list[User]:
        self.ensure_indices()
        self.store.refresh(self.users_index)
        resp = self.store.search(self.users_index, {"size": 1000, "sort": [{"username": "asc"}]})
        return [User.from_doc(h["_source"]) for h in resp["hits"]["hits"]]

    def now(self) -> datetime:
        return self.clock()
