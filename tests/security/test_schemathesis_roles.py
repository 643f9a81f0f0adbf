"""Every operation of the OpenAPI document, called as every role and without credentials, with a
few generated examples each: never a 5xx (a short budget that runs in CI; the contract run in
tests/integration/api checks response schemas for one permitted role)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from core.permissions import ROLES
from tests.integration.api.conftest import Api
from tests.integration.api.test_triage import seed_alerts

# Would end the session every later case uses.
SKIPPED = {("POST", "/api/v1/auth/logout")}


@pytest.fixture
def every_operation(api: Api):  # type: ignore[no-untyped-def]
    seed_alerts(api, 3)
    identity = api.app.state.identity
    admin = identity.records.require("admin")[0]
    identity.records.save(replace(admin, must_change_password=False))  # the generated one is "changed"
    api.app.state.anonymous.limit = 10**6  # the anonymous calls are the point here
    api.app.state.role_headers = {
        role: {"authorization": f"Bearer {identity.issue_token(role)[0]}"} for role in ROLES
    } | {"anonymous": {}}
    schemathesis.experimental.OPEN_API_3_1.enable()  # FastAPI publishes OpenAPI 3.1
    return schemathesis.from_asgi("/api/v1/openapi.json", api.app)


schema = schemathesis.from_pytest_fixture("every_operation")


@schema.parametrize()
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), database=None,
          phases=[Phase.explicit, Phase.generate])
def test_no_5xx_for_any_role(case, api: Api) -> None:  # type: ignore[no-untyped-def]
    if (case.method.upper(), case.path) in SKIPPED:
        return
    for role, headers in api.app.state.role_headers.items():
        response = case.call(headers=headers)
        assert response.status_code < 500, (f"{role}: {case.method} {case.formatted_path}: "
                                            f"{response.status_code} {response.text[:300]}")
