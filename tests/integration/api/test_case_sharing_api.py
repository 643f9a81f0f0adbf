"""Case sharing through the API with real departments and users: 教委 shares a case with one
user of 卫健委, who reads it, its alert and the cited event through the normal routes and
nothing else, cannot change it, and gets 404 after revocation and after expiry. The grant,
each access, the revocation and the expiry are in the audit trail (filed under 教委)."""

from __future__ import annotations

from typing import Any

from core import scope as scopes
from core.alerting import ALERTS_MAPPING, alerts_index, build_alert
from core.timeutil import iso, utcnow
from detections.triage import sharing
from tests.integration.api.conftest import Api
from tests.integration.api.test_departments import PASSWORD, make_user, seed_departments
from tests.integration.detections.conftest import write_events

JW, WJ = "jiaowei", "weijianwei"


def _seed(api: Api) -> dict[str, Any]:
    store, prefix = api.store, api.settings.index_prefix
    now = utcnow()
    events = write_events(store, prefix, [
        {"@timestamp": iso(now), "event": {"dataset": "system.auth", "action": "sudo"}, "message": f"jw {i}",
         "organization": {"id": JW}, "host": {"name": "jw-db"}} for i in range(2)])
    store.ensure_index(alerts_index(prefix), mappings=ALERTS_MAPPING)
    alert_ids = []
    for i, event_id in enumerate(events):
        alert_id, doc = build_alert(rule_id=f"r{i}", rule_name=f"Sudo {i}", level="high", reason="sudo", key=f"k{i}",
                                    organization=JW, event_ref={"id": event_id},
                                    timestamp=iso(now))
        store.put(alerts_index(prefix), alert_id, doc, refresh=True)
        alert_ids.append(alert_id)
    return {"events": events, "alerts": alert_ids}


def _audit(api: Api, action: str) -> list[dict[str, Any]]:
    index = api.settings.index("audit")
    with scopes.system():
        api.store.refresh(index)
        resp = api.store.search(index, {"size": 100, "query": {"term": {"action": action}},
                                        "sort": [{"seq": "asc"}]})
    return [h["_source"] for h in resp["hits"]["hits"]]


