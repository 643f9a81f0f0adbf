"""Alerts, cases and event hunting through the API on a real Elasticsearch."""

from __future__ import annotations

import threading
from datetime import timedelta

from core.alerting import ALERTS_MAPPING, alerts_index, build_alert
from core.event_layout import EventWriter, events_alias
from core.schema import install_templates
from core.timeutil import iso, utcnow
from tests.integration.api.conftest import Api

HOSTS = ["web-1", "web-2", "db-1"]
LEVELS = ["low", "medium", "high", "critical"]


def seed_alerts(api: Api, n: int = 30) -> list[str]:
    store, prefix = api.store, api.settings.index_prefix
    store.ensure_index(alerts_index(prefix), mappings=ALERTS_MAPPING)
    base = utcnow()
    docs, ids = [], []
    for i in range(n):
        event_id = f"evt-{i}"
        alert_id, doc = build_alert(
            rule_id=f"rule-{i % 3}", rule_name=f"Brute force {i % 3}", level=LEVELS[i % 4],
            reason=f"failed logins from 10.0.0.{i}" + (" mimikatz" if i == 7 else ""), key=event_id,
            entities={"host": {"name": HOSTS[i % 3]}, "user": {"name": f"user{i % 5}"},
                      "source": {"ip": f"10.0.0.{i}"}},
            event={"message": f"event {i}"},
            event_ref={"id": event_id, "index": events_alias(prefix, "system.auth") + "-000001"},
            timestamp=iso(base - timedelta(minutes=i)))
        docs.append((alerts_index(prefix), alert_id, doc))
        ids.append(alert_id)
    assert store.bulk_create(docs, refresh=True).all_stored
    return ids


