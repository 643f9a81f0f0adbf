"""Fixtures for real backups: settings with a restic password, a plans file, and cleanup of the
snapshot repositories this test registered under the node's path.repo."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backup_orchestrator import es_snapshots, service
from core import yamlio
from core.auditing import Actor, MemoryAuditor
from core.es import Store
from core.settings import Settings

SYSADMIN = Actor("alice", "sysadmin")


class Env:
    def __init__(self, settings: Settings, store: Store, tmp: Path) -> None:
        # Only the plans a test declares (the default plan has its own test).
        settings = settings.model_copy(update={"backup": settings.backup.model_copy(update={"default_plan": False})})
        self.base = settings
        self.settings = settings
        self.store = store
        self.tmp = tmp
        self.auditor = MemoryAuditor()
        self.plans: list[dict[str, Any]] = []

    def plan(self, **plan: Any) -> str:
        self.plans = [p for p in self.plans if p["id"] != plan["id"]] + [plan]
        path = self.tmp / "plans.yaml"
        path.write_text(yamlio.dumps({"plans": self.plans}))
        pw = self.tmp / "restic.pw"
        pw.write_text("correct horse battery staple\n")
        pw.chmod(0o600)
        backup = self.base.backup.model_copy(update={"plans_file": path, "restic_password_file": pw})
        self.settings = self.base.model_copy(update={"backup": backup})
        return str(plan["id"])

    def ctx(self, **kw: Any) -> Any:
        return service.context(self.settings, self.store, **kw)

    def backup(self, plan_id: str, **kw: Any) -> dict[str, Any]:
        return service.run_backup(kw.pop("ctx", None) or self.ctx(), SYSADMIN, self.auditor, plan_id, **kw)

    def drill(self, plan_id: str, **kw: Any) -> dict[str, Any]:
        return service.run_drill(kw.pop("ctx", None) or self.ctx(), SYSADMIN, self.auditor, plan_id, **kw)

    def es_root(self) -> Path:
        return es_snapshots.path_repo(self.store)[0] / self.settings.index_prefix


@pytest.fixture
def env(settings: Settings, store: Store, tmp_path: Path, prefix: str) -> Iterator[Env]:
    e = Env(settings, store, tmp_path)
    yield e
    for repo in store.request("GET", "/_snapshot/_all") or {}:
        if repo.startswith(f"{prefix}-"):
            es_snapshots.unregister(store, repo)
    store.delete_indices("drill-*-" + prefix + "-*")
    shutil.rmtree(e.es_root(), ignore_errors=True)


def seed_index(store: Store, index: str, n: int, *, offset: int = 0) -> None:
    docs = [(index, f"d{i}", {"@timestamp": f"2026-11-{1 + i % 28:02d}T00:00:00.000Z", "event": {"id": i},
                               "message": f"event number {i}", "host": {"name": f"h{i % 5}"}})
            for i in range(offset, offset + n)]
    store.ensure_index(index)
    result = store.bulk_create(docs, refresh="wait_for")
    assert result.all_stored
