"""An API on a real Elasticsearch (per-test prefix) with demo users and a settable clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.identity.service import DEMO_USERS
from core.es import Store
from core.settings import Settings


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    clock: Clock
    admin_password: str
    settings: Settings
    store: Store

    def login(self, username: str, password: str | None = None, **extra: Any) -> dict[str, str]:
        password = password or DEMO_USERS[username][1]
        resp = self.client.post("/api/v1/auth/login", json={"username": username, "password": password, **extra})
        assert resp.status_code == 200, resp.text
        return {"authorization": f"Bearer {resp.json()['token']}"}

    def as_role(self, role: str) -> dict[str, str]:
        return self.login(role)


@pytest.fixture
def api(settings: Settings, store: Store) -> Iterator[Api]:
    demo = settings.model_copy(update={"demo": True})
    clock = Clock()
    app = create_app(demo, store, clock=clock, bootstrap=True)
    boot = app.state.bootstrap
    assert boot.admin_password and set(boot.demo_users) == {"analyst", "auditor", "sysadmin"}
    yield Api(app=app, client=TestClient(app), clock=clock, admin_password=boot.admin_password, settings=demo,
              store=store)
    # What a server does at shutdown: aggregated anonymous failures are written now, while the
    # test's indices still exist, not later by the flusher thread.
    app.state.anonymous.close()