def test_share_read_refuse_revoke_and_expire_through_the_api(api: Api) -> None:
    seed_departments(api)
    jw = make_user(api, "jw-li", "analyst", JW)
    wang = make_user(api, "wj-wang", "analyst", WJ)
    zhao = make_user(api, "wj-zhao", "analyst", WJ)
    seeded = _seed(api)
    cited = seeded["events"][0]  # the other event of 教委 is cited by an alert not in the case
    shared_alert, other_alert = seeded["alerts"]
    c = api.client
    created = c.post("/api/v1/cases", headers=jw, json={"title": "Sudo on jw-db", "alert_ids": [shared_alert]})
    assert created.status_code == 201, created.text
    assert created.json()["case"]["alert_ids"] == [shared_alert], created.text
    case_id = created.json()["case"]["case_id"]
    shares = f"/api/v1/cases/{case_id}/shares"

    # Bad input and the wrong department: refused, nothing stored.
    for body, field in (({"grantees": ["wj-wang"], "expires": "45d"}, "expires"),
                        ({"grantees": ["wj-wang"], "expires": "soon"}, "expires"),
                        ({"grantees": ["no-such-user"], "expires": "1d"}, "grantees"),
                        ({"grantees": [], "expires": "1d"}, "grantees")):
        bad = c.post(shares, headers=jw, json=body)
        assert bad.status_code == 422 and field in bad.text, bad.text
    assert c.post(shares, headers=wang, json={"grantees": ["wj-zhao"], "expires": "1d"}).status_code == 404
    assert c.get(shares, headers=jw).json()["items"] == []

    grant = c.post(shares, headers=jw, json={"grantees": ["wj-wang"], "expires": "2h", "reason": "joint"})
    assert grant.status_code == 201, grant.text
    share_id = grant.json()["share_id"]
    assert grant.json()["covered"] == 3  # the case, its alert, the cited event

    mine = c.get("/api/v1/shared-with-me", headers=wang).json()["items"]
    assert [s["case_id"] for s in mine] == [case_id] and mine[0]["owner"]["name_zh"] == "教委"
    assert c.get("/api/v1/shared-with-me", headers=zhao).json()["items"] == []
    before = len(_audit(api, "case.share.access"))
    assert c.get(f"/api/v1/cases/{case_id}", headers=wang).status_code == 200
    # the case page reads the case and its alerts' histories: one access record for the request
    assert len(_audit(api, "case.share.access")) == before + 1
    alert = c.get(f"/api/v1/alerts/{shared_alert}", headers=wang)
    assert alert.status_code == 200 and [e["_id"] for e in alert.json()["events"]] == [cited]
    assert [e["_id"] for e in c.get(f"/api/v1/alerts/{shared_alert}/events", headers=wang).json()["items"]] == [cited]
    assert c.get(f"/api/v1/alerts/{other_alert}", headers=wang).status_code == 404
    listed = c.get("/api/v1/alerts", headers=wang, params={"size": 100}).json()["items"]
    assert [a["alert"]["id"] for a in listed] == [shared_alert]
    hunted = c.get("/api/v1/events", headers=wang, params={"q": "*", "start": "now-1h", "size": 100}).json()
    assert [e["_id"] for e in hunted["items"]] == [cited]  # not the other 教委 event
    # Read-only for the grantee; nothing for the rest of the grantee's department.
    for method, path, body in (("PATCH", f"/api/v1/cases/{case_id}", {"status": "closed"}),
                               ("POST", f"/api/v1/cases/{case_id}/notes", {"text": "ours now"}),
                               ("POST", shares, {"grantees": ["wj-zhao"], "expires": "1h"}),
                               ("POST", f"/api/v1/alerts/{shared_alert}/comments", {"text": "x"})):
        refused = c.request(method, path, headers=wang, json=body)
        assert refused.status_code == 403, (path, refused.text)
    assert c.get(f"/api/v1/cases/{case_id}", headers=zhao).status_code == 404
    assert c.get(f"/api/v1/alerts/{shared_alert}", headers=zhao).status_code == 404
    assert c.get(shares, headers=wang).json()["items"] == []  # the grants are the owner's

    # Revoked by the owner: 404 on the same routes from the next request on.
    assert c.delete(f"{shares}/{share_id}", headers=wang).status_code == 404
    revoked = c.delete(f"{shares}/{share_id}", headers=jw)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert c.delete(f"{shares}/{share_id}", headers=jw).status_code == 409
    for path in (f"/api/v1/cases/{case_id}", f"/api/v1/alerts/{shared_alert}", f"/api/v1/alerts/{shared_alert}/events"):
        assert c.get(path, headers=wang).status_code == 404, path

    # A new grant, then its time passes (the app's clock): 404 again, and the expiry is recorded.
    assert c.post(shares, headers=jw, json={"grantees": ["wj-wang"], "expires": "1h"}).status_code == 201
    assert c.get(f"/api/v1/cases/{case_id}", headers=wang).status_code == 200
    api.clock.advance(minutes=61)
    wang, jw = api.login("wj-wang", PASSWORD), api.login("jw-li", PASSWORD)  # idle sessions ended meanwhile
    assert c.get(f"/api/v1/cases/{case_id}", headers=wang).status_code == 404
    assert c.get("/api/v1/shared-with-me", headers=wang).json()["items"] == []
    assert sharing.audit_expired(api.settings, api.store, api.app.state.auditor, now=api.clock()) == 1
    states = sorted(s["state"] for s in c.get(shares, headers=jw).json()["items"])
    assert states == ["expired", "revoked"]

    grants, revokes = _audit(api, "case.share.grant"), _audit(api, "case.share.revoke")
    accesses, expired = _audit(api, "case.share.access"), _audit(api, "case.share.expired")
    assert len(grants) == 2 and len(revokes) == 1 and len(expired) == 1
    assert accesses and {a["actor"] for a in accesses} == {"wj-wang"}
    assert all(r["organization"]["id"] == JW for r in grants + revokes + accesses + expired)
    assert any(cited in a["detail"]["doc_ids"] for a in accesses)