def test_list_filters_sort_facets_and_cursor_paging(api: Api) -> None:
    ids = seed_alerts(api, 30)
    h = api.as_role("analyst")
    page = api.client.get("/api/v1/alerts", headers=h, params={"size": 7, "facets": "true"}).json()
    assert page["total"] == 30 and len(page["items"]) == 7
    assert {f["value"]: f["count"] for f in page["facets"]["host"]} == {"web-1": 10, "web-2": 10, "db-1": 10}
    seen = [a["alert"]["id"] for a in page["items"]]
    while page["next"]:
        page = api.client.get("/api/v1/alerts", headers=h, params={"size": 7, "after": page["next"]}).json()
        seen += [a["alert"]["id"] for a in page["items"]]
    assert sorted(seen) == sorted(ids) and len(seen) == 30
    times = [a["@timestamp"] for a in api.client.get("/api/v1/alerts", headers=h, params={"size": 30}).json()["items"]]
    assert times == sorted(times, reverse=True)
    by = lambda **p: api.client.get("/api/v1/alerts", headers=h, params={"size": 100, **p}).json()  # noqa: E731
    assert by(host="db-1")["total"] == 10
    assert by(level=["critical", "high"])["total"] == 14
    assert by(rule="rule-1")["total"] == 10 and by(rule="Brute force 1")["total"] == 10
    assert by(user="user0")["total"] == 6
    assert by(address="10.0.0.7")["total"] == 1
    assert by(q="mimikatz")["total"] == 1
    assert by(start=iso(utcnow() - timedelta(minutes=9, seconds=30)))["total"] == 10
    risk = [a["alert"]["risk_score"] for a in by(sort="risk", order="asc")["items"]]
    assert risk == sorted(risk)
    bad = api.client.get("/api/v1/alerts", headers=h, params={"address": "not-an-ip", "status": "bogus"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_input"
    assert api.client.get("/api/v1/alerts", headers=h, params={"after": "%%%"}).status_code == 422


def test_lifecycle_history_comments_and_event(api: Api) -> None:
    ids = seed_alerts(api, 3)
    h = api.as_role("analyst")
    aid = ids[0]
    url = f"/api/v1/alerts/{aid}"
    assert api.client.post(f"{url}/status", headers=h, json={"status": "acknowledged"}).status_code == 200
    assert api.client.post(f"{url}/assign", headers=h, json={"assignee": "analyst"}).status_code == 200
    assert api.client.post(f"{url}/status", headers=h, json={"status": "in_progress"}).status_code == 200
    no_reason = api.client.post(f"{url}/status", headers=h, json={"status": "closed"})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["message"]
    assert api.client.post(f"{url}/comments", headers=h, json={"text": "confirmed with owner"}).status_code == 200
    closed = api.client.post(f"{url}/status", headers=h, json={"status": "closed", "close_reason": "false_positive"})
    assert closed.status_code == 200 and closed.json()["alert"]["close_reason"] == "false_positive"
    assert api.client.post(f"{url}/status", headers=h, json={"status": "acknowledged"}).status_code == 422
    detail = api.client.get(url, headers=h).json()
    steps = [(e["action"], e.get("from"), e.get("to")) for e in detail["history"]]
    assert steps[0] == ("status", "new", "acknowledged") and steps[1] == ("assign", None, "analyst")
    assert steps[-1] == ("status", "in_progress", "closed")
    assert all(e["actor"] == "analyst" and e["time"] for e in detail["history"])
    assert detail["comments"][0]["text"] == "confirmed with owner"
    assert detail["events"] and detail["events"][0]["message"] == "event 0"
    listed = api.client.get("/api/v1/alerts", headers=h, params={"status": "closed"}).json()
    assert [a["alert"]["id"] for a in listed["items"]] == [aid] and "history" not in listed["items"][0]["alert"]
    auditor = api.as_role("auditor")
    assert api.client.post(f"{url}/status", headers=auditor, json={"status": "in_progress"}).status_code == 403
    assert api.client.get(url, headers=auditor).status_code == 200
    assert api.client.get("/api/v1/alerts/nope", headers=h).status_code == 404
    trail = api.client.get("/api/v1/audit", headers=auditor, params={"action": "alerts.status", "size": 50}).json()
    assert {r["outcome"] for r in trail["items"]} >= {"success", "failure"}


def test_bulk_reports_each_item(api: Api) -> None:
    ids = seed_alerts(api, 4)
    h = api.as_role("analyst")
    resp = api.client.post("/api/v1/alerts/bulk", headers=h,
                           json={"ids": [*ids[:3], "missing-id"], "status": "closed", "close_reason": "benign"})
    body = resp.json()
    assert resp.status_code == 200 and body["succeeded"] == 3 and body["failed"] == 1
    assert [r["ok"] for r in body["results"]] == [True, True, True, False]
    assert "missing-id" in body["results"][3]["error"]
    assigned = api.client.post("/api/v1/alerts/bulk", headers=h,
                               json={"ids": ids, "assign": True, "assignee": "analyst"}).json()
    assert assigned["succeeded"] == 4
    assert api.client.get("/api/v1/alerts", headers=h, params={"assignee": "analyst"}).json()["total"] == 4


def test_concurrent_updates_keep_every_history_entry(api: Api) -> None:
    ids = seed_alerts(api, 1)
    h = api.as_role("analyst")
    errors: list[int] = []

    def comment(i: int) -> None:
        r = api.client.post(f"/api/v1/alerts/{ids[0]}/comments", headers=h, json={"text": f"note {i}"})
        if r.status_code != 200:
            errors.append(r.status_code)

    threads = [threading.Thread(target=comment, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    detail = api.client.get(f"/api/v1/alerts/{ids[0]}", headers=h).json()
    assert not errors
    assert sorted(c["text"] for c in detail["comments"]) == [f"note {i}" for i in range(6)]


def test_cases_create_add_remove_merge_notes(api: Api) -> None:
    ids = seed_alerts(api, 6)
    h = api.as_role("analyst")
    one = api.client.post("/api/v1/cases", headers=h,
                          json={"title": "Brute force wave", "alert_ids": ids[:2], "severity": "high"})
    assert one.status_code == 201, one.text
    case1 = one.json()["case"]["case_id"]
    two = api.client.post("/api/v1/cases", headers=h, json={"title": "Follow-up", "alert_ids": ids[2:4]}).json()
    case2 = two["case"]["case_id"]
    added = api.client.post(f"/api/v1/cases/{case1}/alerts", headers=h, json={"alert_ids": [ids[4], "nope"]}).json()
    assert [r["ok"] for r in added["results"]] == [True, False]
    removed = api.client.post(f"/api/v1/cases/{case1}/alerts/remove", headers=h, json={"alert_ids": [ids[0]]}).json()
    assert ids[0] not in removed["case"]["alert_ids"]
    assert api.client.post(f"/api/v1/cases/{case1}/notes", headers=h, json={"text": "blocked at FW"}).status_code == 200
    upd = api.client.patch(f"/api/v1/cases/{case1}", headers=h,
                           json={"status": "in_progress", "assign": True, "assignee": "analyst", "severity": "critical"})
    assert upd.status_code == 200 and upd.json()["status"] == "in_progress" and upd.json()["assignee"] == "analyst"
    merged = api.client.post(f"/api/v1/cases/{case1}/merge", headers=h, json={"source_ids": [case2]}).json()
    assert sorted(merged["case"]["alert_ids"]) == sorted([ids[1], ids[4], ids[2], ids[3]])
    src = api.client.get(f"/api/v1/cases/{case2}", headers=h).json()
    assert src["status"] == "merged" and src["merged_into"] == case1
    assert api.client.post(f"/api/v1/cases/{case2}/notes", headers=h, json={"text": "x"}).status_code == 409
    timeline = [e["action"] for e in merged["case"]["timeline"]]
    assert timeline[0] == "created" and "note" in timeline and "merged_from" in timeline
    alert = api.client.get(f"/api/v1/alerts/{ids[2]}", headers=h).json()["alert"]
    assert alert["alert"]["case_id"] == case1
    by_case = api.client.get("/api/v1/alerts", headers=h, params={"case_id": case1}).json()
    assert by_case["total"] == 4
    listed = api.client.get("/api/v1/cases", headers=h, params={"status": "in_progress"}).json()
    assert [c["case_id"] for c in listed["items"]] == [case1]
    assert api.client.post("/api/v1/cases", headers=api.as_role("auditor"), json={"title": "x"}).status_code == 403


def test_event_hunting(api: Api) -> None:
    store, prefix = api.store, api.settings.index_prefix
    install_templates(store, prefix)
    now = utcnow()
    docs = []
    for i in range(40):
        ts = now - timedelta(minutes=i * 3)
        doc = {"@timestamp": iso(ts), "event": {"dataset": "system.auth", "outcome": "failure" if i % 4 else "success",
                                              "category": ["authentication"]},
               "user": {"name": f"user{i % 3}"}, "source": {"ip": f"192.168.1.{i % 5}"}, "message": f"login {i}"}
        docs.append((events_alias(prefix, "system.auth"), f"e{i}", doc))
    assert EventWriter(store).create(docs, refresh=True).all_stored
    h = api.as_role("analyst")
    params = {"q": "event.outcome:failure", "start": iso(now - timedelta(hours=3)), "end": iso(now), "size": 8,
              "fields": ["user.name", "@timestamp"]}
    page = api.client.get("/api/v1/events", headers=h, params=params).json()
    assert page["total"] == 30 and set(page["items"][0]) == {"_id", "_index", "user", "@timestamp"}
    seen = [e["_id"] for e in page["items"]]
    while page["next"]:
        page = api.client.get("/api/v1/events", headers=h, params={**params, "after": page["next"]}).json()
        seen += [e["_id"] for e in page["items"]]
    assert len(seen) == 30 == len(set(seen))
    top = api.client.get("/api/v1/events/top", headers=h,
                         params={"field": "user.name", "start": "now-3h", "size": 2}).json()
    assert top["total"] == 40 and top["distinct"] == 3 and len(top["values"]) == 2 and top["other"] > 0
    hist = api.client.get("/api/v1/events/histogram", headers=h,
                          params={"start": iso(now - timedelta(hours=2)), "end": iso(now), "interval": "1h"}).json()
    assert hist["interval"] == "1h" and sum(b["count"] for b in hist["buckets"]) == 40
    auto = api.client.get("/api/v1/events/histogram", headers=h, params={"start": "now-2h"}).json()
    assert auto["interval"] == "5m"
    bad = api.client.get("/api/v1/events", headers=h, params={"q": "user.name:(unclosed"})
    assert bad.status_code == 422
    assert api.client.get("/api/v1/events/top", headers=h, params={"field": "a b"}).status_code == 422
    assert api.client.get("/api/v1/events", headers=api.as_role("sysadmin")).status_code == 403


def test_platform_health_reports_components(api: Api) -> None:
    api.app.state.services["health_probes"] = {"scheduler": lambda: {"status": "ok", "last_run": "x"},
                                               "collectors": lambda: (_ for _ in ()).throw(RuntimeError("spool full"))}
    for role in ("admin", "sysadmin", "analyst", "auditor"):
        headers = api.login(role, _password_for(api, role))
        body = api.client.get("/api/v1/platform/health", headers=headers).json()
        assert body["components"]["elasticsearch"]["status"] == "ok"
        shards = body["components"]["elasticsearch"]["shards"]
        assert shards["used"] >= 1 and 1 <= shards["budget"] <= shards["limit"]
        assert body["components"]["scheduler"]["last_run"] == "x"
        assert body["components"]["collectors"] == {"status": "down", "message": "spool full"}
        assert body["status"] == "down"


def _password_for(api: Api, role: str) -> str:
    if role != "admin":
        from api.identity.service import DEMO_USERS

        return DEMO_USERS[role][1]
    first = api.client.post("/api/v1/auth/login", json={"username": "admin", "password": api.admin_password}).json()
    api.client.post("/api/v1/auth/password", headers={"authorization": f"Bearer {first['token']}"},
                    json={"old_password": api.admin_password, "new_password": "Str0ng!Passphrase-42"})
    api.admin_password = "Str0ng!Passphrase-42"
    return api.admin_password
