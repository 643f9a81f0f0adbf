"""The SOC API (FastAPI), built by ``api.app.create_app``. OpenAPI: ``/api/v1/openapi.json``,
interactive docs: ``/api/v1/docs``. How routers plug in: ``api/routes/__init__.py``.

For clients (the console, scripts):

- Log in with ``POST /api/v1/auth/login {"username", "password", "totp_code"?}`` →
  ``{"token", "expires", "role", "must_change_password", "idle_timeout_minutes"}``; send
  ``Authorization: Bearer <token>``. A session ends after ``idle_timeout_minutes`` without a
  request (401 ``unauthenticated``) or at ``expires``. Scripts use ``X-API-Key: ql_…`` instead.
- While ``must_change_password`` is true every call except ``/auth/me``, ``/auth/password`` and
  ``/auth/logout`` answers 403: call ``POST /api/v1/auth/password {"old_password", "new_password"}``.
  A 401 with ``detail.totp_required`` means: ask for the one-time code and log in again.
- ``GET /api/v1/auth/me`` → ``{"username", "role", ...}``; the role decides what to show
  (``core/permissions.py``; every operation in OpenAPI carries ``x-permission``).
- Lists return ``{"total", "items", "next"}``; pass ``next`` back as ``after`` for the next page
  (``null`` = last page). ``GET /api/v1/alerts?facets=true`` adds ``facets`` (value counts per
  status, level, rule, host, user, assignee).
- Errors are ``{"error", "message", "detail"}``; for 422 ``detail`` is a list of
  ``{"field", "message"}``. Bulk calls answer per item: ``{"succeeded", "failed", "results":
  [{"id", "ok", "error"}]}``.
"""
