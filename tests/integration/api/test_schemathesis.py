"""Property-based requests generated from the OpenAPI document, authenticated with a role that
may call each operation: no 5xx and no response that violates the documented schema."""

from __future__ import annotations

from dataclasses import replace

import schemathesis
from hypothesis import HealthCheck, Phase, settings

from core.permissions import ROLES, allowed
from tests.integration.api.conftest import Api
from tests.integration.api.test_triage import seed_alerts

SKIPPED = {("POST", "/api/v1/auth/logout")}  # would end the session the other cases use


def _pick_role(permission: str | None) -> str | None:
    if permission in (None, "public"):
        return None
    if permission == "authenticated":
        return "analyst"
    return next((r for r in ROLES if allowed(r, permission)), None)


import pytest  # noqa: E402


@pytest.fixture
def api_schema(api: Api):
    seed_alerts(api, 5)
    identity = api.app.state.identity
    admin = identity.records.require("admin")[0]
    identity.records.save(replace(admin, must_change_password=False))  # the generated one is "changed"
    tokens = {role: identity.issue_token(role)[0] for role in ROLES}
    api.app.state.schemathesis_tokens = tokens
    schemathesis.experimental.OPEN_API_3_1.enable()  # FastAPI publishes OpenAPI 3.1
    return schemathesis.from_asgi("/api/v1/openapi.json", api.app)


# This module's routes; other domains' routers get their own contract runs (add them here when
# their services are stable on a shared node).
OWN_ROUTES = r"^/(health|metrics|api/v1/(auth|users|audit|alerts|cases|shared-with-me|events|platform)(/|$))"
schema = schemathesis.from_pytest_fixture("api_schema", endpoint=OWN_ROUTES)


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None,
          phases=[Phase.explicit, Phase.generate])
def test_openapi_contract(case, api: Api) -> None:
    if (case.method.upper(), case.path) in SKIPPED:
        return
    role = _pick_role(case.operation.definition.raw.get("x-permission"))
    headers = {}
    if role is not None:
        headers["authorization"] = f"Bearer {api.app.state.schemathesis_tokens[role]}"
    response = case.call(headers=headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    case.validate_response(response, checks=(schemathesis.checks.response_schema_conformance,))
