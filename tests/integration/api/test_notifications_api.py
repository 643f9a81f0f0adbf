"""Notification channels through the API: only the sysadmin configures them, secrets never come
back, bad input is a 422 naming the field, and the test button really sends."""

from __future__ import annotations

from tests.integration.api.conftest import Api
from tests.integration.notifications.receivers import http_receiver


def test_channels_api(api: Api) -> None:
    sam, ana = api.as_role("sysadmin"), api.as_role("analyst")
    with http_receiver() as http:
        body = {"name": "值班群", "type": "wecom", "min_level": "high",
                "config": {"url": f"{http.url}/cgi-bin/webhook/send?key=k", "secret": "x"}}
        assert api.client.post("/api/v1/notifications/channels", headers=ana, json=body).status_code == 403
        created = api.client.post("/api/v1/notifications/channels", headers=sam, json=body)
        assert created.status_code == 201, created.text
        chan = created.json()
        assert chan["config"]["secret"] == "(set)"
        listed = api.client.get("/api/v1/notifications/channels", headers=ana).json()
        assert [c["id"] for c in listed] == [chan["id"]] and "x" not in str(listed[0]["config"].values())
        sent = api.client.post(f"/api/v1/notifications/channels/{chan['id']}/test", headers=sam)
        assert sent.status_code == 200 and sent.json()["ok"] is True
        assert http.requests[-1]["body"]["msgtype"] == "markdown"
        bad = api.client.post("/api/v1/notifications/channels", headers=sam,
                              json={**body, "config": {"url": "file:///etc/passwd"}})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "config.url"
        bad = api.client.post("/api/v1/notifications/channels", headers=sam,
                              json={"name": "m", "type": "smtp", "config": {"host": "mail", "to": ["nobody"],
                                                                             "from": "soc@example.org"}})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "config.to"
        # Replacing without the secret keeps it.
        put = api.client.put(f"/api/v1/notifications/channels/{chan['id']}", headers=sam,
                             json={**body, "config": {"url": body["config"]["url"]}, "min_level": "critical"})
        assert put.status_code == 200 and put.json()["config"]["secret"] == "(set)"
        assert api.client.delete(f"/api/v1/notifications/channels/{chan['id']}", headers=sam).status_code == 204
        assert api.client.get("/api/v1/notifications/channels", headers=sam).json() == []
        assert api.client.post("/api/v1/notifications/channels/nope/test", headers=sam).status_code == 404
