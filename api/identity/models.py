"""Users, sessions and API keys (frozen records; the service replaces them, never mutates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.auditing import Actor
from core.scope import DISTRICT


@dataclass(frozen=True)
class User:
    username: str
    role: str
    password_hash: str
    password_history: tuple[str, ...] = ()
    must_change_password: bool = False
    disabled: bool = False
    totp_secret: str | None = None
    totp_enabled: bool = False
    failures: tuple[str, ...] = ()
    locked_until: str | None = None
    created: str | None = None
    password_changed: str | None = None
    last_login: str | None = None
    # Bumped when every session must end (password change or reset, disable): a session
    # stamped with an older generation is refused on its next request.
    session_generation: int = 0
    # The last TOTP time step accepted: a code is single-use, so that step and older are refused.
    totp_last_step: int = -1
    # The department (部门) the user belongs to; roles hold inside it (``district``: district-wide).
    organization: str = DISTRICT

    def to_doc(self) -> dict[str, Any]:
        return {
            "username": self.username, "role": self.role, "password_hash": self.password_hash,
            "password_history": list(self.password_history), "must_change_password": self.must_change_password,
            "disabled": self.disabled, "totp_secret": self.totp_secret, "totp_enabled": self.totp_enabled,
            "failures": list(self.failures), "locked_until": self.locked_until, "created": self.created,
            "password_changed": self.password_changed, "last_login": self.last_login,
            "session_generation": self.session_generation, "totp_last_step": self.totp_last_step,
            "organization": {"id": self.organization},
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> User:
        return cls(
            username=doc["username"], role=doc["role"], password_hash=doc["password_hash"],
            password_history=tuple(doc.get("password_history") or ()),
            must_change_password=bool(doc.get("must_change_password")), disabled=bool(doc.get("disabled")),
            totp_secret=doc.get("totp_secret"), totp_enabled=bool(doc.get("totp_enabled")),
            failures=tuple(doc.get("failures") or ()), locked_until=doc.get("locked_until"),
            created=doc.get("created"), password_changed=doc.get("password_changed"),
            last_login=doc.get("last_login"), session_generation=int(doc.get("session_generation") or 0),
            totp_last_step=int(doc.get("totp_last_step", -1)),
            organization=str((doc.get("organization") or {}).get("id") or DISTRICT),
        )

    def public(self) -> dict[str, Any]:
        """What the API shows: never hashes or the TOTP secret."""
        return {"username": self.username, "role": self.role, "disabled": self.disabled,
                "must_change_password": self.must_change_password, "totp_enabled": self.totp_enabled,
                "locked_until": self.locked_until, "created": self.created,
                "password_changed": self.password_changed, "last_login": self.last_login,
                "organization": self.organization}


@dataclass
class Session:
    """A login (token) or an API-key call; ``last_seen`` drives the idle timeout."""

    session_id: str
    username: str
    role: str
    created: datetime
    last_seen: datetime
    expires: datetime
    address: str | None = None
    must_change_password: bool = False
    via: str = "token"
    extra: dict[str, Any] = field(default_factory=dict)
    # The user's department, read from the user record on every request (like the role).
    organization: str = DISTRICT
    # A district user narrowed to one department (``X-Organization``) acts for that department.
    acting_for: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(name=self.username, role=self.role, address=self.address,
                     organization=self.acting_for or self.organization)


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires: str
    username: str
    role: str
    must_change_password: bool
    idle_timeout_minutes: int
    organization: str = DISTRICT


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    username: str
    role: str
    key_hash: str
    created: str
    revoked: bool = False
    # The owner's department when the key was minted (a key acts with the owner's current one).
    organization: str = DISTRICT

    def public(self) -> dict[str, Any]:
        return {"id": self.key_id, "name": self.name, "username": self.username, "role": self.role,
                "created": self.created, "revoked": self.revoked, "organization": self.organization}
