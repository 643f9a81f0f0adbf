"""The plan every installation has without writing one: the platform backs itself up.

``platform``: the platform's own indices (not the events, which are bulk data with their own
retention), the audit trail's mirror and the data dir's secrets (the audit key verifies the
chain after a restore; restic encrypts them), daily, keeping 7 daily / 4 weekly / 6 monthly
points, drilled weekly. Its repositories are the defaults under the data dir (restic) and the
node's ``path.repo`` (which the managed node keeps under the data dir). A plans file that
declares its own ``platform`` wins; ``backup.default_plan: false`` turns it off.
"""

from __future__ import annotations

from pathlib import Path

from backup_orchestrator import plans
from backup_orchestrator.models import Plan
from core.settings import Settings

PLAN_ID = "platform"
# Index families the platform writes besides events (patterns, so absent ones are fine).
PLATFORM_INDICES = ("alerts*", "cases*", "rules*", "audit*", "users*", "user-requests*", "apikeys*",
                    "compliance*", "exceptions*", "backups-plans")


def plans_path(settings: Settings) -> Path:
    """Where plans are read from, on every use (so edits apply without a restart)."""
    return Path(settings.backup.plans_file or Path(settings.data_dir) / "backups" / "plans.yaml")


def paths(settings: Settings) -> list[Path]:
    return [Path(settings.audit_mirror_path).parent, Path(settings.data_dir) / "secrets"]


def plan(settings: Settings) -> Plan:
    prefix = settings.index_prefix
    return plans.parse_plan({
        "id": PLAN_ID,
        "description": "the platform itself: its indices (not events), audit mirror and secrets",
        "assets": {"elasticsearch": {"indices": [f"{prefix}-{p}" for p in PLATFORM_INDICES]},
                   "paths": [str(p) for p in paths(settings)]},
        "schedule": {"every": "24h"},
        "retention": {"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6},
        "objectives": {"rpo": "26h", "rto": "1h"},
        "drill": {"every": "7d"},
    }, source="default")


def ensure_paths(settings: Settings) -> None:
    """A fresh data dir may not have these folders yet; the first run must not fail on that."""
    for p in paths(settings):
        p.mkdir(parents=True, exist_ok=True, mode=0o700)
