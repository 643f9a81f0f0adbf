"""Platform data written by the parts that really write it: events through the event layout,
rules imported and run by the detection engine, records appended (and verified, and tampered
with) by the audit trail, backups and drills run by the backup orchestrator on a real restic
repository. Nothing here is a hand-made copy of another domain's documents."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from audit.chain import record_id
from audit.trail import AuditTrail
from backup_orchestrator import service as backups
from core import yamlio
from core.auditing import Actor, MemoryAuditor
from core.es import Store
from core.event_layout import EventWriter, events_alias
from core.schema import install_templates
from core.settings import Settings
from core.timeutil import iso
from detections.runner import RunnerConfig, run_cycle
from detections.service import import_rules

ACTOR = Actor("cli:seed", "cli")
AUDITOR = Actor("ann", "auditor")
RULE = """
title: Seeded SSH login
id: 7d0c4b1e-1f5e-4c43-9d43-4a3a0e6b1a01
status: test
level: low
logsource: {product: linux, service: auth}
detection:
  selection: {event.action: ssh_login}
  condition: selection
"""


def seed_platform(settings: Settings, store: Store, now: datetime, tmp: Path, *, healthy: bool) -> Settings:
    """Returns the settings with the seeded backup plan."""
    prefix = settings.index_prefix
    install_templates(store, prefix)
    seed_events(store, prefix, now, healthy=healthy)
    _rules(store, prefix, now, tmp, healthy)
    _audit(settings, store, healthy)
    return _backups(settings, store, now, tmp, healthy)


def seed_events(store: Store, prefix: str, now: datetime, *, healthy: bool) -> None:
    install_templates(store, prefix)
    docs: list[tuple[str, str, dict[str, Any]]] = []
    hosts = {"web-01": now - timedelta(minutes=5), "db-01": now - timedelta(minutes=30)}
    if not healthy:
        hosts["db-01"] = now - timedelta(days=3)  # a silent asset
    oldest = now - timedelta(days=200 if healthy else 20)
    for n, (host, last) in enumerate(hosts.items()):
        for k, ts in enumerate((oldest, last)):
            doc = {"@timestamp": iso(ts), "host": {"name": host}, "event": {"dataset": "system.auth",
                   "action": "ssh_login", "outcome": "success"}, "user": {"name": "alice"}, "message": "login"}
            docs.append((events_alias(prefix, "system.auth"), f"e{n}{k}", doc))
    assert EventWriter(store).create(docs, refresh=True).all_stored


def _rules(store: Store, prefix: str, now: datetime, tmp: Path, healthy: bool) -> None:
    path = tmp / "seed-rule.yml"
    path.write_text(RULE, "utf-8")
    report = import_rules(store, prefix, [path], actor=ACTOR, auditor=MemoryAuditor())
    assert report["summary"]["stored"]["created"] == 1, report
    # The engine's own cycle stamps the rule's last run: just now, or ten hours ago (idle engine).
    ran = now if healthy else now - timedelta(hours=10)
    cfg = RunnerConfig(prefix=prefix, worker_id="seed", settle_seconds=0, partitions=1, initial_lookback_seconds=3600)
    run_cycle(store, cfg, clock=lambda: ran, force=True)
    store.refresh(f"{prefix}-rules")


def _audit(settings: Settings, store: Store, healthy: bool) -> None:
    trail = AuditTrail(settings, store)
    for n in range(3):
        trail.append(ACTOR, "login", f"user-{n}")
    if not healthy:
        # Someone deletes a record from the Elasticsearch copy; the next verification notices.
        store.delete(trail.index, record_id(2), refresh=True)
    trail.verify(actor=AUDITOR)
    trail.append(ACTOR, "login", "user-3")
    store.refresh(trail.index)


def _backups(settings: Settings, store: Store, now: datetime, tmp: Path, healthy: bool) -> Settings:
    src = tmp / "seed-files"
    src.mkdir(parents=True, exist_ok=True)
    (src / "a.txt").write_text("清朗 seed\n", "utf-8")
    plan: dict[str, Any] = {"id": "seed", "assets": {"paths": [str(src)]},
                            "primary": {"restic": str(tmp / "seed-repo")}}
    if healthy:
        plan["offsite"] = {"restic": str(tmp / "seed-offsite")}
    else:
        plan["objectives"] = {"rpo": "1h", "rto": "10m"}
    plans = tmp / "seed-plans.yaml"
    plans.write_text(yamlio.dumps({"plans": [plan]}))
    pw = tmp / "seed-restic.pw"
    pw.write_text("correct horse battery staple\n")
    pw.chmod(0o600)
    s = settings.model_copy(update={"backup": settings.backup.model_copy(update={
        "default_plan": False, "plans_file": plans, "restic_password_file": pw})})
    audit = MemoryAuditor()
    # Unhealthy: the newest backup is 70 hours old, so a drill now misses its 1 h RPO and fails.
    ran = now if healthy else now - timedelta(hours=70)
    run = backups.run_backup(backups.context(s, store, clock=lambda: ran), ACTOR, audit, "seed")
    assert run["status"] == "success", run.get("error")
    drill = backups.run_drill(backups.context(s, store), ACTOR, audit, "seed")
    assert drill["status"] == ("passed" if healthy else "failed"), drill.get("checks")
    store.refresh(f"{settings.index_prefix}-backups-*")
    return s
