"""Who may do what: one table, declared on the service functions.

Each service function that a user can trigger is decorated with ``@requires("noun.verb")``;
the table below says which roles hold each permission. The API and the CLI never repeat these
rules: they call the service with an ``Actor`` and the decorator enforces the table.

Roles follow 三权分立: ``admin`` manages users and roles only, ``sysadmin`` runs the platform
(collectors, Elasticsearch, backups and drills), ``analyst`` works alerts, cases, events and
rules, ``auditor`` reads the audit trail and runs compliance. Nobody may alter audit records.
``system`` (scheduler jobs) and ``cli`` (a local operator on the host) are trusted callers.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from core.auditing import Actor
from core.errors import PermissionDenied

ROLES = ("admin", "sysadmin", "analyst", "auditor")
TRUSTED = ("system", "cli")

# permission -> roles that hold it. Domains add their rows here (one table for the platform).
TABLE: dict[str, frozenset[str]] = {
    # users and roles
    "users.read": frozenset({"admin"}),
    "users.manage": frozenset({"admin"}),
    # The department tree (部门): an administrator of the district only (checked in core.departments).
    "departments.manage": frozenset({"admin"}),
    # Everyone mints API keys for themselves only (never for another user).
    "apikeys.create": frozenset({"admin", "sysadmin", "analyst", "auditor"}),
    # Dual control over audit-role accounts: the administrator requests, an auditor decides.
    "approvals.read": frozenset({"admin", "auditor"}),
    "users.approve": frozenset({"auditor"}),
    # platform operations
    "platform.health": frozenset({"admin", "sysadmin", "analyst", "auditor"}),
    "es.manage": frozenset({"sysadmin"}),
    "collectors.read": frozenset({"sysadmin", "analyst", "auditor"}),
    "collectors.manage": frozenset({"sysadmin"}),
    # detection and response
    # Sysadmins read and work the platform alerts routed to them (backups, collectors, storage);
    # which alerts each role sees is decided by core.alerting.audience_filter.
    "alerts.read": frozenset({"analyst", "auditor", "sysadmin"}),
    "alerts.update": frozenset({"analyst", "sysadmin"}),
    # outbound notification channels (webhook, e-mail, DingTalk, WeCom): operated by the sysadmin
    "notifications.read": frozenset({"sysadmin", "analyst", "auditor"}),
    "notifications.manage": frozenset({"sysadmin"}),
    "cases.read": frozenset({"analyst", "auditor"}),
    "cases.manage": frozenset({"analyst"}),
    # Sharing a case with users of another department (and revoking it): the owning
    # department's analysts; the service also checks the case is theirs.
    "cases.share": frozenset({"analyst"}),
    "events.read": frozenset({"analyst", "auditor"}),
    "rules.read": frozenset({"analyst", "auditor", "sysadmin"}),
    "rules.manage": frozenset({"analyst"}),
    "exceptions.manage": frozenset({"analyst"}),
    # audit
    "audit.read": frozenset({"auditor"}),
    "audit.verify": frozenset({"auditor"}),
    # Deleting records past retention is for a local operator only (no role: nobody who acts
    # through the platform can erase the record of acting).
    "audit.purge": frozenset(),
    # compliance
    "compliance.read": frozenset({"auditor", "sysadmin", "analyst"}),
    "compliance.run": frozenset({"auditor"}),
    "compliance.assess": frozenset({"auditor"}),
    # registering a department's graded systems (定级对象): its auditor or the district's
    "compliance.systems": frozenset({"auditor"}),
    # personal information (个人信息保护): the inventory and policy are metadata every role may
    # read; unmasking is the security administrator's (``admin``: authorisation and security
    # policy under 三权分立), never the analyst's who sees the data daily, nor the auditor's who
    # reviews the unmasking.
    "privacy.read": frozenset({"admin", "sysadmin", "analyst", "auditor"}),
    "privacy.unmask": frozenset({"admin"}),
    # backups
    "backups.read": frozenset({"sysadmin", "auditor"}),
    "backups.run": frozenset({"sysadmin"}),
    "drills.run": frozenset({"sysadmin"}),
    # A real restore replaces live data: the platform operator only, never the auditor who reviews it.
    "backups.restore": frozenset({"sysadmin"}),
}

F = TypeVar("F", bound=Callable[..., Any])


def allowed(role: str, permission: str) -> bool:
    if role in TRUSTED:
        return True
    return role in TABLE.get(permission, frozenset())


def check(actor: Actor, permission: str) -> None:
    if permission not in TABLE:
        raise PermissionDenied(f"Unknown permission {permission!r}: add it to core.permissions.TABLE.")
    if not allowed(actor.role, permission):
        raise PermissionDenied(
            f"Role {actor.role!r} may not perform {permission!r}. Ask an administrator for a role that "
            f"holds it ({', '.join(sorted(TABLE[permission]))})."
        )


def requires(permission: str) -> Callable[[F], F]:
    """Declare and enforce the permission of a service function that takes ``actor: Actor``."""
    if permission not in TABLE:
        raise KeyError(f"permission {permission!r} missing from core.permissions.TABLE")

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn)
        if "actor" not in sig.parameters:
            raise TypeError(f"{fn.__qualname__} needs an 'actor' parameter to be permission-checked")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = sig.bind_partial(*args, **kwargs)
            actor = bound.arguments.get("actor")
            if not isinstance(actor, Actor):
                raise PermissionDenied(f"{fn.__qualname__} was called without an actor.")
            check(actor, permission)
            return fn(*args, **kwargs)

        wrapper.__permission__ = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def permission_of(fn: Callable[..., Any]) -> str | None:
    return getattr(fn, "__permission__", None)
