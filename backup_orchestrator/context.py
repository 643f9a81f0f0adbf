"""What a backup or drill needs: settings, store, catalog, clock, and where repositories live."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from backup_orchestrator import es_snapshots
from backup_orchestrator.catalog import Catalog
from backup_orchestrator.models import Plan
from backup_orchestrator.restic import Restic, ResticPassword
from core.alerting import build_alert, raise_alert, resolve_condition
from core.es import Store
from core.settings import Settings
from core.timeutil import Clock, utcnow

# progress(stage, fraction 0..1 or None, message)
Progress = Callable[[str, float | None, str], None]


def no_progress(_stage: str, _fraction: float | None, _message: str) -> None:
    return None


def never_cancelled() -> bool:
    return False


@dataclass
class BackupContext:
    settings: Settings
    store: Store
    clock: Clock = utcnow
    progress: Progress = no_progress
    # polled between stages of a run or drill started as a job (``core.jobs``)
    cancelled: Callable[[], bool] = never_cancelled
    catalog: Catalog = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = Catalog(self.store, self.settings.index_prefix)

    @property
    def prefix(self) -> str:
        return str(self.settings.index_prefix)

    @property
    def work_dir(self) -> Path:
        return Path(self.settings.data_dir) / "backups"

    @property
    def timeout(self) -> float:
        return float(self.settings.backup.operation_timeout_seconds)

    def lock_dir(self) -> Path:
        return self.work_dir / "locks"

    # -- repositories ------------------------------------------------------------------------

    def es_repo_name(self, plan: Plan, side: str) -> str:
        return f"{self.prefix}-{plan.id}-{side}"

    def es_location(self, plan: Plan, side: str) -> Path:
        repos = plan.primary if side == "primary" else plan.offsite
        location = repos.es_location if repos else None
        return es_snapshots.resolve_location(self.store, location, f"{self.prefix}/{plan.id}/{side}")

    def restic(self, plan: Plan, side: str) -> Restic:
        repos = plan.primary if side == "primary" else plan.offsite
        base = Path(self.settings.backup.repos_dir or self.work_dir / "repos")
        named = repos.restic if repos else None
        path = named or str(base / plan.id / side)
        return Restic(path, ResticPassword.from_settings(self.settings), binary=self.settings.backup.restic_binary,
                      cache_dir=self.work_dir / "restic-cache", timeout=self.timeout,
                      owned_parent=named is None and not self.settings.backup.repos_dir,
                      ssh_config=Path(repos.ssh_config) if repos and repos.ssh_config else None,
                      limit_upload_kib=repos.limit_upload_kib if repos else None)

    # -- alerts --------------------------------------------------------------------------------

    def alert(self, rule_id: str, name: str, reason: str, key: str, level: str = "high", *,
              plan_id: str | None = None) -> None:
        """A platform alert for the sysadmin; with ``plan_id`` it is about the plan's condition
        (``rule_id`` for that plan) and closes itself when ``clear`` is called for it."""
        alert_id, doc = build_alert(rule_id=rule_id, rule_name=name, level=level, reason=reason, key=key,
                                    source="backup", tags=["backup"],
                                    condition=f"{rule_id}:{plan_id}" if plan_id else None)
        raise_alert(self.store, self.prefix, alert_id, doc)

    def clear(self, rule_id: str, plan_id: str, note: str) -> None:
        resolve_condition(self.store, self.prefix, f"{rule_id}:{plan_id}", note)


def new_id(plan_id: str, when: datetime) -> str:
    return f"{plan_id}-{when.strftime('%Y%m%dt%H%M%S')}-{uuid.uuid4().hex[:6]}"
