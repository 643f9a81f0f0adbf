"""User administration (role ``admin``), with the separation of duties built in.

- Changes to audit-role accounts (create, role to or from ``auditor``, reset, disable,
  re-enable) made through the platform wait for an auditor's approval (``approvals``).
- The last enabled auditor can be neither disabled nor moved to another role, by anyone.
- Every change to an admin or auditor account raises a high alert routed to the auditors.
- Ending sessions is done by bumping the user's session generation (``sessions``).

A local operator on the host (``cli``) is trusted: no approval, but the same audit and alerts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from api.identity.approvals import PRIVILEGED_ROLES, PrivilegedAlerts, UserRequests
from api.identity.models import User
from api.identity.passwords import check_policy, generate_password, hash_password
from api.identity.records import IdentityStore, check_role, check_username
from core.auditing import Actor, Auditor
from core.errors import Conflict, PermissionDenied
from core.permissions import TRUSTED, requires
from core.timeutil import iso


def _needs_approval(actor: Actor, *roles: str | None) -> bool:
    return actor.role not in TRUSTED and "auditor" in roles


class UserAdmin:
    def __init__(self, records: IdentityStore, auditor: Auditor) -> None:
        self.records = records
        self.auditor = auditor
        self.requests = UserRequests(records, auditor)
        self.alerts = PrivilegedAlerts(records)

    @requires("users.read")
    def list_users(self, *, actor: Actor) -> list[dict[str, Any]]:
        return [u.public() for u in self.records.all_users()]

    @requires("users.read")
    def get_user(self, username: str, *, actor: Actor) -> dict[str, Any]:
        return self.records.require(username)[0].public()

    @requires("users.manage")
    def create_user(self, username: str, role: str, *, actor: Actor, password: str | None = None) -> dict[str, Any]:
        """Create a user; without ``password`` a temporary one is generated (changed at first login).
        An auditor account becomes a pending request (its password goes to the approving auditor)."""
        name = check_username(username)
        check_role(role)
        if _needs_approval(actor, role):
            if self.records.load(name) is not None:
                raise Conflict(f"User {name!r} already exists; pick another name.")
            return self.requests.submit(actor, "create", name, {"role": role})
        if password is not None:
            check_policy(password, min_length=self.records.settings.api.password_min_length, username=name)
        return self._create(name, role, actor, password)

    def _create(self, name: str, role: str, actor: Actor, password: str | None) -> dict[str, Any]:
        temporary = password is None
        password = password or generate_password()
        now = iso(self.records.now())
        user = User(username=name, role=role, password_hash=hash_password(password), must_change_password=True,
                    created=now, password_changed=now)
        try:
            self.records.save(user, create=True)
        except Conflict as exc:
            raise Conflict(f"User {name!r} already exists; pick another name.") from exc
        self._record(actor, "users.create", user, role, {"role": role})
        out = user.public()
        if temporary:
            out["temporary_password"] = password
        return out

    @requires("users.manage")
    def update_user(self, username: str, *, actor: Actor, role: str | None = None,
                    disabled: bool | None = None) -> dict[str, Any]:
        user, _seq, _term = self.records.require(username)
        if user.username == actor.name and (role not in (None, user.role) or disabled):
            raise PermissionDenied("You cannot change your own role or disable yourself; ask another administrator.")
        changes: dict[str, Any] = {}
        if role is not None and role != user.role:
            changes["role"] = check_role(role)
        if disabled is not None and disabled != user.disabled:
            changes["disabled"] = disabled
        if not changes:
            return user.public()
        self._keep_an_auditor(user, changes)
        if _needs_approval(actor, user.role, changes.get("role")):
            return self.requests.submit(actor, "update", user.username, changes)
        return self._update(user.username, changes, actor)

    def _keep_an_auditor(self, user: User, changes: dict[str, Any]) -> None:
        removes = user.role == "auditor" and not user.disabled and (
            changes.get("disabled") is True or changes.get("role", "auditor") != "auditor")
        if removes and not any(u.role == "auditor" and not u.disabled and u.username != user.username
                               for u in self.records.all_users()):
            raise Conflict(f"{user.username!r} is the last enabled auditor: enable or create another auditor "
                           "first, so that someone can still read the audit trail.")

    def _update(self, username: str, changes: dict[str, Any], actor: Actor) -> dict[str, Any]:
        user, seq, term = self.records.require(username)
        self._keep_an_auditor(user, changes)
        updated = replace(user, **changes)
        if changes.get("disabled"):
            updated = replace(updated, session_generation=user.session_generation + 1)
        self.records.save(updated, seq, term)
        self._record(actor, "users.update", user, changes.get("role") or user.role, changes)
        return updated.public()

    @requires("users.manage")
    def reset_password(self, username: str, *, actor: Actor) -> dict[str, Any]:
        user, _seq, _term = self.records.require(username)
        if _needs_approval(actor, user.role):
            return self.requests.submit(actor, "reset_password", user.username, {})
        return self._reset(user.username, actor)

    def _reset(self, username: str, actor: Actor) -> dict[str, Any]:
        user, seq, term = self.records.require(username)
        password = generate_password()
        history = (user.password_hash, *user.password_history)[: max(self.records.settings.api.password_history, 1)]
        self.records.save(replace(user, password_hash=hash_password(password), password_history=history,
                                  must_change_password=True, failures=(), locked_until=None,
                                  password_changed=iso(self.records.now()),
                                  session_generation=user.session_generation + 1), seq, term)
        self._record(actor, "users.reset_password", user, user.role, {})
        return {"username": user.username, "temporary_password": password, "must_change_password": True}

    @requires("users.manage")
    def unlock_user(self, username: str, *, actor: Actor) -> dict[str, Any]:
        user, seq, term = self.records.require(username)
        self.records.save(replace(user, failures=(), locked_until=None), seq, term)
        self.auditor.record(actor, "users.unlock", user.username)
        return replace(user, failures=(), locked_until=None).public()

    # -- dual control -----------------------------------------------------------------------------

    @requires("approvals.read")
    def list_requests(self, *, actor: Actor, status: str | None = "pending") -> list[dict[str, Any]]:
        return self.requests.list(status)

    @requires("users.approve")
    def approve_request(self, request_id: str, *, actor: Actor) -> dict[str, Any]:
        """Carry out a pending change; a generated password is shown to the approving auditor only."""
        request = self.requests.decide(request_id, actor, approve=True)
        requester = Actor(name=request["requested_by"], role=request["requested_role"])
        self.auditor.record(actor, "users.request_approve", request["target"],
                            detail={"request_id": request_id, "requested_by": requester.name})
        approved = Actor(name=f"{requester.name}+{actor.name}", role=actor.role, address=actor.address)
        action, target, changes = request["action"], request["target"], request["changes"]
        if action == "create":
            result = self._create(target, changes["role"], approved, None)
        elif action == "reset_password":
            result = self._reset(target, approved)
        else:
            result = self._update(target, changes, approved)
        return {"request": request, "result": result}

    @requires("users.approve")
    def reject_request(self, request_id: str, *, actor: Actor) -> dict[str, Any]:
        request = self.requests.decide(request_id, actor, approve=False)
        self.auditor.record(actor, "users.request_reject", request["target"], detail={"request_id": request_id})
        return {"request": request}

    def _record(self, actor: Actor, action: str, user: User, new_role: str, detail: dict[str, Any]) -> None:
        self.auditor.record(actor, action, user.username, detail=detail or None)
        role = user.role if user.role in PRIVILEGED_ROLES else new_role
        if role in PRIVILEGED_ROLES:
            self.alerts.raise_for(actor, action, user.username, role, detail)
