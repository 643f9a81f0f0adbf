"""Backup plans, runs, drills: frozen dataclasses, validated from YAML/API data by ``plans.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.contracts import BackupRun as BackupRun  # published run and drill documents
from core.contracts import DrillRun as DrillRun

PLAN_ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,62}$"
# The department a plan belongs to when it names none (the district, which sees all).
DISTRICT = "district"

CHECK_PASSED = "passed"
CHECK_FAILED = "failed"
CHECK_SKIPPED = "skipped"


@dataclass(frozen=True)
class Retention:
    keep_last: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0

    @property
    def empty(self) -> bool:
        return not (self.keep_last or self.keep_daily or self.keep_weekly or self.keep_monthly)


@dataclass(frozen=True)
class Objectives:
    rpo_seconds: int
    rto_seconds: int


@dataclass(frozen=True)
class Schedule:
    """Either a fixed interval or a cron expression (UTC); both may be empty (manual only)."""

    every_seconds: int | None = None
    cron: str | None = None


@dataclass(frozen=True)
class PostgresAsset:
    database: str
    host: str | None = None
    port: int | None = None
    user: str | None = None


@dataclass(frozen=True)
class Repositories:
    """Where one side (primary or offsite) keeps its copies.

    ``es_location`` is relative to the node's ``path.repo`` unless absolute; ``restic`` is a
    restic repository path (local directory).
    """

    es_location: str | None
    restic: str | None
    # A second site over SFTP (``restic: sftp:HOST:/path``): the ssh_config naming HOST's address,
    # port, key and known_hosts; and restic's upload cap in KiB/s for the wide-area link.
    ssh_config: str | None = None
    limit_upload_kib: int | None = None


@dataclass(frozen=True)
class DrillSpec:
    every_seconds: int | None = None
    queries: tuple[dict[str, Any], ...] = ()
    check_subset: str | None = None


@dataclass(frozen=True)
class Plan:
    id: str
    description: str = ""
    es_indices: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    postgres: PostgresAsset | None = None
    schedule: Schedule = field(default_factory=Schedule)
    retention: Retention = field(default_factory=Retention)
    primary: Repositories = field(default_factory=lambda: Repositories(None, None))
    offsite: Repositories | None = None
    objectives: Objectives = field(default_factory=lambda: Objectives(86400, 3600))
    drill: DrillSpec = field(default_factory=DrillSpec)
    source: str = "file"
    # Department (ECS organization.id) whose data the plan protects; its runs, drills and
    # restores carry it, so a department sees only its own.
    organization: str = DISTRICT

    def owner(self) -> dict[str, str]:
        """``organization`` as every document of the plan carries it."""
        return {"id": self.organization}

    @property
    def has_es(self) -> bool:
        return bool(self.es_indices)

    @property
    def has_files(self) -> bool:
        return bool(self.paths) or self.postgres is not None


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class RecoveryPoint:
    """One successful backup run as the catalog sees it."""

    run_id: str
    plan_id: str
    time: str
    es_snapshot: str | None
    restic_snapshot: str | None
    offsite_restic_snapshot: str | None = None
    offsite: bool = False
    manifest: dict[str, Any] = field(default_factory=dict)
