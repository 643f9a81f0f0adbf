"""三权分立 as an attacker in each role: the administrator cannot act as the auditor, mint
credentials for anyone else, or create, reset, re-enable or disable audit accounts without an
auditor's approval; the last auditor stays; privileged changes alert the auditors; API keys obey
the forced password change and MFA policy."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient

from api.app import create_app
from core.auditing import Actor
from tests.integration.api.conftest import Api, api
from tests.security.live_api import PASSWORD

__all__ = ["api"]
GOOD = "Str0ng!Passphrase-42"
AUDITOR_PW = "Demo#Inspect2026"


def _admin(api: Api) -> dict[str, str]:
    headers = api.login("admin", api.admin_password)
    resp = api.client.post("/api/v1/auth/password", headers=headers,
                           json={"old_password": api.admin_password, "new_password": GOOD})
    assert resp.status_code == 200
    return headers


def _audit(api: Api, action: str) -> list[dict[str, object]]:
    trail = api.app.state.auditor
    return trail.search(actor=Actor("test", "auditor"), action=action, size=100)["items"]


def _privileged_alerts(api: Api, headers: dict[str, str]) -> list[dict[str, object]]:
    api.store.refresh(api.settings.index("alerts"))
    resp = api.client.get("/api/v1/alerts", headers=headers, params={"rule": "platform.privileged-account-change"})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def test_admin_cannot_mint_an_api_key_acting_as_the_auditor(api: Api) -> None:
    admin = _admin(api)
    forged = api.client.post("/api/v1/users/apikeys", headers=admin, json={"username": "auditor", "name": "x"})
    assert forged.status_code == 403 and "another user" in forged.json()["message"]
    assert [r["outcome"] for r in _audit(api, "users.apikey_create")] == ["denied"]
    own = api.client.post("/api/v1/users/apikeys", headers=admin, json={"name": "automation"})
    assert own.status_code == 201 and own.json()["username"] == "admin"
    key = {"x-api-key": own.json()["key"]}
    assert api.client.get("/api/v1/audit", headers=key).status_code == 403  # the admin's own rights only
    # No role can: the analyst cannot mint one for the sysadmin either.
    analyst = api.login("analyst")
    other = api.client.post("/api/v1/users/apikeys", headers=analyst, json={"username": "sysadmin", "name": "x"})
    assert other.status_code == 403


def test_admin_resets_the_auditor_only_with_an_auditors_approval(api: Api) -> None:
    admin = _admin(api)
    pending = api.client.post("/api/v1/users/auditor/reset-password", headers=admin)
    assert pending.status_code == 202 and "temporary_password" not in pending.text
    assert api.login("auditor")  # nothing changed yet: the old password still works
    keeper = api.app.state.identity.users.create_user("keeper", "auditor", actor=Actor("op", "cli"),
                                                      password=PASSWORD)
    assert keeper["role"] == "auditor"
    request_id = pending.json()["request_id"]
    # The target may not approve a change to their own account; the admin may not approve at all.
    auditor = api.login("auditor")
    own = api.client.post(f"/api/v1/users/requests/{request_id}/approve", headers=auditor)
    assert own.status_code == 403
    assert api.client.post(f"/api/v1/users/requests/{request_id}/approve", headers=admin).status_code == 403
    keeper_headers = _first_login(api, "keeper", PASSWORD)
    listed = api.client.get("/api/v1/users/requests", headers=keeper_headers).json()["items"]
    assert [r["id"] for r in listed] == [request_id] and listed[0]["requested_by"] == "admin"
    approved = api.client.post(f"/api/v1/users/requests/{request_id}/approve", headers=keeper_headers)
    assert approved.status_code == 200, approved.text
    temporary = approved.json()["result"]["temporary_password"]  # to the approving auditor only
    assert api.client.post("/api/v1/auth/login", json={"username": "auditor", "password": AUDITOR_PW}).status_code == 401
    assert api.client.get("/api/v1/auth/me", headers=auditor).status_code == 401  # its sessions ended
    assert api.login("auditor", temporary)
    again = api.client.post(f"/api/v1/users/requests/{request_id}/approve", headers=keeper_headers)
    assert again.status_code == 409  # decided once
    assert _audit(api, "users.request") and _audit(api, "users.request_approve")


def test_admin_cannot_create_a_second_auditor_alone(api: Api) -> None:
    admin = _admin(api)
    pending = api.client.post("/api/v1/users", headers=admin, json={"username": "mole", "role": "auditor",
                                                                     "password": "Known#ToAdmin2026"})
    assert pending.status_code == 202
    assert api.client.get("/api/v1/users/mole", headers=admin).status_code == 404
    # Promoting an existing account to auditor is the same change.
    promote = api.client.patch("/api/v1/users/analyst", headers=admin, json={"role": "auditor"})
    assert promote.status_code == 202
    assert api.client.get("/api/v1/users/analyst", headers=admin).json()["role"] == "analyst"
    auditor = api.login("auditor")
    rejected = api.client.post(f"/api/v1/users/requests/{pending.json()['request_id']}/reject", headers=auditor)
    assert rejected.status_code == 200 and rejected.json()["request"]["status"] == "rejected"
    assert api.client.get("/api/v1/users/mole", headers=admin).status_code == 404
    approved = api.client.post(f"/api/v1/users/requests/{promote.json()['request_id']}/approve", headers=auditor)
    assert approved.status_code == 200 and approved.json()["result"]["role"] == "auditor"


def test_the_last_enabled_auditor_cannot_be_disabled(api: Api) -> None:
    admin = _admin(api)
    refused = api.client.patch("/api/v1/users/auditor", headers=admin, json={"disabled": True})
    assert refused.status_code == 409 and "last enabled auditor" in refused.json()["message"]
    demote = api.client.patch("/api/v1/users/auditor", headers=admin, json={"role": "analyst"})
    assert demote.status_code == 409
    # Not even a local operator on the host.
    from core.errors import Conflict

    users = api.app.state.identity.users
    try:
        users.update_user("auditor", actor=Actor("root", "cli"), disabled=True)
        raise AssertionError("the last auditor was disabled")
    except Conflict:
        pass
    assert api.login("auditor")
    # With a second auditor, disabling one is a request the *other* auditor decides.
    users.create_user("second", "auditor", actor=Actor("root", "cli"), password=PASSWORD)
    pending = api.client.patch("/api/v1/users/auditor", headers=admin, json={"disabled": True})
    assert pending.status_code == 202
    second = _first_login(api, "second", PASSWORD)
    ok = api.client.post(f"/api/v1/users/requests/{pending.json()['request_id']}/approve", headers=second)
    assert ok.status_code == 200 and ok.json()["result"]["disabled"] is True
    # Re-enabling needs an approval too.
    again = api.client.patch("/api/v1/users/auditor", headers=admin, json={"disabled": False})
    assert again.status_code == 202


def test_changes_to_privileged_accounts_alert_the_auditor(api: Api) -> None:
    admin = _admin(api)
    created = api.client.post("/api/v1/users", headers=admin, json={"username": "admin2", "role": "admin"})
    assert created.status_code == 201
    auditor = api.login("auditor")
    alerts = _privileged_alerts(api, auditor)
    assert len(alerts) == 1
    alert = alerts[0]["alert"]
    assert alert["level"] == "high" and alert["audience"] == ["auditor"] and "admin2" in alert["reason"]
    # Routed to the auditors, not to the analysts.
    assert _privileged_alerts(api, api.login("analyst")) == []
    # An ordinary account raises none.
    assert api.client.post("/api/v1/users", headers=admin, json={"username": "plain", "role": "analyst"}).status_code == 201
    assert len(_privileged_alerts(api, auditor)) == 1
    assert api.client.post("/api/v1/users/admin2/reset-password", headers=admin).status_code == 200
    assert len(_privileged_alerts(api, auditor)) == 2


def test_api_keys_inherit_forced_password_change_and_mfa(api: Api) -> None:
    identity = api.app.state.identity
    operator = Actor("root", "cli")
    analyst = api.login("analyst")
    key = api.client.post("/api/v1/users/apikeys", headers=analyst, json={"name": "soar"}).json()["key"]
    assert api.client.get("/api/v1/alerts", headers={"x-api-key": key}).status_code == 200
    # A reset forces a password change: until it is done, the key does not work either.
    identity.users.reset_password("analyst", actor=operator)
    refused = api.client.get("/api/v1/alerts", headers={"x-api-key": key})
    assert refused.status_code == 401 and "change its password" in refused.json()["message"]
    user = identity.records.require("analyst")[0]
    identity.records.save(replace(user, must_change_password=False))
    assert api.client.get("/api/v1/alerts", headers={"x-api-key": key}).status_code == 200
    # MFA required for the role: no key is minted or used until a second factor is enrolled.
    strict = api.settings.model_copy(update={"api": api.settings.api.model_copy(
        update={"mfa_required_roles": ["analyst"]})})
    client = TestClient(create_app(strict, api.store, auditor=api.app.state.auditor))
    assert client.get("/api/v1/alerts", headers={"x-api-key": key}).status_code == 401
    token = identity.issue_token("analyst")[0]
    minted = client.post("/api/v1/users/apikeys", headers={"authorization": f"Bearer {token}"}, json={"name": "y"})
    assert minted.status_code == 403 and "second factor" in minted.json()["message"]


def _first_login(api: Api, username: str, password: str) -> dict[str, str]:
    headers = api.login(username, password)
    new = f"{password}-Changed9"
    assert api.client.post("/api/v1/auth/password", headers=headers,
                           json={"old_password": password, "new_password": new}).status_code == 200
    return headers


def test_requests_are_decided_from_the_cli_too(api: Api, tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from soc.cli import cli
    from tests.integration.api.test_cli import _config

    admin = _admin(api)
    pending = api.client.post("/api/v1/users", headers=admin, json={"username": "newaud", "role": "auditor"})
    assert pending.status_code == 202
    config = _config(api.settings, tmp_path)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["--config", str(config), "--json", *args], catch_exceptions=False)
        return result.exit_code, result.output

    code, out = run("users", "requests")
    assert code == 0 and [r["target"] for r in json.loads(out)] == ["newaud"]
    code, out = run("users", "approve", pending.json()["request_id"])
    assert code == 0 and json.loads(out)["result"]["temporary_password"]
    assert api.client.get("/api/v1/users/newaud", headers=admin).json()["role"] == "auditor"
    code, out = run("users", "requests")
    assert code == 0 and json.loads(out) == []
