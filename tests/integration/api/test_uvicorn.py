"""The API served by a real uvicorn on a loopback port: login, a request, metrics, audit."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn

from api.identity.service import DEMO_USERS
from tests.conftest import free_port
from tests.integration.api.conftest import Api


def test_served_by_uvicorn(api: Api) -> None:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/health").json()["status"] == "ok"
            token = client.post("/api/v1/auth/login",
                                json={"username": "analyst", "password": DEMO_USERS["analyst"][1]}).json()["token"]
            headers = {"authorization": f"Bearer {token}"}
            assert client.get("/api/v1/alerts", headers=headers).json()["total"] == 0
            denied = client.get("/api/v1/users", headers=headers)
            assert denied.status_code == 403
            created = client.post("/api/v1/cases", headers=headers, json={"title": "from uvicorn"})
            assert created.status_code == 201
            metrics = client.get("/metrics").text
            assert 'soc_api_requests_total{method="POST",route="/cases",status="201"} 1.0' in metrics
            assert "soc_api_request_seconds_bucket" in metrics
            # The collectors' per-input counters are part of the same scrape.
            assert "qinglang_collect_up 0.0" in metrics
            assert "# TYPE qinglang_collect_dead_lettered_total counter" in metrics
        trail = api.app.state.auditor.search(actor=_auditor(), size=50)["items"]
        actions = {(r["action"], r["actor"], r["outcome"]) for r in trail}
        assert ("auth.login", "analyst", "success") in actions
        assert ("api.denied", "analyst", "denied") in actions
        assert ("cases.create", "analyst", "success") in actions
        assert ("api.request", "analyst", "success") in actions
        assert all(r["address"] == "127.0.0.1" for r in trail if r["actor"] == "analyst")
    finally:
        server.should_exit = True
        thread.join(10)


def _auditor():
    from core.auditing import Actor

    return Actor("test", "auditor")
