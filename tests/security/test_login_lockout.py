"""Login against a real server process: parallel guesses never exceed the lockout threshold;
wrong password, unknown, disabled and locked accounts get one identical answer; TOTP codes
are single-use; failed logins are rate limited per source address; published demo passwords
do not log in outside demo mode."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pyotp

from api.app import bootstrap_users, create_app
from api.identity.passwords import hash_password
from api.identity.records import DEMO_USERS
from core.auditing import MemoryAuditor
from core.es import Store
from core.settings import Settings
from tests.security.live_api import PASSWORD, LiveApi, live_api, make_users

__all__ = ["live_api"]


def _attempt(api: LiveApi, username: str, password: str, **extra: str) -> httpx.Response:
    with httpx.Client(timeout=60) as client:
        return client.post(f"{api.url}/api/v1/auth/login",
                           json={"username": username, "password": password, **extra})


def _evaluated(api: LiveApi, username: str) -> list[dict[str, object]]:
    api.store.refresh(api.settings.index("audit"))
    hits = api.store.search(api.settings.index("audit"), {"size": 500, "query": {"bool": {"filter": [
        {"term": {"action": "auth.login"}}, {"term": {"target": username}}]}}})["hits"]["hits"]
    return [h["_source"] for h in hits if (h["_source"].get("detail") or {}).get("reason") == "wrong password"]


def test_forty_parallel_guesses_evaluate_exactly_the_threshold(live_api: LiveApi) -> None:
    make_users(live_api.settings, live_api.store, {"target": "analyst"})
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda i: _attempt(live_api, "target", f"Guess#{i:04d}x"), range(40)))
    assert {r.status_code for r in answers} == {401}
    assert len({r.text for r in answers}) == 1  # evaluated or refused: the same answer
    assert len(_evaluated(live_api, "target")) == live_api.settings.api.lockout_threshold == 5
    # Now locked: even the right password is refused, with that same answer.
    assert _attempt(live_api, "target", PASSWORD).text == answers[0].text
    stored = live_api.store.get(live_api.settings.index("users"), "target")["_source"]
    assert stored["locked_until"]


def test_one_answer_for_wrong_unknown_disabled_and_locked(live_api: LiveApi) -> None:
    make_users(live_api.settings, live_api.store, {"alice": "analyst", "dora": "analyst", "lucy": "analyst"})
    live_api.cli_json("users", "disable", "dora")
    for i in range(5):
        _attempt(live_api, "lucy", f"Wrong#{i}xxxxx")
    answers = {
        "wrong password": _attempt(live_api, "alice", "Wrong#Password1"),
        "unknown user": _attempt(live_api, "nobody", PASSWORD),
        "disabled, right password": _attempt(live_api, "dora", PASSWORD),
        "locked, right password": _attempt(live_api, "lucy", PASSWORD),
    }
    bodies = {why: (r.status_code, r.text) for why, r in answers.items()}
    assert len(set(bodies.values())) == 1, bodies
    assert answers["unknown user"].status_code == 401


def test_totp_code_is_single_use(live_api: LiveApi) -> None:
    make_users(live_api.settings, live_api.store, {"tess": "auditor"})
    headers = live_api.login("tess")
    secret = live_api.post("/api/v1/auth/totp/setup", headers=headers).json()["secret"]
    totp = pyotp.TOTP(secret)
    enable_code = totp.now()
    assert live_api.post("/api/v1/auth/totp/enable", headers=headers, json={"code": enable_code}).status_code == 200
    # The code just used to enrol cannot log in; an intercepted login code cannot be replayed,
    # not even concurrently: of two parallel uses, one wins.
    assert _attempt(live_api, "tess", PASSWORD, totp_code=enable_code).status_code == 401
    code = totp.at(time.time() + 30)  # the next step's code (accepted: one step of clock drift)
    with ThreadPoolExecutor(max_workers=2) as pool:
        both = list(pool.map(lambda _i: _attempt(live_api, "tess", PASSWORD, totp_code=code), range(2)))
    assert sorted(r.status_code for r in both) == [200, 401]
    assert _attempt(live_api, "tess", PASSWORD, totp_code=code).status_code == 401


def test_failed_logins_are_rate_limited_per_address(settings: Settings, store: Store) -> None:
    limited = settings.model_copy(update={"api": settings.api.model_copy(update={"login_failures_per_minute": 3})})
    from fastapi.testclient import TestClient

    app = create_app(limited, store, auditor=MemoryAuditor())
    make_users(limited, store, {"ralph": "analyst"})
    client = TestClient(app)
    for i in range(3):
        assert client.post("/api/v1/auth/login", json={"username": "nobody", "password": f"x{i}"}).status_code == 401
    blocked = client.post("/api/v1/auth/login", json={"username": "ralph", "password": PASSWORD})
    assert blocked.status_code == 429 and blocked.json()["detail"]["retry_after"] > 0
    # The refused attempt was not evaluated: three failures recorded, no success.
    assert [r["outcome"] for r in app.state.auditor.records if r["action"] == "auth.login"] == ["failure"] * 3


def test_published_demo_passwords_do_not_log_in_outside_demo_mode(settings: Settings, store: Store) -> None:
    from fastapi.testclient import TestClient

    demo = settings.model_copy(update={"demo": True})
    bootstrap_users(create_app(demo, store, auditor=MemoryAuditor()))  # a former demo data dir
    plain = settings.model_copy(update={"demo": False})
    client = TestClient(create_app(plain, store, auditor=MemoryAuditor()))  # without start-up bootstrap
    for username, (_role, password) in DEMO_USERS.items():
        resp = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert resp.status_code == 401, username
    retired = create_app(plain, store, auditor=MemoryAuditor(), bootstrap=True)  # what `soc up` does
    assert retired.state.bootstrap.demo_users == {}
    records = retired.state.identity.records
    assert all(records.require(name)[0].disabled for name in DEMO_USERS)
    # An operator who kept the account but changed its password keeps it usable.
    user = records.require("analyst")[0]
    records.save(replace(user, disabled=False, password_hash=hash_password(PASSWORD)))
    create_app(plain, store, auditor=MemoryAuditor(), bootstrap=True)
    assert not records.require("analyst")[0].disabled
    assert client.post("/api/v1/auth/login", json={"username": "analyst", "password": PASSWORD}).status_code == 200
