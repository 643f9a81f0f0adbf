"""Run the whole platform in the foreground until Ctrl-C / SIGTERM, then stop everything."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import uvicorn

from api.app import Bootstrap, create_app
from audit.trail import AuditTrail
from collectors.service import ship_events
from core.departments import Departments
from core.es import Store
from core.i18n import t
from core.settings import Settings
from soc.demo import demo_events, register_demo_systems, with_demo_departments
from soc.runtime import Log, build_scheduler, check_port_free, load_rules, prepare_settings, start_backend


def load_demo_data(settings: Settings, store: Store, log: Log) -> int:
    """Ship the demo events through the collectors' spool and shipper, once per data directory."""
    marker = settings.data_dir / "demo-loaded"
    if marker.exists():
        return 0
    # The demo network's hosts and subnets map to its three departments (soc.demo.DEPARTMENTS),
    # which exist as data before the first event names them.
    settings = with_demo_departments(settings)
    Departments(settings, store).all()
    summary = ship_events(settings, store, demo_events(), source="demo")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(summary.to_dict()))
    log(f"Demo data: {summary.shipped} events shipped ({summary.duplicates} already present).")
    return int(summary.shipped)


def _show_credentials(settings: Settings, boot: Bootstrap, log: Log, credentials_file: Path | None = None) -> None:
    """Every initial and demo password, once, on the starting terminal — never in a log file."""
    lang = settings.language
    lines = [t("up.credentials", lang, user=boot.admin_username, password=boot.admin_password)] if boot.admin_password else []
    lines += [t("up.demo_user", lang, user=user, password=password) for user, password in sorted(boot.demo_users.items())]
    if not lines:
        return
    if credentials_file is None:
        for line in lines:
            log(line)  # a terminal
        return
    # Detached: the log is a file; the starting terminal reads this 0600 file and removes it.
    fd = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, ("\n".join(lines) + "\n").encode())
    finally:
        os.close(fd)
    log(t("up.credentials_shown", lang, user=boot.admin_username or ", ".join(sorted(boot.demo_users))))


def serve(settings: Settings, log: Log, credentials_file: Path | None = None) -> None:
    settings = prepare_settings(settings)
    if settings.demo:
        settings = with_demo_departments(settings)
    check_port_free(settings.api.host, settings.api.port, "API server", "SOC_API_PORT")
    backend = start_backend(settings, log)
    scheduler = None
    try:
        auditor = AuditTrail(settings, backend.store)
        scheduler = build_scheduler(settings, backend.store, auditor)
        app = create_app(settings, backend.store, auditor=auditor, bootstrap=True, scheduler=scheduler)
        load_rules(settings, backend.store, auditor, log)
        if settings.demo:
            load_demo_data(settings, backend.store, log)
            register_demo_systems(backend.store, settings, auditor)
        scheduler.start()
        url = f"http://{settings.api.host}:{settings.api.port}"
        config = uvicorn.Config(app, host=settings.api.host, port=settings.api.port, log_level="warning",
                                access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        log(t("up.ready", settings.language, url=url))
        if app.state.bootstrap is not None:
            _show_credentials(settings, app.state.bootstrap, log, credentials_file)
        server.run()
    finally:
        log(t("up.stopping", settings.language))
        if scheduler is not None and scheduler.running:
            with contextlib.suppress(Exception):
                scheduler.shutdown(wait=False)
        backend.close()
