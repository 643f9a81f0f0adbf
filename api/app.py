"""``create_app()``: builds the FastAPI application from settings; nothing at import time."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.errors import install_error_handlers
from core.es import Store
from core.settings import Settings, load_settings


def create_app(settings: Settings | None = None, store: Store | None = None, **services: Any) -> FastAPI:
    settings = settings or load_settings()
    store = store or Store.connect(settings)
    app = FastAPI(title="Qinglang SOC API", version="0.1.0", openapi_url="/api/v1/openapi.json",
                  docs_url="/api/v1/docs", redoc_url=None)
    app.state.settings = settings
    app.state.store = store
    app.state.services = services
    install_error_handlers(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        es_ok = store.ping()
        return {"status": "ok" if es_ok else "degraded", "elasticsearch": {"reachable": es_ok, "url": store.url}}

    return app
