"""User administration (role ``admin``), with the separation of duties built in.

- Changes to audit-role accounts (create, role to or from ``auditor``, reset, disable,
  re-enable) made through the platform wait for an auditor's approval (``approvals``).
- The last enabled auditor can be neither disabled nor moved to another role, by anyone.
- Every change to an admin or auditor account raises a high alert routed to the auditors.
- Ending sessions is done by bumping the user's session generation (``sessions``).

A local operator on the host (``cli``) is trusted: no approval, but the same audit and alerts.

Departments (三权分立 inside each department and at district level): a caller manages only the
users inside their scope (``core.scope.current()``: a department administrator their department
and its sub-departments, a district administrator everyone). A change that names or would move a
user outside that scope is refused (403); only a district administrator creates district users or
users of another department. An auditor's decision on a request needs the request's department
inside the auditor's scope (the same department or the district).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from api.identity.approvals import PRIVILEGED_ROLES, PrivilegedAlerts, UserRequests
from api.identity.models import User
from api.identity.passwords import check_policy, generate_password, hash_password
from api.identity.records import IdentityStore, check_role, check_username
from core import scope as scoping
from core.auditing import Actor, Auditor
from core.departments import Departments
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.permissions import TRUSTED, requires
from core.timeutil import iso


def _needs_approval(actor: Actor, *roles: str | None) -> bool:
    return actor.role not in TRUSTED and "auditor" in roles


def _in_scope(organization: str) -> bool:
    current = scoping.current()
    return current is None or current.allows(organization)


def _outside(username: str, organization: str) -> PermissionDenied:
    return PermissionDenied(f"{username!r} belongs to department {organization!r}, outside your department "
                            "scope: an administrator of that department or of the district manages it.")


class UserAdmin:
    def __init__(self, records: IdentityStore, auditor: Auditor, departments: Departments) -> None:
        self.records = records
        self.auditor = auditor
        self.departments = departments
        self.requests = UserRequests(records, auditor)
        self.alerts = PrivilegedAlerts(records)

    # -- reading and reaching users ---------------------------------------------------------------

    def _visible(self, username: str) -> User:
        """A user the caller may see; one of another department does not exist for them."""
        with scoping.system():
            user = self.records.require(username)[0]
        if not _in_scope(user.organization):
            raise NotFound(f"No user {username!r}; list users with `soc users list` or GET /api/v1/users.")
        return user

    def _reachable(self, username: str) -> User:
        """A user the caller may change: inside their scope (403 otherwise, never a silent miss)."""
        with scoping.system():
            user = self.records.require(username)[0]
        if not _in_scope(user.organization):
            raise _outside(user.username, user.organization)
        return user

    def _department(self, organization: str | None, actor: Actor) -> str:
        """A department a new or moved user may belong to: it exists and lies in the caller's scope."""
        current = scoping.current()
        if organization is None:
            return current.home if current is not None and current.restricted else scoping.DISTRICT
        if not self.departments.exists(organization):
            raise InvalidInput(f"No department {organization!r}; list them with `soc departments list`.",
                               detail=[{"field": "organization", "message": "unknown department"}])
        if not _in_scope(organization):
            raise PermissionDenied(f"Department {organization!r} is outside your scope: only an administrator of "
                                   "the district creates district users or users of another department.")
        return organization

    @requires("users.read")
    def list_users(self, *, actor: Actor) -> list[dict[str, Any]]:
        return [u.public() for u in self.records.all_users() if _in_scope(u.organization)]

    @requires("users.read")
    def get_user(self, username: str, *, actor: Actor) -> dict[str, Any]:
        return self._visible(username).public()

    # -- changes ----------------------------------------------------------------------------------

    @requires("users.manage")
    def create_user(self, username: str, role: str, *, actor: Actor, password: str | None = None,
                    organization: str | None = None) -> dict[str, Any]:
        """Create a user; without ``password`` a temporary one is generated (changed at first login).
        An auditor account becomes a pending request (its password goes to the approving auditor).
        ``organization``: the department (default: the caller's own)."""
        name = check_username(username)
        check_role(role)
        org = self._department(organization, actor)
        if _needs_approval(actor, role):
            with scoping.system():
                exists = self.records.load(name) is not None
            if exists:
                raise Conflict(f"User {name!r} already exists; pick another name.")
            return self.requests.submit(actor, "create", name, {"role": role, "organization": org}, org)
        if password is not None:
            check_policy(password, min_length=self.records.settings.api.password_min_length, username=name)
        return self._create(name, role, actor, password, org)

    def _create(self, name: str, role: str, actor: Actor, password: str | None, organization: str) -> dict[str, Any]:
        temporary = password is None
        password = password or generate_password()
        now = iso(self.records.now())
        user = User(username=name, role=role, password_hash=hash_password(password), must_change_password=True,
                    created=now, password_changed=now, organization=organization)
        try:
            self.records.save(user, create=True)
        except Conflict as exc:
            raise Conflict(f"User {name!r} already exists; pick another name.") from exc
        self._record(actor, "users.create", user, role, {"role": role, "organization": organization})
        out = user.public()
        if temporary:
            out["temporary_password"] = password
        return out

    @requires("users.manage")
    def update_user(self, username: str, *, actor: Actor, role: str | None = None,
                    disabled: bool | None = None, organization: str | None = None) -> dict[str, Any]:
        user = self._reachable(username)
        moves = organization is not None and organization != user.organization
        if user.username == actor.name and (role not in (None, user.role) or disabled or moves):
            raise PermissionDenied("You cannot change your own role or department or disable yourself; ask another "
                                   "administrator.")
        changes: dict[str, Any] = {}
        if role is not None and role != user.role:
            changes["role"] = check_role(role)
        if disabled is not None and disabled != user.disabled:
            changes["disabled"] = disabled
        if moves:
            changes["organization"] = self._department(organization, actor)
        if not changes:
            return user.public()
        self._keep_an_auditor(user, changes)
        if _needs_approval(actor, user.role, changes.get("role")):
            return self.requests.submit(actor, "update", user.username, changes, user.organization)
        return self._update(user.username, changes, actor)

    def _keep_an_auditor(self, user: User, changes: dict[str, Any]) -> None:
        removes = user.role == "auditor" and not user.disabled and (
            changes.get("disabled") is True or changes.get("role", "auditor") != "auditor")
        if not removes:
            return
        with scoping.system():  # anyone's auditor counts: someone must still read the trail
            others = [u for u in self.records.all_users()
                      if u.role == "auditor" and not u.disabled and u.username != user.username]
        if not others:
            raise Conflict(f"{user.username!r} is the last enabled auditor: enable or create another auditor "
                           "first, so that someone can still read the audit trail.")

    def _update(self, username: str, changes: dict[str, Any], actor: Actor) -> dict[str, Any]:
        user, seq, term = self.records.require(username)
        self._keep_an_auditor(user, changes)
        updated = replace(user, **changes)
        if changes.get("disabled") or "organization" in changes:
            updated = replace(updated, session_generation=user.session_generation + 1)
        self.records.save(updated, seq, term)
        self._record(actor, "users.update", user, changes.get("role") or user.role, changes)
        return updated.public()

    @requires("users.manage")
    def reset_password(self, username: str, *, actor: Actor) -> dict[str, Any]:
        user = self._reachable(username)
        if _needs_approval(actor, user.role):
            return self.requests.submit(actor, "reset_password", user.username, {}, user.organization)
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
        self._reachable(username)
        user, seq, term = self.records.require(username)
        self.records.save(replace(user, failures=(), locked_until=None), seq, term)
        self.auditor.record(actor, "users.unlock", user.username)
        return replace(user, failures=(), locked_until=None).public()

    # -- dual control -----------------------------------------------------------------------------

    @requires("approvals.read")
    def list_requests(self, *, actor: Actor, status: str | None = "pending") -> list[dict[str, Any]]:
        return [r for r in self.requests.list(status) if _in_scope(scoping.organization_of(r) or scoping.DISTRICT)]

    @requires("users.approve")
    def approve_request(self, request_id: str, *, actor: Actor) -> dict[str, Any]:
        """Carry out a pending change; a generated password is shown to the approving auditor only."""
        request = self.requests.decide(request_id, actor, approve=True, allowed=_in_scope)
        requester = Actor(name=request["requested_by"], role=request["requested_role"])
        self.auditor.record(actor, "users.request_approve", request["target"],
                            detail={"request_id": request_id, "requested_by": requester.name})
        approved = Actor(name=f"{requester.name}+{actor.name}", role=actor.role, address=actor.address)
        action, target, changes = request["action"], request["target"], request["changes"]
        # The request was made by an administrator whose scope held the change; the auditor's
        # scope held the request: carrying it out is the platform's part.
        with scoping.system():
            if action == "create":
                result = self._create(target, changes["role"], approved, None,
                                      changes.get("organization") or scoping.DISTRICT)
            elif action == "reset_password":
                result = self._reset(target, approved)
            else:
                result = self._update(target, changes, approved)
        return {"request": request, "result": result}

    @requires("users.approve")
    def reject_request(self, request_id: str, *, actor: Actor) -> dict[str, Any]:
        request = self.requests.decide(request_id, actor, approve=False, allowed=_in_scope)
        self.auditor.record(actor, "users.request_reject", request["target"], detail={"request_id": request_id})
        return {"request": request}

    def _record(self, actor: Actor, action: str, user: User, new_role: str, detail: dict[str, Any]) -> None:
        self.auditor.record(actor, action, user.username, detail=detail or None)
        role = user.role if user.role in PRIVILEGED_ROLES else new_role
        if role in PRIVILEGED_ROLES:
            self.alerts.raise_for(actor, action, user.username, role, detail, user.organization)
