"""The composition root: builds the running platform from settings.

``soc up`` (and tests of it) call these in order: ``prepare_settings`` → ``start_backend`` →
``build_scheduler`` → ``create_app`` (in ``api/``) → serve. Nothing here runs at import time.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from pydantic import SecretStr

from audit import jobs as audit_jobs
from backup_orchestrator import jobs as backup_jobs
from compliance import jobs as compliance_jobs
from core import event_lifecycle
from core.auditing import Actor, Auditor
from core.errors import Conflict
from core.es import Store
from core.event_migrate import daily_indices, migrate
from core.node import ManagedNode
from core.schema import install_templates
from core.settings import PLACEHOLDER_SECRET, Settings
from detections.jobs import register_detection_jobs
from detections.service import import_pack, import_rules
from notifications import jobs as notify_jobs

Log = Callable[[str], None]


@dataclass
class Backend:
    store: Store
    node: ManagedNode | None
    started_node: bool

    def close(self) -> None:
        self.store.close()
        if self.node is not None and self.started_node:
            self.node.stop()


def _persisted_secret(path: Path) -> str:
    """A random secret generated once and kept (0600) so the audit chain survives restarts."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def resolve_secrets(settings: Settings) -> Settings:
    """Fill placeholder secrets from ``<data_dir>/secrets`` (written by a demo run), generating
    them there in demo mode, so the CLI and the server sign the audit chain with the same key."""
    keys = settings.data_dir / "secrets"
    for section, name in (("api", "api.key"), ("audit", "audit.key")):
        current = getattr(settings, section)
        if current.secret_key.get_secret_value() != PLACEHOLDER_SECRET:
            continue
        path = keys / name
        if path.exists() or settings.demo:
            value = _persisted_secret(path)
            settings = settings.model_copy(
                update={section: current.model_copy(update={"secret_key": SecretStr(value)})})
    return settings


def prepare_settings(settings: Settings) -> Settings:
    """Resolve secrets, then refuse placeholders outside demo mode (the server's start-up)."""
    settings = resolve_secrets(settings)
    settings.check_secrets()
    return settings


def check_port_free(host: str, port: int, what: str, env: str) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise Conflict(
                f"Port {port} on {host} is already in use ({exc.strerror}), so the {what} cannot start. "
                f"Stop whatever holds it (a previous `soc up`? try `soc down`) or choose another port with {env}."
            ) from exc


def start_backend(settings: Settings, log: Log) -> Backend:
    """Use SOC_ES_URL's cluster, or install and start the managed node; install templates and
    move any per-day event indices of the old layout into the write aliases (``soc es migrate``)."""
    node: ManagedNode | None = None
    started = False
    if settings.managed_es:
        node = ManagedNode(settings)
        if not node.pid():
            node.start(log=log)
            started = True
    store = Store.connect(settings)
    try:
        info = store.check()
        log(f"Elasticsearch {info.version} at {store.url} ({info.status})")
        install_templates(store, settings.index_prefix)
        if daily_indices(store, settings.index_prefix):
            for report in migrate(store, settings, log=log):
                log(f"Event layout migration of {report.alias}: {report.events} events, {report.status}"
                    + (f" ({report.error})" if report.error else ""))
    except Exception:
        store.close()
        if started and node is not None:
            node.stop()
        raise
    return Backend(store=store, node=node, started_node=started)


def build_scheduler(settings: Settings, store: Store, auditor: Auditor) -> BackgroundScheduler:
    """The platform's scheduled jobs, not yet started: detections on their rule intervals (with
    leases, so several platform processes share the work), due backups and drills with retention
    and RPO checks, event index rollover and retention, and scheduled compliance runs when a cron
    is configured."""
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                  "misfire_grace_time": 300})
    register_detection_jobs(scheduler, settings, store, auditor)
    # The demo shows a backup and a passed drill of the default plan soon after start-up.
    # (next_run_time=None would pause the job, so it is only passed in demo mode.)
    first = {"next_run_time": datetime.now(UTC) + timedelta(seconds=20)} if settings.demo else {}
    scheduler.add_job(backup_jobs.tick, "interval", seconds=60, args=[settings, store, auditor],
                      id="backups.tick", replace_existing=True, **first)
    scheduler.add_job(event_lifecycle.maintenance_job, "interval", seconds=settings.events.maintenance_seconds,
                      args=[settings, store], id="events.maintenance", replace_existing=True)
    compliance_jobs.schedule(scheduler, store, settings, auditor)
    audit_jobs.schedule(scheduler, settings, store)
    scheduler.add_job(notify_jobs.tick, "interval", seconds=30, args=[settings, store, auditor],
                      id="notifications.tick", replace_existing=True)
    return scheduler


def load_rules(settings: Settings, store: Store, auditor: Auditor, log: Log) -> None:
    """The platform's own rules, plus any rule directories the settings name."""
    actor = Actor.system("soc-up")
    result = import_pack(store, settings.index_prefix, settings.detect.pack, sigmahq_dir=settings.detect.sigmahq_dir,
                         actor=actor, auditor=auditor)
    own = result["summary"]
    log(f"Detection rules (pack {settings.detect.pack}): {own['loaded']} loaded, {own['rejected']} not applicable"
        + ("" if not result["pack"]["sigmahq_missing"] else
           "; set SOC_DETECT_SIGMAHQ_DIR to a SigmaHQ checkout to add its rules for the collected log sources")
        + ".")
    if settings.detect.rules_dirs:
        report = import_rules(store, settings.index_prefix, [str(p) for p in settings.detect.rules_dirs],
                              actor=actor, auditor=auditor)["summary"]
        log(f"Detection rules from {len(settings.detect.rules_dirs)} extra source(s): {report['loaded']} loaded, "
            f"{report['rejected']} rejected (`soc rules import PATH` prints the lint report).")
