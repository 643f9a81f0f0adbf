"""The API's routers, and how a domain plugs one in.

How to add routes (for every helper)
------------------------------------
1. **Registration is by file.** Put ``api/routes/<noun>.py`` next to this file and give it a
   module-level ``router = APIRouter(prefix="/<noun>", tags=["<noun>"])``. ``create_app``
   imports every module of this package (sorted by name) that has a ``router`` attribute and
   includes it under ``/api/v1``. Nothing to edit here.

2. **Each route calls ONE service function and declares it** with ``**uses(service_fn)`` from
   ``api.deps``. ``uses`` reads the permission the service function declares with
   ``@requires("noun.verb")`` (``core/permissions.py`` is the one table), checks it *before* the
   body is parsed (so a denied caller gets 403, never a validation error), records denials in
   the audit trail, and publishes it in OpenAPI as ``x-permission``. Routes that need no
   permission use ``**uses_authenticated()`` (any logged-in user) or ``**uses_public()``
   (login, health)::

       from fastapi import APIRouter, Depends
       from api.deps import current_actor, get_settings, get_store, get_auditor, uses
       from core.auditing import Actor
       from detections.rules import service as rules_service

       router = APIRouter(prefix="/rules", tags=["rules"])

       @router.get("", **uses(rules_service.list_rules))
       def list_rules(actor: Actor = Depends(current_actor), store=Depends(get_store),
                      settings=Depends(get_settings)) -> dict:
           return {"items": rules_service.list_rules(store, settings, actor=actor)}

   Use ``def`` routes (not ``async def``): the ``Store`` is synchronous and FastAPI runs ``def``
   routes in its thread pool.

3. **Dependencies** (``api/deps.py``):
   - ``current_actor`` -> ``core.auditing.Actor`` (name, role, client address) from
     ``Authorization: Bearer <token>`` (from ``POST /api/v1/auth/login``) or ``X-API-Key: <key>``.
     401 without valid credentials; 403 while the user must still change the initial password.
   - ``get_settings``, ``get_store``, ``get_auditor`` -> the objects ``create_app`` built (kept
     on ``app.state``); ``get_service("name")`` -> anything passed to
     ``create_app(settings, store, name=obj)`` (kept in ``app.state.services``).
   - ``get_lang`` -> ``"zh-CN"`` or ``"en"`` from ``Accept-Language`` (for ``core.i18n.t``).

4. **Errors**: raise ``core.errors`` types from services; ``api/errors.py`` maps each to one
   status with the JSON body ``{"error": code, "message": ..., "detail": ...}`` (422 with a
   per-field ``detail`` list for bad input, 401/403/404/409/503 for the others). Never build
   error responses in a route.

5. **Request size**: ``api.middleware`` refuses bodies over ``settings.api.max_request_bytes``
   with 413 before the route runs; an upload route that needs more must stream.

6. **Audit**: service functions record their own domain actions through the ``Auditor`` the
   route passes in (``Depends(get_auditor)``). In addition the middleware records every
   state-changing request (POST/PUT/PATCH/DELETE) and every denied one, so nothing escapes.

7. **Permission matrix test** (``tests/unit/api/test_permission_matrix.py``): every route of the
   app × every role is requested and compared with ``core.permissions`` (allow = the gate
   passes, deny = 403); unauthenticated calls must be 401. The expected permission of each route
   comes from the explicit table ``tests/unit/api/route_table.py`` (one line per route:
   ``("GET", "/api/v1/rules"): "rules.read"``) and must equal the permission the route declares
   through ``uses(...)``. A route missing from the table, or a table entry without a route,
   fails the test — add one line per new route there.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def discover_routers() -> list[tuple[str, APIRouter]]:
    """``(module name, router)`` for every module of this package that defines ``router``."""
    found: list[tuple[str, APIRouter]] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append((info.name, router))
    return found
