"""The web console: plain ES modules served by the API process itself (no build step, no bundler).

``mount_console`` adds three things to an app: ``/`` redirecting to the console, a small
``/console/config.json`` the browser reads at start (languages, idle timeout, the permission
table so the console hides what a role may not do), and the static files under ``/console/``.
The permission table is shown to the browser only to shape the interface; the API still checks
every request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from core.i18n import DEFAULT_LANGUAGE, LANGUAGES
from core.permissions import ROLES, TABLE
from core.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"


def console_config(settings: Settings) -> dict[str, Any]:
    return {
        "languages": list(LANGUAGES),
        "default_language": getattr(settings, "language", DEFAULT_LANGUAGE),
        "idle_timeout_minutes": settings.api.idle_timeout_minutes,
        "password_min_length": settings.api.password_min_length,
        "roles": list(ROLES),
        "permissions": {perm: sorted(roles) for perm, roles in TABLE.items()},
    }


def mount_console(app: FastAPI, settings: Settings) -> None:
    @app.get("/", include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    @app.get("/console/config.json", include_in_schema=False)
    def console_settings() -> JSONResponse:
        return JSONResponse(console_config(settings), headers={"Cache-Control": "no-store"})

    app.mount("/console", StaticFiles(directory=STATIC_DIR, html=True), name="console")
