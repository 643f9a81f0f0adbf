"""Platform health without injected probes: the collector daemon's real status file, and audit
records the API failed to write."""

from __future__ import annotations

import os
import time

from collectors.counters import Counters, status_path, write_status
from tests.integration.api.conftest import Api


def _components(api: Api) -> dict[str, dict[str, object]]:
    body = api.client.get("/api/v1/platform/health", headers=api.as_role("sysadmin")).json()
    return dict(body["components"])


def test_collectors_component_follows_the_daemon_status_file(api: Api) -> None:
    never = _components(api)["collectors"]
    assert never["status"] == "unknown" and "soc collect run" in str(never["message"])

    counters = Counters()
    counters.declare("syslog-udp", "udp")
    # What the running daemon writes (its own pid is alive: this process stands in for it).
    write_status(api.settings, counters, spool_pending_bytes=0, state="running", started=time.time())
    running = _components(api)["collectors"]
    assert running["status"] == "ok" and running["running"] is True and running["inputs"] == ["syslog-udp"]

    write_status(api.settings, counters, spool_pending_bytes=0, state="running", started=time.time(),
                 extra={"es_unavailable": True, "last_error": "connection refused"})
    assert _components(api)["collectors"]["status"] == "degraded"

    write_status(api.settings, counters, spool_pending_bytes=0, state="stopped", started=time.time())
    stopped = _components(api)["collectors"]
    assert stopped["status"] == "down" and "stopped" in str(stopped["message"])
    os.unlink(status_path(api.settings))


def test_failed_audit_writes_show_in_health(api: Api) -> None:
    headers = api.as_role("sysadmin")
    assert _components(api)["audit"] == {"status": "ok", "failed_writes": 0}
    index = api.settings.index("audit")
    api.store.request("PUT", f"/{index}/_settings", {"index.blocks.write": True})
    try:
        # The response is sent before the middleware writes its record: the client cannot see the loss.
        api.client.post("/api/v1/auth/logout", headers=headers)
    finally:
        api.store.request("PUT", f"/{index}/_settings", {"index.blocks.write": None})
    audit = _components(api)["audit"]
    assert audit["status"] == "degraded" and int(str(audit["failed_writes"])) >= 1, audit
    assert "POST /api/v1/auth/logout" in str(audit["last_error"]) and audit["last_failure"], audit
    body = api.client.get("/api/v1/platform/health", headers=api.as_role("auditor")).json()
    assert body["status"] == "degraded"
