"""Departments (部门) as data, scoped users and roles, and the caller's scope on every request."""

from __future__ import annotations

from dataclasses import replace

from api.app import create_app
from api.identity.service import IdentityService
from core.alerting import ALERTS_MAPPING, alerts_index, build_alert
from core.auditing import Actor
from core.settings import DepartmentSeed, OrgSettings
from core.timeutil import iso, utcnow
from tests.integration.api.conftest import Api

CLI = Actor(name="cli:test", role="cli", address="local")
PASSWORD = "Dept#Passphrase-2026"
DEPARTMENTS = (("jiaowei", "教委", "Education Commission"), ("weijianwei", "卫健委", "Health Commission"),
               ("minzhengju", "民政局", "Civil Affairs Bureau"))


def seed_departments(api: Api) -> None:
    repo = api.app.state.departments
    for dept_id, zh, en in DEPARTMENTS:
        repo.create(dept_id, zh, en)


def make_user(api: Api, username: str, role: str, organization: str) -> dict[str, str]:
    """A ready user of ``organization`` (created by a local operator, password already changed)."""
    identity: IdentityService = api.app.state.identity
    identity.users.create_user(username, role, actor=CLI, password=PASSWORD, organization=organization)
    user, seq, term = identity.records.require(username)
    identity.records.save(replace(user, must_change_password=False), seq, term)
    return api.login(username, PASSWORD)


def seed_alerts(api: Api) -> dict[str, str]:
    """One alert per department and one of the district: ``{organization: alert id}``."""
    store, prefix = api.store, api.settings.index_prefix
    store.ensure_index(alerts_index(prefix), mappings=ALERTS_MAPPING)
    docs, out = [], {}
    for org in ("district", "jiaowei", "weijianwei", "minzhengju"):
        alert_id, doc = build_alert(rule_id="r1", rule_name="Brute force", level="high", reason=f"in {org}",
                                    key=org, organization=org, timestamp=iso(utcnow()))
        docs.append((alerts_index(prefix), alert_id, doc))
        out[org] = alert_id
    assert store.bulk_create(docs, refresh=True).all_stored
    return out


def _admin(api: Api) -> dict[str, str]:
    return make_user(api, "root-admin", "admin", "district")


def test_departments_crud_and_validation(api: Api) -> None:
    district = _admin(api)
    seed_departments(api)
    created = api.client.post("/api/v1/departments", headers=district,
                              json={"id": "jiaowei-xx", "name_zh": "教委信息中心", "name_en": "Education IT",
                                    "parent": "jiaowei"})
    assert created.status_code == 201, created.text
    assert created.json()["parent"] == "jiaowei"
    listing = api.client.get("/api/v1/departments", headers=district).json()
    assert [d["id"] for d in listing["items"]] == ["district", "jiaowei", "jiaowei-xx", "minzhengju", "weijianwei"]
    assert listing["items"][0] == {"id": "district", "name_zh": "全区", "name_en": "District", "parent": None}
    assert listing["home"] == "district" and listing["switchable"] is True
    bad = [({"id": "Bad Id", "name_zh": "x", "name_en": "x"}, "id"),
           ({"id": "orphan", "name_zh": "x", "name_en": "x", "parent": "nowhere"}, "parent"),
           ({"id": "jiaowei", "name_zh": "x", "name_en": "x"}, None)]
    for body, field in bad:
        resp = api.client.post("/api/v1/departments", headers=district, json=body)
        assert resp.status_code == (409 if field is None else 422), resp.text
        if field:
            assert field in resp.text
    cycle = api.client.patch("/api/v1/departments/jiaowei", headers=district, json={"parent": "jiaowei-xx"})
    assert cycle.status_code == 422 and "cycle" in cycle.json()["message"]
    root = api.client.patch("/api/v1/departments/district", headers=district, json={"name_en": "County"})
    assert root.status_code == 422
    renamed = api.client.patch("/api/v1/departments/jiaowei-xx", headers=district,
                               json={"name_en": "Education Data Centre", "parent": "district"})
    assert renamed.status_code == 200 and renamed.json()["parent"] == "district"
    # The change is seen at once (the tree cache is invalidated), and it is audited.
    assert api.app.state.departments.descendants("jiaowei") == frozenset({"jiaowei"})
    actions = [r["action"] for r in api.app.state.auditor.search(actor=Actor("t", "auditor"), size=100)["items"]]
    assert "departments.create" in actions and "departments.update" in actions
    # A department's administrator reads its own subtree and changes nothing.
    dept_admin = make_user(api, "jw-admin", "admin", "jiaowei")
    mine = api.client.get("/api/v1/departments", headers=dept_admin).json()
    assert [d["id"] for d in mine["items"]] == ["jiaowei"] and mine["switchable"] is False
    refused = api.client.post("/api/v1/departments", headers=dept_admin,
                              json={"id": "jiaowei-yy", "name_zh": "x", "name_en": "x", "parent": "jiaowei"})
    assert refused.status_code == 403 and "district" in refused.json()["message"]
    analyst = make_user(api, "jw-analyst", "analyst", "jiaowei")
    assert api.client.post("/api/v1/departments", headers=analyst,
                           json={"id": "zz", "name_zh": "x", "name_en": "x"}).status_code == 403


