"""Identity: the login flow, and the one object the API (``app.state.identity``) and ``soc
users`` hold. The parts live in their own modules:

- ``records``: the indices and user records (optimistic concurrency);
- ``sessions``: login sessions in ``<prefix>-sessions``, shared by every process;
- ``lockout``: the atomic per-account lockout and the per-address login rate;
- ``second_factor``: TOTP enrolment and single-use codes;
- ``apikeys``: API keys, minted by their owner only;
- ``users`` and ``approvals``: administration with dual control over audit-role accounts;
- ``bootstrap``: the initial admin and demo users.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from api.errors import localized
from api.identity import bootstrap
from api.identity.apikeys import ApiKeys
from api.identity.lockout import AddressLimiter, LoginGuard
from api.identity.models import LoginResult, Session
from api.identity.passwords import check_policy, hash_password, verify_password
from api.identity.records import DEMO_USERS, INITIAL_ADMIN, USERNAME_CHARS, IdentityStore, demo_password
from api.identity.second_factor import SecondFactor
from api.identity.sessions import Sessions
from api.identity.users import UserAdmin
from core.auditing import Actor, Auditor
from core.departments import Departments
from core.errors import PermissionDenied, Unauthenticated
from core.es import Store
from core.scope import system
from core.settings import Settings
from core.timeutil import iso, utcnow

_FAILURE_FLOOR_SECONDS = 0.3

__all__ = ["DEMO_USERS", "INITIAL_ADMIN", "IdentityService", "ensure_demo_users", "ensure_initial_admin"]

F = TypeVar("F", bound=Callable[..., Any])


def _platform(fn: F) -> F:
    """Identity look-ups on the platform's behalf: logins and credential checks run before the
    caller's scope is known, and a caller's own record is theirs whichever department they act for."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with system():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class IdentityService:
    def __init__(self, settings: Settings, store: Store, auditor: Auditor,
                 clock: Callable[[], datetime] = utcnow, departments: Departments | None = None) -> None:
        self.settings = settings
        self.auditor = auditor
        self.departments = departments or Departments(settings, store)
        self.records = IdentityStore(settings, store, clock)
        self.sessions = Sessions(self.records, auditor)
        self.guard = LoginGuard(self.records)
        self.limiter = AddressLimiter(settings.api.login_failures_per_minute)
        self.second_factor = SecondFactor(self.records, auditor)
        self.api_keys = ApiKeys(self.records, auditor)
        self.users = UserAdmin(self.records, auditor, self.departments)

    # -- login ------------------------------------------------------------------------------------

    def _failed(self, address: str | None) -> Unauthenticated:
        # One answer for a wrong password, an unknown user, a disabled or a locked account: the
        # reply must not tell which names exist. The lockout policy is the same for everyone.
        self.limiter.failed(address)
        api = self.settings.api
        return localized(Unauthenticated("Wrong user name or password, or the account is locked or disabled.",
                                         detail={"lockout_threshold": api.lockout_threshold,
                                                 "lockout_minutes": api.lockout_minutes}),
                         "auth.login_failed")

    def _published_demo_password(self, name: str, password: str) -> bool:
        return not self.settings.demo and password == demo_password(name)

    @_platform
    def login(self, username: str, password: str, *, totp_code: str | None = None,
              address: str | None = None) -> LoginResult:
        self.limiter.check(address)
        started = time.monotonic()
        try:
            return self._login(username, password, totp_code=totp_code, address=address)
        except Unauthenticated:
            # The causes differ by an Elasticsearch write or two; a floor on the answer time of
            # every failure hides that difference (the hash check dominates either way).
            time.sleep(max(0.0, started + _FAILURE_FLOOR_SECONDS - time.monotonic()))
            raise

    def _login(self, username: str, password: str, *, totp_code: str | None,
               address: str | None) -> LoginResult:
        name = (username or "").strip().lower()
        now = self.records.now()
        claim = self.guard.claim(name, now) if name and set(name) <= USERNAME_CHARS else None
        if claim is None:
            verify_password(None, password)  # the same hashing work as a real check
            self._audit_login(name or "?", address, "failure", "unknown user, disabled or locked account")
            raise self._failed(address)
        user = claim.user
        if not verify_password(user.password_hash, password) or self._published_demo_password(name, password):
            self._audit_login(name, address, "failure", "wrong password", user.role, user.organization)
            if claim.locks:
                self.auditor.record(replace(Actor.system("identity"), organization=user.organization), "auth.lockout",
                                    name, detail={"until": user.locked_until})
            raise self._failed(address)
        if user.totp_enabled:
            if not totp_code:
                self._audit_login(name, address, "failure", "second factor missing", user.role, user.organization)
                raise localized(Unauthenticated("This account needs a one-time code: send `totp_code`.",
                                                detail={"totp_required": True}), "auth.totp_required")
            if not self.second_factor.consume(name, totp_code, now):
                self._audit_login(name, address, "failure", "wrong or reused one-time code", user.role,
                                  user.organization)
                self.limiter.failed(address)
                raise Unauthenticated("Wrong or already used one-time code.", detail={"totp_required": True})
        user = self.guard.succeed(name, now)
        token, session = self.sessions.issue(user, address=address)
        self._audit_login(name, address, "success", None, user.role, user.organization)
        return LoginResult(token=token, expires=iso(session.expires), username=name, role=user.role,
                           must_change_password=user.must_change_password,
                           idle_timeout_minutes=self.settings.api.idle_timeout_minutes,
                           organization=user.organization)

    def _audit_login(self, name: str, address: str | None, outcome: str, why: str | None,
                     role: str = "unknown", organization: str | None = None) -> None:
        # A known account's logins are its department's records (its auditors review them).
        self.auditor.record(Actor(name=name, role=role, address=address, organization=organization), "auth.login",
                            name, outcome=outcome, detail={"reason": why} if why else None)

    # -- sessions and credentials of the caller ---------------------------------------------------

    @_platform
    def issue_token(self, username: str, *, address: str | None = None) -> tuple[str, Session]:
        """A new session for an existing, already authenticated user (tools and tests)."""
        user, _seq, _term = self.records.require(username)
        return self.sessions.issue(user, address=address)

    @_platform
    def authenticate_token(self, token: str, *, address: str | None = None) -> Session:
        return self.sessions.authenticate(token, address=address)

    @_platform
    def authenticate_api_key(self, key: str, *, address: str | None = None) -> Session:
        return self.api_keys.authenticate(key, address=address)

    @_platform
    def logout(self, session: Session) -> None:
        self.sessions.end(session)
        self.auditor.record(session.actor, "auth.logout", session.username)

    @_platform
    def change_password(self, session: Session, old_password: str, new_password: str) -> None:
        """Change the caller's password; every other session of the user ends."""
        user, seq, term = self.records.require(session.username)
        if not verify_password(user.password_hash, old_password):
            self.auditor.record(session.actor, "auth.password_change", user.username, outcome="failure",
                                detail={"reason": "wrong current password"})
            raise PermissionDenied("The current password is wrong.")
        api = self.settings.api
        history = (user.password_hash, *user.password_history)[: max(api.password_history, 1)]
        check_policy(new_password, min_length=api.password_min_length, username=user.username,
                     previous_hashes=history if api.password_history else (user.password_hash,))
        generation = user.session_generation + 1
        self.records.save(replace(user, password_hash=hash_password(new_password), password_history=history,
                                  must_change_password=False, password_changed=iso(self.records.now()),
                                  session_generation=generation), seq, term)
        if session.via == "token":
            self.sessions.keep_only(session, generation)
        session.must_change_password = False
        self.auditor.record(session.actor, "auth.password_change", user.username,
                            detail={"other_sessions": "ended"})

    @_platform
    def totp_setup(self, session: Session) -> dict[str, str]:
        return self.second_factor.setup(session)

    @_platform
    def totp_enable(self, session: Session, code: str) -> None:
        self.second_factor.enable(session, code)

    @_platform
    def totp_disable(self, session: Session, password: str) -> None:
        self.second_factor.disable(session, password)

    # -- delegation kept for callers that hold only the facade ------------------------------------

    def create_user(self, username: str, role: str, *, actor: Actor, password: str | None = None,
                    organization: str | None = None) -> dict[str, object]:
        return self.users.create_user(username, role, actor=actor, password=password, organization=organization)

    @_platform
    def ensure_initial_admin(self) -> str | None:
        return bootstrap.ensure_initial_admin(self.records, self.auditor)

    @_platform
    def ensure_demo_users(self) -> dict[str, str]:
        return bootstrap.ensure_demo_users(self.records, self.auditor)

    @_platform
    def retire_demo_users(self) -> list[str]:
        return bootstrap.retire_demo_users(self.records, self.auditor)


def ensure_initial_admin(settings: Settings, store: Store, auditor: Auditor) -> str | None:
    """For the composition root (``soc up``): the generated admin password, or None if the admin exists."""
    return IdentityService(settings, store, auditor).ensure_initial_admin()


def ensure_demo_users(settings: Settings, store: Store, auditor: Auditor) -> dict[str, str]:
    """For ``soc up`` in demo mode: ``{"analyst": password, "auditor": ..., "sysadmin": ...}``."""
    return IdentityService(settings, store, auditor).ensure_demo_users()
