"""Sessions live in Elasticsearch: the CLI in one process ends or downgrades a session held by
the API server in another, on the very next request; a restart of the server keeps sessions."""

from __future__ import annotations

from tests.security.live_api import PASSWORD, LiveApi, live_api, make_users

__all__ = ["live_api"]


def test_cli_disable_ends_the_live_session_at_once(live_api: LiveApi) -> None:
    make_users(live_api.settings, live_api.store, {"xavier": "analyst", "yvonne": "analyst"})
    headers = live_api.login("xavier")
    other = live_api.login("yvonne")
    assert live_api.get("/api/v1/alerts", headers=headers).status_code == 200
    live_api.cli_json("users", "disable", "xavier")
    # No grace period: the next request after the CLI returned is refused.
    refused = live_api.get("/api/v1/alerts", headers=headers)
    assert refused.status_code == 401 and "ended" in refused.json()["message"]
    assert live_api.get("/api/v1/auth/me", headers=other).status_code == 200  # only xavier's sessions
    # Re-enabling does not bring the old token back.
    live_api.cli_json("users", "enable", "xavier")
    assert live_api.get("/api/v1/alerts", headers=headers).status_code == 401
    assert live_api.get("/api/v1/alerts", headers=live_api.login("xavier")).status_code == 200


def test_cli_role_change_downgrades_the_live_session_at_once(live_api: LiveApi) -> None:
    make_users(live_api.settings, live_api.store, {"wanda": "analyst", "keeper": "auditor"})
    headers = live_api.login("wanda")
    assert live_api.get("/api/v1/alerts", headers=headers).status_code == 200
    assert live_api.get("/api/v1/audit", headers=headers).status_code == 403
    live_api.cli_json("users", "set-role", "wanda", "auditor")
    me = live_api.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["role"] == "auditor"
    assert live_api.get("/api/v1/audit", headers=headers).status_code == 200
    # The analyst's write rights are gone from the same token.
    denied = live_api.client.post(f"{live_api.url}/api/v1/cases", headers=headers, json={"title": "x"})
    assert denied.status_code == 403


def test_password_change_ends_the_other_sessions(live_api: LiveApi) -> None:
    make_users(live_api.settings, live_api.store, {"victor": "analyst"})
    laptop = live_api.login("victor")
    stolen = live_api.login("victor")
    changed = live_api.post("/api/v1/auth/password", headers=laptop,
                            json={"old_password": PASSWORD, "new_password": "Brand#NewSecret77"})
    assert changed.status_code == 200, changed.text
    assert live_api.get("/api/v1/auth/me", headers=laptop).status_code == 200  # the session that changed it
    assert live_api.get("/api/v1/auth/me", headers=stolen).status_code == 401


def test_restart_keeps_sessions_and_logout_is_shared(live_api: LiveApi) -> None:
    make_users(live_api.settings, live_api.store, {"ursula": "auditor"})
    headers = live_api.login("ursula")
    assert live_api.get("/api/v1/audit", headers=headers).status_code == 200
    live_api.stop()
    live_api.start()
    assert live_api.get("/api/v1/audit", headers=headers).status_code == 200
    assert live_api.post("/api/v1/auth/logout", headers=headers).status_code == 200
    assert live_api.get("/api/v1/auth/me", headers=headers).status_code == 401
    stored = live_api.store.search(live_api.settings.index("sessions"), {"query": {"match_all": {}}})
    assert headers["authorization"].split()[1] not in str(stored)  # only token hashes are stored