def test_department_admin_manages_only_its_own_users(api: Api) -> None:
    district = _admin(api)
    seed_departments(api)
    jw_admin = make_user(api, "jw-admin", "admin", "jiaowei")
    wj_analyst = make_user(api, "wj-analyst", "analyst", "weijianwei")
    key = api.client.post("/api/v1/users/apikeys", headers=wj_analyst, json={"name": "soar"})
    assert key.status_code == 201 and key.json()["organization"] == "weijianwei"
    assert api.client.get("/api/v1/auth/me", headers={"x-api-key": key.json()["key"]}).json()["organization"] == \
        "weijianwei"
    assert api.client.get("/api/v1/users/apikeys", headers=jw_admin).json() == []
    assert api.client.delete(f"/api/v1/users/apikeys/{key.json()['id']}", headers=jw_admin).status_code == 403
    assert [k["id"] for k in api.client.get("/api/v1/users/apikeys", headers=district).json()] == [key.json()["id"]]
    # Created by a department administrator: the user belongs to that department by default.
    created = api.client.post("/api/v1/users", headers=jw_admin, json={"username": "jw-new", "role": "analyst"})
    assert created.status_code == 201 and created.json()["organization"] == "jiaowei"
    names = {u["username"]: u["organization"] for u in api.client.get("/api/v1/users", headers=jw_admin).json()["items"]}
    assert names == {"jw-admin": "jiaowei", "jw-new": "jiaowei"}
    assert api.client.get("/api/v1/users/wj-analyst", headers=jw_admin).status_code == 404
    for method, path, body in (("PATCH", "/api/v1/users/wj-analyst", {"disabled": True}),
                               ("POST", "/api/v1/users/wj-analyst/reset-password", None),
                               ("POST", "/api/v1/users/wj-analyst/unlock", None),
                               ("PATCH", "/api/v1/users/jw-new", {"organization": "weijianwei"}),
                               ("POST", "/api/v1/users", {"username": "wj-x", "role": "analyst",
                                                          "organization": "weijianwei"}),
                               ("POST", "/api/v1/users", {"username": "dist-x", "role": "analyst",
                                                          "organization": "district"})):
        resp = api.client.request(method, path, headers=jw_admin, json=body)
        assert resp.status_code == 403, (method, path, resp.text)
        assert "department" in resp.json()["message"]
    assert api.store.get(api.settings.index("users"), "wj-analyst")["_source"]["disabled"] is False
    # The district administrator reaches every department and creates users anywhere.
    assert api.client.patch("/api/v1/users/wj-analyst", headers=district, json={"disabled": True}).status_code == 200
    moved = api.client.patch("/api/v1/users/jw-new", headers=district, json={"organization": "minzhengju"})
    assert moved.status_code == 200 and moved.json()["organization"] == "minzhengju"
    made = api.client.post("/api/v1/users", headers=district,
                           json={"username": "mz-analyst", "role": "analyst", "organization": "minzhengju"})
    assert made.status_code == 201 and made.json()["organization"] == "minzhengju"
    unknown = api.client.post("/api/v1/users", headers=district,
                              json={"username": "nx", "role": "analyst", "organization": "nowhere"})
    assert unknown.status_code == 422
    src = api.store.get(api.settings.index("users"), "mz-analyst")["_source"]
    assert src["organization"] == {"id": "minzhengju"}
    # Sessions carry the department; the user's actions are audited as that department's.
    me = api.client.get("/api/v1/auth/me", headers=jw_admin).json()
    assert me["organization"] == "jiaowei" and me["acting_for"] == "jiaowei"
    trail = api.app.state.auditor.search(actor=Actor("t", "auditor"), action="users.create", size=50)["items"]
    assert {r["target"]: r["organization"]["id"] for r in trail}["jw-new"] == "jiaowei"


