"""FastAPI dependencies shared by every router: who is calling, and the services built by
``create_app`` (kept on ``app.state``). See ``api/routes/__init__.py`` for how to use them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fastapi import Depends, Request

from api.errors import localized
from api.validation import guard_request
from core import scope as scoping
from core.auditing import Actor, Auditor
from core.departments import Departments
from core.errors import InvalidInput, PermissionDenied, Unauthenticated
from core.es import Store
from core.i18n import negotiate
from core.permissions import allowed, permission_of
from core.settings import Settings

PUBLIC = "public"
AUTHENTICATED = "authenticated"
PERMISSION_KEY = "x-permission"
ORGANIZATION_HEADER = "x-organization"


class SharingService(Protocol):
    """What authentication needs from case sharing (``create_app(..., sharing=obj)``): the
    documents shared with a user now, and a hook that audits every access through a grant."""

    def visible_ids(self, username: str) -> frozenset[str]: ...

    def note_access(self, actor: Actor, doc_ids: list[str]) -> None: ...


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_auditor(request: Request) -> Auditor:
    auditor: Auditor = request.app.state.auditor
    return auditor


def get_identity(request: Request) -> Any:
    return request.app.state.identity


def get_departments(request: Request) -> Departments:
    departments: Departments = request.app.state.departments
    return departments


def get_service(name: str) -> Callable[[Request], Any]:
    """A dependency returning ``create_app(..., name=obj)``'s ``obj``."""

    def dependency(request: Request) -> Any:
        services: dict[str, Any] = request.app.state.services
        if name not in services:
            from core.errors import Unavailable

            raise Unavailable(f"The service {name!r} is not configured in this API instance; "
                              "start it with `soc up` or pass it to create_app.")
        return services[name]

    return dependency


def get_lang(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _credentials(request: Request) -> tuple[str | None, str | None]:
    auth = request.headers.get("authorization") or ""
    token = None
    if auth[:7].lower() == "bearer ":
        token = auth[7:].strip() or None
    return token, request.headers.get("x-api-key") or None


def current_session(request: Request) -> Any:
    """The caller's session (``api.identity.models.Session``), even before the first-login change."""
    cached = getattr(request.state, "session", None)
    if cached is not None:
        return cached
    token, api_key = _credentials(request)
    identity = request.app.state.identity
    address = client_address(request)
    with scoping.system():  # who is calling is platform metadata, read before any scope is known
        if token:
            session = identity.authenticate_token(token, address=address)
        elif api_key:
            session = identity.authenticate_api_key(api_key, address=address)
        else:
            raise Unauthenticated("Log in first: send `Authorization: Bearer <token>` from POST /api/v1/auth/login "
                                  "or `X-API-Key: <key>`.")
        request.state.actor = session.actor  # the denial below is audited as this user
        scope = caller_scope(request, session)
    session.acting_for = scope.home if scope is not None else None
    request.state.session = session
    request.state.actor = session.actor
    scoping.settle(scope)
    return session


def caller_scope(request: Request, session: Any) -> scoping.Scope | None:
    """The caller's department scope: the district sees all (``None``) unless it narrows to one
    department with ``X-Organization``; a department user sees its subtree and may narrow to a
    sub-department, never widen."""
    departments: Departments = request.app.state.departments
    home: str = session.organization or scoping.DISTRICT
    wanted = (request.headers.get(ORGANIZATION_HEADER) or "").strip() or None
    if home == scoping.DISTRICT and wanted in (None, scoping.DISTRICT):
        return None
    allowed_orgs = None if home == scoping.DISTRICT else departments.descendants(home)
    target = wanted or home
    if target != home:
        if allowed_orgs is not None and target not in allowed_orgs:
            raise PermissionDenied(f"X-Organization {target!r} is outside your department {home!r}: you may narrow "
                                   "to one of its sub-departments, not widen.")
        if not departments.exists(target):
            raise InvalidInput(f"X-Organization names no department {target!r}; list them with "
                               "GET /api/v1/departments.", detail=[{"field": "X-Organization",
                                                                    "message": "unknown department"}])
    organizations = departments.descendants(target)
    sharing: SharingService | None = request.app.state.services.get("sharing")
    if sharing is None:
        return scoping.Scope(organizations=organizations, home=target, user=session.username)
    actor = Actor(name=session.username, role=session.role, address=session.address, organization=target)
    # Every read through a grant is collected here and audited once when the request ends
    # (api.middleware), not once per store call.
    accessed: list[str] = []
    request.state.shared_access = (actor, accessed)
    return scoping.Scope(organizations=organizations, home=target, user=session.username,
                         shared_ids=frozenset(sharing.visible_ids(session.username)),
                         on_shared_access=accessed.extend)


def current_actor(request: Request, session: Any = Depends(current_session)) -> Actor:
    """The authenticated ``Actor``; refused while the initial password must still be changed."""
    if session.must_change_password:
        raise localized(PermissionDenied("Change your password first: POST /api/v1/auth/password "
                                         "(the initial password must be replaced at first login)."),
                        "auth.must_change_password")
    actor: Actor = session.actor
    return actor


def _gate(permission: str) -> Callable[..., None]:
    def gate(request: Request, actor: Actor = Depends(current_actor)) -> None:
        if not allowed(actor.role, permission):
            request.app.state.auditor.record(actor, "api.denied", f"{request.method} {request.url.path}",
                                             outcome="denied", detail={"permission": permission})
            raise PermissionDenied(f"Role {actor.role!r} may not perform {permission!r}; ask an administrator "
                                   "for a role that holds it.")
        if getattr(request.app.state, "permission_probe", False):
            # Only the permission-matrix test turns this on: stop after the gate, run nothing.
            raise PermissionProbePassed()

    return gate


class PermissionProbePassed(Exception):
    """Raised after a passed gate when ``app.state.permission_probe`` is set (tests only)."""


def _authenticated_gate(request: Request, actor: Actor = Depends(current_actor)) -> None:
    if getattr(request.app.state, "permission_probe", False):
        raise PermissionProbePassed()


def _session_gate(request: Request, session: Any = Depends(current_session)) -> None:
    if getattr(request.app.state, "permission_probe", False):
        raise PermissionProbePassed()


def _public_gate(request: Request) -> None:
    if getattr(request.app.state, "permission_probe", False):
        raise PermissionProbePassed()


def uses(service_fn: Callable[..., Any]) -> dict[str, Any]:
    """Route keyword arguments for a route calling ``service_fn`` (which has ``@requires``)."""
    permission = permission_of(service_fn)
    if permission is None:
        raise TypeError(f"{getattr(service_fn, '__qualname__', service_fn)} declares no permission: "
                        "decorate it with @requires(...) or use uses_authenticated()/uses_public().")
    return {"dependencies": [Depends(_gate(permission)), Depends(guard_request)],
            "openapi_extra": {PERMISSION_KEY: permission}}


def uses_authenticated(*, before_password_change: bool = False) -> dict[str, Any]:
    """Any logged-in user (``before_password_change``: also one who must still change it)."""
    gate = _session_gate if before_password_change else _authenticated_gate
    return {"dependencies": [Depends(gate), Depends(guard_request)], "openapi_extra": {PERMISSION_KEY: AUTHENTICATED}}


def uses_public() -> dict[str, Any]:
    return {"dependencies": [Depends(_public_gate), Depends(guard_request)],
            "openapi_extra": {PERMISSION_KEY: PUBLIC}}
