"""Every route × every role: allowed exactly when ``core.permissions`` says so.

The app runs with ``permission_probe`` on: a request that passes the permission gate gets 299
and the route body never runs, so the matrix changes nothing. Sessions live in Elasticsearch
(shared by every API process), so the probe users and their sessions are real ones.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.auditing import Actor, MemoryAuditor
from core.es import Store
from core.permissions import ROLES, TABLE, allowed
from core.settings import Settings
from tests.unit.api.route_table import ROUTES

PROBE_ALLOWED = 299


@pytest.fixture
def probe(settings: Settings, store: Store) -> tuple[TestClient, dict[str, str], dict[tuple[str, str], str | None]]:
    auditor = MemoryAuditor()
    app = create_app(settings, store, auditor=auditor)
    app.state.permission_probe = True
    app.state.anonymous.limit = 10**6  # the matrix sends every route without credentials from one client
    identity = app.state.identity
    operator = Actor("matrix", "cli")
    for role in ROLES:
        identity.users.create_user(f"probe-{role}", role, actor=operator)
        identity.records.save(replace(identity.records.require(f"probe-{role}")[0], must_change_password=False))
    identity.users.create_user("probe-new", "analyst", actor=operator)
    tokens = {role: identity.issue_token(f"probe-{role}")[0] for role in ROLES}
    tokens["must-change"] = identity.issue_token("probe-new")[0]
    declared = {
        (method.upper(), path): op.get("x-permission")
        for path, ops in app.openapi()["paths"].items()
        for method, op in ops.items()
    }
    return TestClient(app, raise_server_exceptions=True), tokens, declared


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "probe-value", path)


def test_every_route_has_exactly_one_table_entry(probe) -> None:
    _client, _tokens, declared = probe
    missing = sorted(set(declared) - set(ROUTES))
    stale = sorted(set(ROUTES) - set(declared))
    assert not missing, f"routes without an entry in tests/unit/api/route_table.py: {missing}"
    assert not stale, f"route_table.py entries without a route: {stale}"


def test_routes_declare_the_tabled_permission(probe) -> None:
    _client, _tokens, declared = probe
    for key, expected in ROUTES.items():
        assert expected in ("public", "authenticated") or expected in TABLE, f"{key}: unknown permission {expected}"
        actual = declared.get(key) or "public"
        assert actual == expected, f"{key} declares {actual!r}, the table says {expected!r}"


def test_matrix_every_route_every_role(probe) -> None:
    client, tokens, _declared = probe
    checked = 0
    for (method, path), permission in ROUTES.items():
        url = _concrete(path)
        anonymous = client.request(method, url, content=b"{}", headers={"content-type": "application/json"})
        if permission == "public":
            assert anonymous.status_code not in (401, 403), f"{method} {path} must be public"
            continue
        assert anonymous.status_code == 401, f"{method} {path} without credentials: {anonymous.status_code}"
        for role in ROLES:
            resp = client.request(method, url, content=b"{}",
                                  headers={"authorization": f"Bearer {tokens[role]}",
                                           "content-type": "application/json"})
            should = permission == "authenticated" or allowed(role, permission)
            expected = PROBE_ALLOWED if should else 403
            assert resp.status_code == expected, (
                f"{role} {method} {path} ({permission}): got {resp.status_code} {resp.text[:200]}, want {expected}")
            checked += 1
    assert checked >= 4 * 10


def test_separation_of_duties_in_the_table() -> None:
    # 三权分立: the administrator cannot read alerts or audit; nobody but a local operator purges audit.
    assert not allowed("admin", "alerts.read") and not allowed("admin", "audit.read")
    assert not allowed("auditor", "alerts.update") and not allowed("auditor", "users.manage")
    assert not allowed("analyst", "audit.read") and not allowed("sysadmin", "users.manage")
    assert TABLE["audit.purge"] == frozenset()
    for role in ROLES:
        assert not allowed(role, "audit.purge")


def test_initial_password_must_be_changed_before_anything_else(probe) -> None:
    client, tokens, _declared = probe
    headers = {"authorization": f"Bearer {tokens['must-change']}", "content-type": "application/json"}
    for (method, path), permission in ROUTES.items():
        if permission == "public":
            continue
        resp = client.request(method, _concrete(path), content=b"{}", headers=headers)
        if path in ("/api/v1/auth/password", "/api/v1/auth/me", "/api/v1/auth/logout"):
            assert resp.status_code == PROBE_ALLOWED, path
        else:
            assert resp.status_code == 403, f"{method} {path}: {resp.status_code}"
            if resp.status_code == 403:
                assert "password" in resp.json()["message"].lower()
