"""API keys: ``ql_<id>_<secret>``, stored as a hash in ``<prefix>-apikeys``.

A key acts as its owner with the owner's *current* role, and only while the owner could log in
and act: not disabled, no pending forced password change, and the second factor enrolled when the
owner's role requires one. Each call reads the key and the user by id (no cache), so revocation
and account changes apply to the next request. Keys are minted by their owner only: nobody
creates a credential that acts as someone else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from api.identity.models import ApiKey, Session, User
from api.identity.records import IdentityStore
from core.auditing import Actor, Auditor
from core.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from core.permissions import TRUSTED, requires
from core.scope import DISTRICT, organization_of, system
from core.scope import current as current_scope
from core.timeutil import iso


def _from_source(src: dict[str, Any]) -> ApiKey:
    fields = {k: v for k, v in src.items() if k in ApiKey.__dataclass_fields__ and k != "organization"}
    return ApiKey(**fields, organization=organization_of(src) or DISTRICT)


def _in_scope(organization: str) -> bool:
    scope = current_scope()
    return scope is None or scope.allows(organization)


class ApiKeys:
    def __init__(self, records: IdentityStore, auditor: Auditor) -> None:
        self.records = records
        self.auditor = auditor

    def policy_problem(self, user: User) -> str | None:
        """Why this user's keys may not be minted or used now (None: they may)."""
        if user.disabled:
            return "the account is disabled"
        if user.must_change_password:
            return "the account must change its password first (log in to the console or POST /api/v1/auth/password)"
        if user.role in self.records.settings.api.mfa_required_roles and not user.totp_enabled:
            return f"the role {user.role!r} requires a second factor: enrol one at POST /api/v1/auth/totp/setup"
        return None

    def authenticate(self, key: str, *, address: str | None = None) -> Session:
        parts = key.split("_")
        if len(parts) != 3 or parts[0] != "ql":
            raise Unauthenticated("The API key is malformed; keys look like ql_<id>_<secret>.")
        key_id, secret = parts[1], parts[2]
        self.records.ensure_indices()
        doc = self.records.store.get(self.records.keys_index, key_id) if key_id else None
        if doc is None:
            raise Unauthenticated("Unknown API key.")
        api_key = _from_source(doc["_source"])
        digest = hashlib.sha256(secret.encode()).hexdigest()
        found = self.records.load(api_key.username)
        if not hmac.compare_digest(digest, api_key.key_hash) or api_key.revoked or found is None:
            raise Unauthenticated("The API key is wrong, revoked, or its user no longer exists.")
        user = found[0]
        problem = self.policy_problem(user)
        if problem:
            raise Unauthenticated(f"The API key cannot be used: {problem}.")
        now = self.records.now()
        return Session(session_id=f"key:{key_id}", username=user.username, role=user.role, created=now,
                       last_seen=now, expires=now, address=address, via="api_key", organization=user.organization)

    @requires("apikeys.create")
    def create_api_key(self, username: str | None, name: str, *, actor: Actor) -> dict[str, Any]:
        """A key acting as the caller. ``username`` may only name the caller (a local operator on
        the host, ``cli``, may name anyone: it is the break-glass path and is audited)."""
        target = (username or actor.name).strip().lower()
        if target != actor.name and actor.role not in TRUSTED:
            self.auditor.record(actor, "users.apikey_create", target, outcome="denied",
                                detail={"reason": "credential for another user"})
            raise PermissionDenied(f"Nobody creates a credential for another user: {target!r} mints their own "
                                   "API key after logging in.")
        with system():  # one's own record, whichever department the caller is narrowed to
            user, _seq, _term = self.records.require(target)
        problem = self.policy_problem(user)
        if problem:
            raise PermissionDenied(f"No API key for {target!r}: {problem}.")
        label = (name or "").strip()
        if not label or len(label) > 100:
            raise InvalidInput("Give the API key a name of 1-100 characters.",
                               detail=[{"field": "name", "message": "required"}])
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32).replace("_", "-")
        api_key = ApiKey(key_id=key_id, name=label, username=user.username, role=user.role,
                         key_hash=hashlib.sha256(secret.encode()).hexdigest(), created=iso(self.records.now()),
                         organization=user.organization)
        self.records.ensure_indices()
        doc = {**api_key.__dict__, "organization": {"id": user.organization}}
        self.records.store.put(self.records.keys_index, key_id, doc, create=True)
        self.auditor.record(actor, "users.apikey_create", user.username, detail={"key_id": key_id, "name": label})
        return {**api_key.public(), "key": f"ql_{key_id}_{secret}"}

    @requires("users.read")
    def list_api_keys(self, *, actor: Actor) -> list[dict[str, Any]]:
        self.records.ensure_indices()
        self.records.store.refresh(self.records.keys_index)
        resp = self.records.store.search(self.records.keys_index, {"size": 1000, "sort": [{"created": "desc"}]})
        keys = [_from_source(h["_source"]) for h in resp["hits"]["hits"]]
        # Platform metadata (an unscoped index): a department administrator sees its users' keys only.
        return [k.public() for k in keys if _in_scope(k.organization)]

    @requires("users.manage")
    def revoke_api_key(self, key_id: str, *, actor: Actor) -> dict[str, Any]:
        self.records.ensure_indices()
        doc = self.records.store.get(self.records.keys_index, key_id)
        if doc is None:
            raise NotFound(f"No API key {key_id!r}; list them with GET /api/v1/users/apikeys.")
        if not _in_scope(_from_source(doc["_source"]).organization):
            raise PermissionDenied(f"API key {key_id!r} belongs to a user of another department; an administrator "
                                   "of that department or of the district revokes it.")
        self.records.store.update(self.records.keys_index, key_id, {"revoked": True})
        self.auditor.record(actor, "users.apikey_revoke", doc["_source"].get("username", "?"),
                            detail={"key_id": key_id})
        return {"id": key_id, "revoked": True}