def test_auditor_accounts_are_approved_within_the_department(api: Api) -> None:
    district = _admin(api)
    seed_departments(api)
    make_user(api, "jw-auditor", "auditor", "jiaowei")
    wj_auditor = make_user(api, "wj-auditor", "auditor", "weijianwei")
    pending = api.client.post("/api/v1/users", headers=district,
                              json={"username": "jw-auditor2", "role": "auditor", "organization": "jiaowei"})
    assert pending.status_code == 202, pending.text
    request_id = pending.json()["request_id"]
    listed = api.client.get("/api/v1/users/requests", headers=wj_auditor).json()["items"]
    assert request_id not in [r["id"] for r in listed]
    refused = api.client.post(f"/api/v1/users/requests/{request_id}/approve", headers=wj_auditor)
    assert refused.status_code == 403 and "jiaowei" in refused.json()["message"]
    jw_auditor = api.login("jw-auditor", PASSWORD)
    listed = api.client.get("/api/v1/users/requests", headers=jw_auditor).json()["items"]
    assert [r["id"] for r in listed] == [request_id] and listed[0]["organization"] == {"id": "jiaowei"}
    approved = api.client.post(f"/api/v1/users/requests/{request_id}/approve", headers=jw_auditor)
    assert approved.status_code == 200, approved.text
    assert approved.json()["result"]["organization"] == "jiaowei"
    # The privileged-account alert is the department's: its auditors see it, another's do not.
    alert = api.store.search(alerts_index(api.settings.index_prefix),
                             {"query": {"term": {"user.name": "jw-auditor2"}}})["hits"]["hits"]
    assert alert and alert[0]["_source"]["organization"]["id"] == "jiaowei"


def test_organization_header_narrows_and_never_widens(api: Api) -> None:
    seed_departments(api)
    api.app.state.departments.create("jiaowei-xx", "教委信息中心", "Education IT", "jiaowei")
    ids = seed_alerts(api)
    district = make_user(api, "dist-analyst", "analyst", "district")
    jiaowei = make_user(api, "jw-analyst", "analyst", "jiaowei")

    def seen(headers: dict[str, str]) -> set[str]:
        resp = api.client.get("/api/v1/alerts", headers=headers, params={"size": 50})
        assert resp.status_code == 200, resp.text
        return {a["alert"]["id"] for a in resp.json()["items"]}

    assert seen(district) == set(ids.values())
    assert seen({**district, "X-Organization": "district"}) == set(ids.values())
    assert seen({**district, "X-Organization": "weijianwei"}) == {ids["weijianwei"]}
    me = api.client.get("/api/v1/auth/me", headers={**district, "X-Organization": "weijianwei"}).json()
    assert me == {**me, "organization": "district", "acting_for": "weijianwei"}
    assert seen(jiaowei) == {ids["jiaowei"]}
    assert api.client.get(f"/api/v1/alerts/{ids['weijianwei']}", headers=jiaowei).status_code == 404
    for other in ("weijianwei", "district", "nowhere"):
        resp = api.client.get("/api/v1/alerts", headers={**jiaowei, "X-Organization": other})
        assert resp.status_code == 403 and "outside your department" in resp.json()["message"]
    assert seen({**jiaowei, "X-Organization": "jiaowei-xx"}) == set()
    assert api.client.get("/api/v1/alerts", headers={**district, "X-Organization": "nowhere"}).status_code == 422
    # Department auditors read their department's trail; verifying the chain is the district's.
    jw_auditor = make_user(api, "jw-auditor", "auditor", "jiaowei")
    trail = api.client.get("/api/v1/audit", headers=jw_auditor, params={"size": 500}).json()["items"]
    assert trail and {r["organization"]["id"] for r in trail} == {"jiaowei"}
    refused = api.client.get("/api/v1/audit/verify", headers=jw_auditor)
    assert refused.status_code == 403 and "district" in refused.json()["message"]
    dist_auditor = make_user(api, "dist-auditor", "auditor", "district")
    everything = api.client.get("/api/v1/audit", headers=dist_auditor, params={"size": 500}).json()["items"]
    assert {"jiaowei", "district"} <= {r["organization"]["id"] for r in everything}
    verified = api.client.get("/api/v1/audit/verify", headers=dist_auditor)
    assert verified.status_code == 200 and verified.json()["ok"] is True


def test_demo_mode_has_department_users_when_the_demo_departments_are_seeded(api: Api) -> None:
    seeds = OrgSettings(departments=[DepartmentSeed(id=d, name_zh=zh, name_en=en) for d, zh, en in DEPARTMENTS])
    demo = api.settings.model_copy(update={"org": seeds})
    app = create_app(demo, api.store, bootstrap=True)
    boot = app.state.bootstrap
    assert {"jw-analyst", "wj-auditor"} <= set(boot.demo_users)
    user = app.state.identity.records.require("wj-auditor")[0]
    assert (user.role, user.organization) == ("auditor", "weijianwei")
    assert [d.id for d in app.state.departments.all()] == ["district", "jiaowei", "minzhengju", "weijianwei"]
    app.state.anonymous.close()
