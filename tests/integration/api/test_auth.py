"""Login, first-login password change, password policy, lockout, idle timeout, TOTP, API keys."""

from __future__ import annotations

import pyotp

from tests.integration.api.conftest import Api

GOOD = "Str0ng!Passphrase-42"


def _login(api: Api, username: str, password: str, **extra: str):
    return api.client.post("/api/v1/auth/login", json={"username": username, "password": password, **extra})


def test_initial_admin_must_change_generated_password(api: Api) -> None:
    resp = _login(api, "admin", api.admin_password)
    assert resp.status_code == 200 and resp.json()["must_change_password"] is True
    headers = {"authorization": f"Bearer {resp.json()['token']}"}
    blocked = api.client.get("/api/v1/users", headers=headers)
    assert blocked.status_code == 403 and "password" in blocked.json()["message"].lower()
    weak = api.client.post("/api/v1/auth/password", headers=headers,
                           json={"old_password": api.admin_password, "new_password": "short"})
    assert weak.status_code == 422
    messages = " ".join(d["message"] for d in weak.json()["detail"])
    assert "12 characters" in messages and "symbol" in messages and "uppercase" in messages
    same = api.client.post("/api/v1/auth/password", headers=headers,
                           json={"old_password": api.admin_password, "new_password": api.admin_password})
    assert same.status_code == 422 and "recent" in same.text
    ok = api.client.post("/api/v1/auth/password", headers=headers,
                         json={"old_password": api.admin_password, "new_password": GOOD})
    assert ok.status_code == 200, ok.text
    users = api.client.get("/api/v1/users", headers=headers)
    assert users.status_code == 200
    assert {u["username"] for u in users.json()["items"]} == {"admin", "analyst", "auditor", "sysadmin"}
    assert _login(api, "admin", api.admin_password).status_code == 401
    assert _login(api, "admin", GOOD).json()["must_change_password"] is False


def test_password_history_refuses_recent_passwords(api: Api) -> None:
    headers = api.login("analyst")
    first = "Demo#Analyze2026"
    passwords = ["Another#Secret1", "Another#Secret2", "Another#Secret3"]
    current = first
    for new in passwords:
        resp = api.client.post("/api/v1/auth/password", headers=headers,
                               json={"old_password": current, "new_password": new})
        assert resp.status_code == 200, resp.text
        current = new
    reuse = api.client.post("/api/v1/auth/password", headers=headers,
                            json={"old_password": current, "new_password": first})
    assert reuse.status_code == 422 and "recent" in reuse.text
    wrong_old = api.client.post("/api/v1/auth/password", headers=headers,
                                json={"old_password": "nope", "new_password": "Brand#NewOne99"})
    assert wrong_old.status_code == 403


def test_lockout_after_five_failures_in_ten_minutes(api: Api) -> None:
    # Four failures spread so the first falls out of the window: no lockout yet.
    for _ in range(4):
        assert _login(api, "analyst", "wrong-password").status_code == 401
        api.clock.advance(minutes=3)
    assert _login(api, "analyst", "Demo#Analyze2026").status_code == 200  # success clears failures
    for i in range(5):
        resp = _login(api, "analyst", f"wrong-{i}")
        assert resp.status_code == 401
    locked = _login(api, "analyst", "Demo#Analyze2026")
    # The same answer as for a name that does not exist: a reply never tells which accounts exist.
    assert locked.status_code == 401 and locked.json() == _login(api, "nobody-here", "x").json()
    assert "locked" in locked.json()["message"] and locked.json()["detail"]["lockout_threshold"] == 5
    assert api.store.get(api.settings.index("users"), "analyst")["_source"]["locked_until"] > "2000"
    api.clock.advance(minutes=16)
    assert _login(api, "analyst", "Demo#Analyze2026").status_code == 200
    trail = api.app.state.auditor
    records = trail.search(actor=_auditor(), action="auth.login", outcome="failure", size=100)["items"]
    assert len(records) >= 10
    assert any(r["action"] == "auth.lockout" for r in trail.search(actor=_auditor(), size=200)["items"])


def test_admin_unlocks_a_locked_user(api: Api) -> None:
    for i in range(5):
        _login(api, "auditor", f"bad-{i}")
    assert _login(api, "auditor", "Demo#Inspect2026").status_code == 401
    admin = _admin(api)
    listed = {u["username"]: u for u in api.client.get("/api/v1/users", headers=admin).json()["items"]}
    assert listed["auditor"]["locked_until"]
    assert api.client.post("/api/v1/users/auditor/unlock", headers=admin).status_code == 200
    assert _login(api, "auditor", "Demo#Inspect2026").status_code == 200


