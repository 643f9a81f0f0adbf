"""``create_app()``: builds the FastAPI application from settings; nothing at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.console import mount_console
from api.deps import PermissionProbePassed
from api.errors import ERROR_RESPONSES, install_error_handlers
from api.identity.service import IdentityService
from api.middleware import Metrics, ObserveRequests, RequestSizeLimit, ScopeCell
from api.platform import AuditWriteFailures
from api.routes import discover_routers
from api.security import AnonymousFailures, SafeJSONResponse, SecurityHeaders
from collectors.counters import register_metrics as register_collector_metrics
from core import scope as scoping
from core.auditing import Auditor
from core.departments import Departments
from core.es import Store
from core.jobs import JobRunner
from core.settings import Settings, load_settings
from core.timeutil import utcnow
from detections.health import RuleStatusCollector
from detections.triage.share_scope import ShareScope

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Bootstrap:
    """What the composition root shows the operator after start-up."""

    admin_username: str
    admin_password: str | None  # None when the admin already existed
    demo_users: dict[str, str]


def create_app(settings: Settings | None = None, store: Store | None = None, *,
               auditor: Auditor | None = None, clock: Callable[[], datetime] = utcnow,
               bootstrap: bool = False, **services: Any) -> FastAPI:
    """Build the app. ``auditor`` defaults to the hash-chained trail; ``bootstrap=True`` creates
    the initial admin (and demo users in demo mode) now and keeps the result in
    ``app.state.bootstrap`` (see ``bootstrap_users`` to do it separately)."""
    settings = settings or load_settings()
    # Outside demo mode the public placeholder keys would let anyone forge tokens and seal audit
    # records that verify; `soc up` refuses them too, but any embedding of the app must.
    settings.check_secrets()
    store = store or Store.connect(settings)
    if auditor is None:
        from audit.trail import AuditTrail

        auditor = AuditTrail(settings, store, clock=clock)
    app = FastAPI(title="Qinglang SOC API", version="0.1.0", openapi_url=f"{API_PREFIX}/openapi.json",
                  docs_url=f"{API_PREFIX}/docs", redoc_url=None, default_response_class=SafeJSONResponse,
                  description="Security operations API: authentication, alerts, cases, event hunting, "
                              "audit trail. Authenticate with `Authorization: Bearer <token>` from "
                              "`POST /api/v1/auth/login`, or `X-API-Key`.")
    app.state.settings = settings
    app.state.store = store
    app.state.auditor = auditor
    app.state.clock = clock
    # The scope hook of case sharing (grants a user reads through; audit of each such read).
    services.setdefault("sharing", ShareScope(settings, store, auditor, clock=clock))
    app.state.services = services
    app.state.departments = Departments(settings, store)
    app.state.identity = IdentityService(settings, store, auditor, clock=clock, departments=app.state.departments)
    app.state.bootstrap = bootstrap_users(app) if bootstrap else None
    app.state.audit_failures = AuditWriteFailures()
    # Long operations (compliance runs, backups, drills): at most two compliance runs at once,
    # as the hosts they probe are shared.
    app.state.jobs = JobRunner(max_running=4, keep=200, per_kind={"compliance.run": 2})
    anonymous = AnonymousFailures(lambda: app.state.auditor, settings.api.anonymous_failures_per_minute,
                                  on_error=app.state.audit_failures.note)
    app.state.anonymous = anonymous
    app.add_event_handler("shutdown", anonymous.close)
    install_error_handlers(app)

    @app.exception_handler(PermissionProbePassed)
    async def _probe(_request: Request, _exc: PermissionProbePassed) -> JSONResponse:
        return JSONResponse(status_code=299, content={"probe": "allowed"})

    metrics = Metrics()
    register_collector_metrics(metrics.registry, settings)
    metrics.registry.register(RuleStatusCollector(store, settings.index_prefix))
    app.state.metrics = metrics

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        with scoping.system():
            es_ok = store.ping()
        return {"status": "ok" if es_ok else "degraded", "elasticsearch": {"reachable": es_ok, "url": store.url}}

    @app.get("/metrics", tags=["health"], response_class=Response)
    def prometheus_metrics() -> Response:
        with scoping.system():  # platform-wide counters, not department data
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for _name, router in discover_routers():
        app.include_router(router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    mount_console(app, settings)

    # Every request's department scope starts pending just before the app runs (innermost).
    app.add_middleware(ScopeCell)
    # Outermost first: the size limit refuses before anything is observed or parsed.
    app.add_middleware(ObserveRequests, metrics=metrics, state=app.state)
    app.add_middleware(RequestSizeLimit, max_bytes=settings.api.max_request_bytes)
    app.add_middleware(SecurityHeaders, docs_prefix=f"{API_PREFIX}/docs")
    return app


def bootstrap_users(app: FastAPI) -> Bootstrap:
    """Initial admin (generated password, must be changed) and, in demo mode, the demo users."""
    identity: IdentityService = app.state.identity
    password = identity.ensure_initial_admin()
    demo = identity.ensure_demo_users() if app.state.settings.demo else {}
    if not app.state.settings.demo:
        identity.retire_demo_users()
    result = Bootstrap(admin_username="admin", admin_password=password, demo_users=demo)
    app.state.bootstrap = result
    return result
