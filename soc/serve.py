"""Run the whole platform in the foreground until Ctrl-C / SIGTERM, then stop everything."""

from __future__ import annotations

import contextlib
from typing import Any

import uvicorn

from api.app import create_app
from core.i18n import t
from core.settings import Settings
from soc.runtime import Log, build_scheduler, check_port_free, prepare_settings, start_backend


def load_demo_data(settings: Settings, store: Any, log: Log) -> int:
    """Load the demo events once per data directory (ids are deterministic anyway)."""
    from soc.demo import demo_events

    marker = settings.data_dir / "demo-loaded"
    if marker.exists():
        return 0
    from core.schema import event_index

    events = list(demo_events())
    result = store.bulk_create(
        ((event_index(settings.index_prefix, e.dataset, e.doc["@timestamp"]), e.id, e.doc) for e in events),
        refresh="wait_for",
    )
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(result.created))
    log(f"Demo data: {result.created} events loaded ({result.exists} already present).")
    return result.created


def serve(settings: Settings, log: Log) -> None:
    settings = prepare_settings(settings)
    check_port_free(settings.api.host, settings.api.port, "API server", "SOC_API_PORT")
    backend = start_backend(settings, log)
    scheduler = build_scheduler(settings, backend.store)
    try:
        app = create_app(settings, backend.store)
        if settings.demo:
            load_demo_data(settings, backend.store, log)
        scheduler.start()
        url = f"http://{settings.api.host}:{settings.api.port}"
        config = uvicorn.Config(app, host=settings.api.host, port=settings.api.port, log_level="warning",
                                access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        log(t("up.ready", settings.language, url=url))
        server.run()
    finally:
        log(t("up.stopping", settings.language))
        with contextlib.suppress(Exception):
            scheduler.shutdown(wait=False)
        backend.close()