def test_idle_timeout_ends_the_session(api: Api) -> None:
    headers = api.login("analyst")
    for _ in range(3):  # activity keeps the session alive well past one idle period
        api.clock.advance(minutes=14)
        assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    api.clock.advance(minutes=15, seconds=1)
    resp = api.client.get("/api/v1/auth/me", headers=headers)
    assert resp.status_code == 401 and "expired" in resp.json()["message"]
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_logout_revokes_the_token(api: Api) -> None:
    headers = api.login("sysadmin")
    assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 200
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_totp_second_factor(api: Api) -> None:
    headers = api.login("auditor")
    setup = api.client.post("/api/v1/auth/totp/setup", headers=headers).json()
    totp = pyotp.TOTP(setup["secret"])
    assert setup["provisioning_uri"].startswith("otpauth://")
    bad = api.client.post("/api/v1/auth/totp/enable", headers=headers, json={"code": "000000"})
    assert bad.status_code == 422
    good = api.client.post("/api/v1/auth/totp/enable", headers=headers, json={"code": totp.at(api.clock.now)})
    assert good.status_code == 200
    missing = _login(api, "auditor", "Demo#Inspect2026")
    assert missing.status_code == 401 and missing.json()["detail"]["totp_required"] is True
    wrong = _login(api, "auditor", "Demo#Inspect2026", totp_code="123456" if totp.at(api.clock.now) != "123456"
                   else "654321")
    assert wrong.status_code == 401
    # The code that enabled the factor is spent: single-use codes, even within their window.
    assert _login(api, "auditor", "Demo#Inspect2026", totp_code=totp.at(api.clock.now)).status_code == 401
    api.clock.advance(seconds=30)
    ok = _login(api, "auditor", "Demo#Inspect2026", totp_code=totp.at(api.clock.now))
    assert ok.status_code == 200
    replay = _login(api, "auditor", "Demo#Inspect2026", totp_code=totp.at(api.clock.now))
    assert replay.status_code == 401 and replay.json()["detail"]["totp_required"] is True
    stored = api.store.get(api.settings.index("users"), "auditor")["_source"]
    assert stored["totp_enabled"] and setup["secret"] not in str(stored)  # encrypted at rest


def test_api_keys_authenticate_and_can_be_revoked(api: Api) -> None:
    admin = _admin(api)
    analyst = api.login("analyst")
    created = api.client.post("/api/v1/users/apikeys", headers=analyst, json={"name": "soar"})
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "analyst"
    key = {"x-api-key": created.json()["key"]}
    assert api.client.get("/api/v1/alerts", headers=key).status_code == 200
    assert api.client.get("/api/v1/audit", headers=key).status_code == 403  # the analyst's role, not more
    listed = api.client.get("/api/v1/users/apikeys", headers=admin).json()
    assert [k["name"] for k in listed] == ["soar"] and "key" not in listed[0] or listed[0]["key"] is None
    assert api.client.delete(f"/api/v1/users/apikeys/{created.json()['id']}", headers=admin).status_code == 200
    assert api.client.get("/api/v1/alerts", headers=key).status_code == 401
    assert api.client.get("/api/v1/alerts", headers={"x-api-key": "ql_nope_nope"}).status_code == 401


def test_admin_manages_users_but_not_itself(api: Api) -> None:
    admin = _admin(api)
    created = api.client.post("/api/v1/users", headers=admin, json={"username": "bob", "role": "analyst"})
    assert created.status_code == 201
    temp = created.json()["temporary_password"]
    assert _login(api, "bob", temp).json()["must_change_password"] is True
    moved = api.client.patch("/api/v1/users/bob", headers=admin, json={"role": "sysadmin"})
    assert moved.json()["role"] == "sysadmin"
    assert api.client.patch("/api/v1/users/admin", headers=admin, json={"role": "auditor"}).status_code == 403
    assert api.client.patch("/api/v1/users/bob", headers=admin, json={"disabled": True}).status_code == 200
    assert _login(api, "bob", temp).status_code == 401
    dup = api.client.post("/api/v1/users", headers=admin, json={"username": "bob", "role": "analyst"})
    assert dup.status_code == 409
    bad = api.client.post("/api/v1/users", headers=admin, json={"username": "Bad Name", "role": "root"})
    assert bad.status_code == 422 and {d["field"] for d in bad.json()["detail"]} >= {"username", "role"}


def test_oversized_request_is_refused(api: Api) -> None:
    small = api.settings.model_copy(update={"api": api.settings.api.model_copy(update={"max_request_bytes": 1000})})
    from fastapi.testclient import TestClient

    from api.app import create_app

    client = TestClient(create_app(small, api.store, auditor=api.app.state.auditor))
    resp = client.post("/api/v1/auth/login", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"] == "too_large"


def _auditor():
    from core.auditing import Actor

    return Actor("test", "auditor")


def _admin(api: Api) -> dict[str, str]:
    first = _login(api, "admin", api.admin_password).json()
    headers = {"authorization": f"Bearer {first['token']}"}
    resp = api.client.post("/api/v1/auth/password", headers=headers,
                           json={"old_password": api.admin_password, "new_password": GOOD})
    assert resp.status_code == 200
    return headers


def test_messages_follow_accept_language(api: Api) -> None:
    zh = api.client.post("/api/v1/auth/login", json={"username": "analyst", "password": "nope"},
                         headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 401 and zh.json()["message"] == "用户名或密码错误，或账户已锁定或停用。"
    en = api.client.post("/api/v1/auth/login", json={"username": "analyst", "password": "nope"},
                         headers={"accept-language": "en-US"})
    assert en.json()["message"] == "Wrong user name or password, or the account is locked or disabled."
