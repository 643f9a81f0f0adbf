"""Identity: local users, login with lockout and optional TOTP, sessions with idle timeout,
API keys, and user administration. Used by the API (``app.state.identity``) and by ``soc users``.

Sessions live in this process's memory (a restart logs everyone out, which is the safe
direction); users and API keys live in ``<prefix>-users`` and ``<prefix>-apikeys``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pyotp
from cryptography.fernet import Fernet, InvalidToken

from api.errors import localized
from api.identity.models import ApiKey, LoginResult, Session, User
from api.identity.passwords import check_policy, generate_password, hash_password, verify_password
from core.auditing import Actor, Auditor
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from core.es import Store
from core.permissions import ROLES, requires
from core.settings import Settings
from core.timeutil import iso, parse_iso, utcnow

INITIAL_ADMIN = "admin"
# Known demo passwords (demo mode only); each satisfies the password policy.
DEMO_USERS: dict[str, tuple[str, str]] = {
    "analyst": ("analyst", "Demo#Analyze2026"),
    "auditor": ("auditor", "Demo#Inspect2026"),
    "sysadmin": ("sysadmin", "Demo#Operate2026"),
}
_USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
_API_KEY_CACHE_SECONDS = 30.0

USERS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"username": {"type": "keyword"}, "role": {"type": "keyword"},
                   "disabled": {"type": "boolean"}, "created": {"type": "date"}},
}
APIKEYS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"key_id": {"type": "keyword"}, "username": {"type": "keyword"},
                   "revoked": {"type": "boolean"}, "created": {"type": "date"}},
}


def _check_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not (2 <= len(name) <= 64) or not set(name) <= _USERNAME_CHARS:
        raise InvalidInput("A user name has 2-64 characters: lowercase letters, digits, '.', '_' or '-'.",
                           detail=[{"field": "username", "message": "invalid user name"}])
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.",
                           detail=[{"field": "role", "message": "unknown role"}])
    return role


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class IdentityService:
    def __init__(self, settings: Settings, store: Store, auditor: Auditor,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.store = store
        self.auditor = auditor
        self.clock = clock
        self.users_index = settings.index("users")
        self.keys_index = settings.index("apikeys")
        self._sessions: dict[str, Session] = {}
        self._key_cache: dict[str, tuple[float, ApiKey, User]] = {}
        self._lock = threading.Lock()
        self._ready = False

    # -- storage -------------------------------------------------------------------------------

    def ensure_indices(self) -> None:
        if not self._ready:
            self.store.ensure_index(self.users_index, mappings=USERS_MAPPING)
            self.store.ensure_index(self.keys_index, mappings=APIKEYS_MAPPING)
            self._ready = True

    def _load(self, username: str) -> tuple[User, int, int] | None:
        self.ensure_indices()
        doc = self.store.get(self.users_index, username)
        if doc is None:
            return None
        return User.from_doc(doc["_source"]), int(doc["_seq_no"]), int(doc["_primary_term"])

    def _require(self, username: str) -> tuple[User, int, int]:
        found = self._load(username)
        if found is None:
            raise NotFound(f"No user {username!r}; list users with `soc users list` or GET /api/v1/users.")
        return found

    def _save(self, user: User, seq: int | None = None, term: int | None = None, *, create: bool = False) -> None:
        self.ensure_indices()
        self.store.put(self.users_index, user.username, user.to_doc(), create=create,
                       if_seq_no=seq, if_primary_term=term)

    def _now(self) -> datetime:
        return self.clock()

    # -- bootstrap ----------------------------------------------------------------------------

    def ensure_initial_admin(self, username: str = INITIAL_ADMIN) -> str | None:
        """Create the first administrator with a generated password (to be changed at first
        login); returns that password, or None when the user already exists."""
        if self._load(username) is not None:
            return None
        password = generate_password()
        now = iso(self._now())
        user = User(username=username, role="admin", password_hash=hash_password(password),
                    must_change_password=True, created=now, password_changed=now)
        try:
            self._save(user, create=True)
        except Conflict:
            return None
        self.auditor.record(Actor.system("bootstrap"), "users.create", username, detail={"role": "admin"})
        return password

    def ensure_demo_users(self) -> dict[str, str]:
        """Demo mode only: ``analyst``, ``auditor``, ``sysadmin`` with known passwords."""
        if not self.settings.demo:
            raise PermissionDenied("Demo users exist only in demo mode (SOC_DEMO=true).")
        created: dict[str, str] = {}
        for username, (role, password) in DEMO_USERS.items():
            created[username] = password
            if self._load(username) is not None:
                continue
            now = iso(self._now())
            user = User(username=username, role=role, password_hash=hash_password(password), created=now,
                        password_changed=now)
            try:
                self._save(user, create=True)
                self.auditor.record(Actor.system("demo"), "users.create", username, detail={"role": role})
            except Conflict:
                pass
        return created

    # -- login and sessions --------------------------------------------------------------------

    def login(self, username: str, password: str, *, totp_code: str | None = None,
              address: str | None = None) -> LoginResult:
        name = (username or "").strip().lower()
        found = self._load(name) if name and set(name) <= _USERNAME_CHARS else None
        now = self._now()
        if found is None:
            verify_password(None, password)  # same work as a real check
            self._audit_login(name or "?", "unknown", address, "failure", "unknown user or wrong password")
            raise localized(Unauthenticated("Wrong user name or password."), "auth.login_failed")
        user, seq, term = found
        if user.locked_until and parse_iso(user.locked_until) > now:
            self._audit_login(name, user.role, address, "failure", "account locked")
            raise localized(Unauthenticated(f"The account is locked after repeated failures until "
                                            f"{user.locked_until}; wait, or ask an administrator to unlock it.",
                                            detail={"locked_until": user.locked_until}),
                            "auth.locked", until=user.locked_until)
        if user.disabled:
            self._audit_login(name, user.role, address, "failure", "account disabled")
            raise Unauthenticated("The account is disabled; ask an administrator.")
        if not verify_password(user.password_hash, password):
            self._record_failure(user, seq, term, now, address, "wrong password")
            raise localized(Unauthenticated("Wrong user name or password."), "auth.login_failed")
        if user.totp_enabled:
            if not totp_code:
                self._audit_login(name, user.role, address, "failure", "second factor missing")
                raise localized(Unauthenticated("This account needs a one-time code: send `totp_code`.",
                                                detail={"totp_required": True}), "auth.totp_required")
            if not self._totp_ok(user.totp_secret, totp_code, now):
                self._record_failure(user, seq, term, now, address, "wrong one-time code")
                raise Unauthenticated("Wrong one-time code.", detail={"totp_required": True})
        user = replace(user, failures=(), locked_until=None, last_login=iso(now))
        try:
            self._save(user, seq, term)
        except Conflict:
            pass  # a concurrent login updated the record; the login itself stands
        token, session = self.issue_token(name, user.role, address=address,
                                          must_change_password=user.must_change_password)
        self._audit_login(name, user.role, address, "success", None)
        return LoginResult(token=token, expires=iso(session.expires), username=name, role=user.role,
                           must_change_password=user.must_change_password,
                           idle_timeout_minutes=self.settings.api.idle_timeout_minutes)

    def _audit_login(self, name: str, role: str, address: str | None, outcome: str, why: str | None) -> None:
        self.auditor.record(Actor(name=name, role=role, address=address), "auth.login", name, outcome=outcome,
                            detail={"reason": why} if why else None)

    def _record_failure(self, user: User, seq: int, term: int, now: datetime, address: str | None,
                        why: str) -> None:
        api = self.settings.api
        window_start = now - timedelta(minutes=api.lockout_window_minutes)
        recent = [f for f in user.failures if parse_iso(f) > window_start] + [iso(now)]
        locked_until = user.locked_until
        if len(recent) >= api.lockout_threshold:
            locked_until = iso(now + timedelta(minutes=api.lockout_minutes))
            recent = []
        updated = replace(user, failures=tuple(recent[-api.lockout_threshold:]), locked_until=locked_until)
        for _attempt in range(3):
            try:
                self._save(updated, seq, term)
                break
            except Conflict:
                again = self._load(user.username)
                if again is None:
                    break
                fresh, seq, term = again
                recent = [f for f in fresh.failures if parse_iso(f) > window_start] + [iso(now)]
                locked_until = fresh.locked_until
                if len(recent) >= api.lockout_threshold:
                    locked_until, recent = iso(now + timedelta(minutes=api.lockout_minutes)), []
                updated = replace(fresh, failures=tuple(recent), locked_until=locked_until)
        self._audit_login(user.username, user.role, address, "failure", why)
        if locked_until and locked_until != user.locked_until:
            self.auditor.record(Actor.system("identity"), "auth.lockout", user.username,
                                detail={"until": locked_until})

    def issue_token(self, username: str, role: str, *, address: str | None = None,
                    must_change_password: bool = False) -> tuple[str, Session]:
        """A new session for an already authenticated user (``login`` calls this)."""
        now = self._now()
        token = secrets.token_urlsafe(32)
        ttl = timedelta(minutes=self.settings.api.token_ttl_minutes)
        session = Session(session_id=_token_id(token), username=username, role=role, created=now, last_seen=now,
                          expires=now + ttl, address=address, must_change_password=must_change_password)
        with self._lock:
            self._sessions[session.session_id] = session
        return token, session

    def authenticate_token(self, token: str, *, address: str | None = None) -> Session:
        now = self._now()
        sid = _token_id(token)
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                raise Unauthenticated("The token is unknown or was revoked; log in again.")
            idle = timedelta(minutes=self.settings.api.idle_timeout_minutes)
            if now >= session.expires or now - session.last_seen > idle:
                del self._sessions[sid]
                expired = True
            else:
                session.last_seen = now
                expired = False
        if expired:
            self.auditor.record(session.actor, "auth.session_expired", session.username)
            raise localized(Unauthenticated("The session expired (idle or too old); log in again."),
                            "auth.session_expired")
        if address and session.address != address:
            session = replace(session, address=address)
        return session

    def logout(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.session_id, None)
        self.auditor.record(session.actor, "auth.logout", session.username)

    def _drop_sessions(self, username: str) -> None:
        with self._lock:
            for sid in [s for s, sess in self._sessions.items() if sess.username == username]:
                del self._sessions[sid]
            for kid in [k for k, (_t, _key, u) in self._key_cache.items() if u.username == username]:
                del self._key_cache[kid]

    def change_password(self, session: Session, old_password: str, new_password: str) -> None:
        user, seq, term = self._require(session.username)
        if not verify_password(user.password_hash, old_password):
            self.auditor.record(session.actor, "auth.password_change", user.username, outcome="failure",
                                detail={"reason": "wrong current password"})
            raise PermissionDenied("The current password is wrong.")
        api = self.settings.api
        history = (user.password_hash, *user.password_history)[: max(api.password_history, 1)]
        check_policy(new_password, min_length=api.password_min_length, username=user.username,
                     previous_hashes=history if api.password_history else (user.password_hash,))
        now = iso(self._now())
        updated = replace(user, password_hash=hash_password(new_password), password_history=history,
                          must_change_password=False, password_changed=now)
        self._save(updated, seq, term)
        with self._lock:
            for sess in self._sessions.values():
                if sess.username == user.username:
                    sess.must_change_password = False
        self.auditor.record(session.actor, "auth.password_change", user.username)

    # -- TOTP -----------------------------------------------------------------------------------

    def _fernet(self) -> Fernet:
        # TOTP seeds are encrypted at rest with a key derived from the API secret, which is not
        # stored in Elasticsearch: reading the users index does not yield second factors.
        key = hashlib.sha256(b"qinglang-totp:" + self.settings.api.secret_key.get_secret_value().encode()).digest()
        return Fernet(base64.urlsafe_b64encode(key))

    def _seal_secret(self, secret: str) -> str:
        return self._fernet().encrypt(secret.encode()).decode()

    def _totp_ok(self, sealed: str | None, code: str, now: datetime) -> bool:
        secret = self._open_secret(sealed)
        if not secret:
            return False
        try:
            return bool(pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1))
        except ValueError:
            return False

    def _open_secret(self, sealed: str | None) -> str:
        if not sealed:
            return ""
        try:
            return self._fernet().decrypt(sealed.encode()).decode()
        except InvalidToken:
            # The API secret changed since enrolment: the factor cannot be checked any more.
            return ""

    def totp_setup(self, session: Session) -> dict[str, str]:
        """Start enrolment: a new secret (not active until confirmed with a code)."""
        user, seq, term = self._require(session.username)
        if user.totp_enabled:
            raise Conflict("A second factor is already enabled; disable it first.")
        secret = pyotp.random_base32()
        self._save(replace(user, totp_secret=self._seal_secret(secret)), seq, term)
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Qinglang")
        self.auditor.record(session.actor, "auth.totp_setup", user.username)
        return {"secret": secret, "provisioning_uri": uri}

    def totp_enable(self, session: Session, code: str) -> None:
        user, seq, term = self._require(session.username)
        if not user.totp_secret:
            raise Conflict("Start with POST /api/v1/auth/totp/setup to get a secret.")
        if not self._totp_ok(user.totp_secret, code, self._now()):
            raise InvalidInput("Wrong one-time code; check the device clock and try again.",
                               detail=[{"field": "code", "message": "wrong code"}])
        self._save(replace(user, totp_enabled=True), seq, term)
        self.auditor.record(session.actor, "auth.totp_enable", user.username)

    def totp_disable(self, session: Session, password: str) -> None:
        user, seq, term = self._require(session.username)
        if not verify_password(user.password_hash, password):
            raise PermissionDenied("The password is wrong.")
        self._save(replace(user, totp_enabled=False, totp_secret=None), seq, term)
        self.auditor.record(session.actor, "auth.totp_disable", user.username)

    # -- API keys -------------------------------------------------------------------------------

    def authenticate_api_key(self, key: str, *, address: str | None = None) -> Session:
        parts = key.split("_")
        if len(parts) != 3 or parts[0] != "ql":
            raise Unauthenticated("The API key is malformed; keys look like ql_<id>_<secret>.")
        key_id, secret = parts[1], parts[2]
        cached = self._key_cache.get(key_id)
        if cached is None or time.monotonic() - cached[0] > _API_KEY_CACHE_SECONDS:
            self.ensure_indices()
            doc = self.store.get(self.keys_index, key_id)
            if doc is None:
                raise Unauthenticated("Unknown API key.")
            api_key = ApiKey(**{k: v for k, v in doc["_source"].items() if k in ApiKey.__dataclass_fields__})
            found = self._load(api_key.username)
            if found is None:
                raise Unauthenticated("The API key's user no longer exists.")
            cached = (time.monotonic(), api_key, found[0])
            self._key_cache[key_id] = cached
        _t, api_key, user = cached
        digest = hashlib.sha256(secret.encode()).hexdigest()
        if not hmac.compare_digest(digest, api_key.key_hash) or api_key.revoked or user.disabled:
            raise Unauthenticated("The API key is wrong, revoked, or its user is disabled.")
        now = self._now()
        return Session(session_id=f"key:{key_id}", username=user.username, role=user.role, created=now,
                       last_seen=now, expires=now, address=address, via="api_key")

    # -- administration (admin role) -----------------------------------------------------------

    @requires("users.read")
    def list_users(self, *, actor: Actor) -> list[dict[str, Any]]:
        self.ensure_indices()
        self.store.refresh(self.users_index)
        resp = self.store.search(self.users_index, {"size": 1000, "sort": [{"username": "asc"}]})
        return [User.from_doc(h["_source"]).public() for h in resp["hits"]["hits"]]

    @requires("users.read")
    def get_user(self, username: str, *, actor: Actor) -> dict[str, Any]:
        return self._require(username)[0].public()

    @requires("users.manage")
    def create_user(self, username: str, role: str, *, actor: Actor, password: str | None = None) -> dict[str, Any]:
        """Create a user; without ``password`` a temporary one is generated (changed at first login)."""
        name = _check_username(username)
        _check_role(role)
        temporary = password is None
        if password is None:
            password = generate_password()
        else:
            check_policy(password, min_length=self.settings.api.password_min_length, username=name)
        now = iso(self._now())
        user = User(username=name, role=role, password_hash=hash_password(password), must_change_password=True,
                    created=now, password_changed=now)
        try:
            self._save(user, create=True)
        except Conflict as exc:
            raise Conflict(f"User {name!r} already exists; pick another name.") from exc
        self.auditor.record(actor, "users.create", name, detail={"role": role})
        out = user.public()
        if temporary:
            out["temporary_password"] = password
        return out

    @requires("users.manage")
    def update_user(self, username: str, *, actor: Actor, role: str | None = None,
                    disabled: bool | None = None) -> dict[str, Any]:
        user, seq, term = self._require(username)
        if user.username == actor.name and (role not in (None, user.role) or disabled):
            raise PermissionDenied("You cannot change your own role or disable yourself; ask another administrator.")
        changes: dict[str, Any] = {}
        if role is not None and role != user.role:
            changes["role"] = _check_role(role)
        if disabled is not None and disabled != user.disabled:
            changes["disabled"] = disabled
        if not changes:
            return user.public()
        self._save(replace(user, **changes), seq, term)
        self._drop_sessions(user.username)
        self.auditor.record(actor, "users.update", user.username, detail=changes)
        return replace(user, **changes).public()

    @requires("users.manage")
    def reset_password(self, username: str, *, actor: Actor) -> dict[str, Any]:
        user, seq, term = self._require(username)
        password = generate_password()
        history = (user.password_hash, *user.password_history)[: max(self.settings.api.password_history, 1)]
        self._save(replace(user, password_hash=hash_password(password), password_history=history,
                           must_change_password=True, failures=(), locked_until=None,
                           password_changed=iso(self._now())), seq, term)
        self._drop_sessions(user.username)
        self.auditor.record(actor, "users.reset_password", user.username)
        return {"username": user.username, "temporary_password": password, "must_change_password": True}

    @requires("users.manage")
    def unlock_user(self, username: str, *, actor: Actor) -> dict[str, Any]:
        user, seq, term = self._require(username)
        self._save(replace(user, failures=(), locked_until=None), seq, term)
        self.auditor.record(actor, "users.unlock", user.username)
        return replace(user, failures=(), locked_until=None).public()

    @requires("users.manage")
    def create_api_key(self, username: str, name: str, *, actor: Actor) -> dict[str, Any]:
        user, _seq, _term = self._require(username)
        label = (name or "").strip()
        if not label or len(label) > 100:
            raise InvalidInput("Give the API key a name of 1-100 characters.",
                               detail=[{"field": "name", "message": "required"}])
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32).replace("_", "-")
        api_key = ApiKey(key_id=key_id, name=label, username=user.username, role=user.role,
                         key_hash=hashlib.sha256(secret.encode()).hexdigest(), created=iso(self._now()))
        self.ensure_indices()
        self.store.put(self.keys_index, key_id, api_key.__dict__, create=True)
        self.auditor.record(actor, "users.apikey_create", user.username, detail={"key_id": key_id, "name": label})
        return {**api_key.public(), "key": f"ql_{key_id}_{secret}"}

    @requires("users.read")
    def list_api_keys(self, *, actor: Actor) -> list[dict[str, Any]]:
        self.ensure_indices()
        self.store.refresh(self.keys_index)
        resp = self.store.search(self.keys_index, {"size": 1000, "sort": [{"created": "desc"}]})
        return [ApiKey(**{k: v for k, v in h["_source"].items() if k in ApiKey.__dataclass_fields__}).public()
                for h in resp["hits"]["hits"]]

    @requires("users.manage")
    def revoke_api_key(self, key_id: str, *, actor: Actor) -> dict[str, Any]:
        self.ensure_indices()
        doc = self.store.get(self.keys_index, key_id)
        if doc is None:
            raise NotFound(f"No API key {key_id!r}; list them with GET /api/v1/users/apikeys.")
        self.store.update(self.keys_index, key_id, {"revoked": True})
        self._key_cache.pop(key_id, None)
        self.auditor.record(actor, "users.apikey_revoke", doc["_source"].get("username", "?"),
                            detail={"key_id": key_id})
        return {"id": key_id, "revoked": True}


def ensure_initial_admin(settings: Settings, store: Store, auditor: Auditor) -> str | None:
    """For the composition root (``soc up``): the generated admin password, or None if the admin exists."""
    return IdentityService(settings, store, auditor).ensure_initial_admin()


def ensure_demo_users(settings: Settings, store: Store, auditor: Auditor) -> dict[str, str]:
    """For ``soc up`` in demo mode: ``{"analyst": password, "auditor": ..., "sysadmin": ...}``."""
    return IdentityService(settings, store, auditor).ensure_demo_users()
