"""The hunt cursor: opaque (nothing internal in clear), bound by the server to the index and the
caller, and refused when tampered with or taken from another search."""

from __future__ import annotations

import base64

from core.auditing import Actor
from detections.triage import hunt
from detections.triage.common import seal_cursor
from tests.conftest import TEST_SECRET
from tests.integration.api.conftest import Api


def _seed(api: Api, n: int = 5) -> None:
    from core.timeutil import iso, utcnow

    index = api.settings.index("events-system.auth-000001")
    for i in range(n):
        api.store.put(index, f"e{i}", {"@timestamp": iso(utcnow()), "event": {"dataset": "system.auth"},
                                       "message": f"event {i}"})
    api.store.refresh(index)


def test_cursor_is_opaque_bound_and_tamper_proof(api: Api) -> None:
    _seed(api)
    analyst = api.as_role("analyst")
    first = api.client.get("/api/v1/events", params={"size": 2, "start": "now-1h"}, headers=analyst).json()
    cursor = first["next"]
    assert cursor
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert api.settings.index_prefix.encode() not in raw and b"events" not in raw  # nothing in clear
    second = api.client.get("/api/v1/events", params={"size": 2, "start": "now-1h", "after": cursor}, headers=analyst)
    assert second.status_code == 200 and {e["_id"] for e in second.json()["items"]}.isdisjoint(
        {e["_id"] for e in first["items"]})
    tampered = cursor[:-6] + ("A" if cursor[-6] != "A" else "B") + cursor[-5:]
    bad = api.client.get("/api/v1/events", params={"after": tampered}, headers=analyst)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "after"
    # Another user's cursor, and a cursor for another index (e.g. alerts) made with the real key.
    other = api.client.get("/api/v1/events", params={"after": cursor}, headers=api.as_role("auditor"))
    assert other.status_code == 422
    foreign = seal_cursor(TEST_SECRET, {"i": api.settings.index("alerts"), "u": "analyst", "p": "x", "s": [1]})
    resp = api.client.get("/api/v1/events", params={"after": foreign}, headers=analyst)
    assert resp.status_code == 422 and "another search" in resp.json()["message"]


def test_a_plain_point_in_time_id_is_not_accepted(api: Api) -> None:
    _seed(api)
    pit = api.store.request("POST", f"/{api.settings.index('alerts')}/_pit", params={"keep_alive": "1m",
                                                                                    "ignore_unavailable": "true"})
    legacy = base64.urlsafe_b64encode(f'["{pit["id"]}", 1]'.encode()).decode()
    resp = api.client.get("/api/v1/events", params={"after": legacy}, headers=api.as_role("analyst"))
    assert resp.status_code == 422
    assert hunt.KEEP_ALIVE == "5m" and Actor("a", "analyst")
