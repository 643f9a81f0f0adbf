"""The department matrix (issue 18): every read route and CLI read command, called as a user of
each department and as district roles, returns nothing of another department — checked on the
response bodies, with adversarial query strings, aggregations, cursors and foreign ids.

Every document of department D carries the marker ``mkD`` (host names, user names, messages,
case titles, account names), so a body that leaks anything of D names it, whatever its shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from click.testing import CliRunner

from api.identity.models import User
from api.identity.passwords import hash_password
from core import scope as scoping
from core.alerting import ALERTS_MAPPING, alerts_index, build_alert
from core.departments import Departments
from core.event_layout import EventWriter, ensure_write_alias, events_alias
from core.ids import stable_id
from core.permissions import allowed
from core.schema import install_templates
from core.timeutil import iso, utcnow
from soc.cli import main as cli_main
from tests.conftest import TEST_SECRET
from tests.integration.api.conftest import Api

DEPTS = ("jiaowei", "weijianwei", "minzhengju")
NAMES = {"jiaowei": ("教委", "Education Commission"), "weijianwei": ("卫健委", "Health Commission"),
         "minzhengju": ("民政局", "Civil Affairs Bureau")}
ROLES = ("analyst", "auditor", "sysadmin", "admin")
PASSWORD = "Matrix-passw0rd-2026!"
ADVERSARIAL_QUERIES = ("*", "organization.id:*", "NOT organization.id:jiaowei", "_index:*", "_index:*events* OR *",
                       "host.name:mk* OR user.name:mk*", "organization.id:(weijianwei OR minzhengju)")
# (Adversarial texts never spell a marker: the caller's own audit records repeat what it searched for.)
FIELDS = ("organization.id", "host.name", "user.name", "message")
# Routes whose answer is not data of any department (files, the console's own assets).
NOT_DATA = re.compile(r"^/(api/v1/openapi\.json|api/v1/docs|console|static|favicon)")


def marker(dept: str) -> str:
    return f"mk{dept}"


def _seed(api: Api) -> dict[str, Any]:
    store, prefix, settings = api.store, api.settings.index_prefix, api.settings
    departments = Departments(settings, store)
    for dept in DEPTS:
        if not departments.exists(dept):
            departments.create(dept, *NAMES[dept])
    install_templates(store, prefix)
    alias = events_alias(prefix, "system.auth")
    ensure_write_alias(store, alias, None)
    store.ensure_index(alerts_index(prefix), mappings=ALERTS_MAPPING)
    now = utcnow()
    events: list[tuple[str, str, bytes]] = []
    alerts: list[tuple[str, str, dict[str, Any]]] = []
    ids: dict[str, dict[str, list[str]]] = {d: {"events": [], "alerts": []} for d in DEPTS}
    for dept in DEPTS:
        mk = marker(dept)
        for i in range(12):
            event_id = stable_id("matrix", dept, str(i))
            doc = {"@timestamp": iso(now - timedelta(minutes=i + 1)), "message": f"Failed password for {mk}-u{i}",
                   "event": {"dataset": "system.auth", "kind": "event", "outcome": "failure",
                             "ingested": iso(now), "category": ["authentication"]},
                   "host": {"name": f"{mk}-h{i % 3}"}, "user": {"name": f"{mk}-u{i}"},
                   "source": {"ip": f"10.{DEPTS.index(dept) + 1}.0.{i + 1}"}, "organization": {"id": dept}}
            events.append((alias, event_id, orjson.dumps(doc)))
            ids[dept]["events"].append(event_id)
            if i % 2 == 0:
                alert_id, alert = build_alert(
                    rule_id=f"rule-{i % 3}", rule_name=f"Brute force {i % 3}", level="high",
                    reason=f"failed logins for {mk}-u{i}", key=event_id,
                    entities={"host": {"name": f"{mk}-h{i % 3}"}, "user": {"name": f"{mk}-u{i}"}},
                    event=doc, event_ref={"id": event_id, "index": f"{alias}-000001"},
                    timestamp=iso(now - timedelta(minutes=i)))
                alert["organization"] = {"id": dept}
                alerts.append((alerts_index(prefix), alert_id, alert))
                ids[dept]["alerts"].append(alert_id)
    EventWriter(store).create_raw(events)
    assert store.bulk_create(alerts, refresh=True).all_stored
    store.refresh(f"{alias}*")
    identity = api.app.state.identity
    users: dict[tuple[str, str], str] = {}
    with scoping.system():  # accounts as an administrator (and, for auditors, an approver) made them
        for dept in DEPTS:
            for role in ROLES:
                name = f"{marker(dept)}-{role}"
                identity.records.save(User(username=name, role=role, password_hash=hash_password(PASSWORD),
                                           organization=dept), create=True)
                users[(dept, role)] = name
        for role in ROLES:
            users[(scoping.DISTRICT, role)] = role
            record = identity.records.require(role)[0]
            identity.records.save(replace(record, must_change_password=False))
        tokens = {key: identity.issue_token(name)[0] for key, name in users.items()}
    cases: dict[str, str] = {}
    for dept in DEPTS:
        headers = {"authorization": f"Bearer {tokens[(dept, 'analyst')]}"}
        resp = api.client.post("/api/v1/cases", headers=headers,
                               json={"title": f"case {marker(dept)}", "alert_ids": ids[dept]["alerts"][:2]})
        assert resp.status_code in (200, 201), resp.text
        cases[dept] = resp.json()["case"]["case_id"]
        # an audit record of this department: a comment by its analyst
        api.client.post(f"/api/v1/alerts/{ids[dept]['alerts'][0]}/comments", headers=headers,
                        json={"text": f"looked at it {marker(dept)}"})
        auditor = {"authorization": f"Bearer {tokens[(dept, 'auditor')]}"}
        resp = api.client.post("/api/v1/compliance/systems", headers=auditor,
                               json={"id": f"{dept}-sys", "name": f"system {marker(dept)}",
                                     "level": 3 if dept == "jiaowei" else 2, "hosts": ["local"]})
        assert resp.status_code == 201, resp.text
    store.refresh(f"{prefix}-*")
    return {"ids": ids, "tokens": tokens, "cases": cases, "users": users}


def _path_values(name: str, seeded: dict[str, Any]) -> list[str]:
    ids, cases, users = seeded["ids"], seeded["cases"], seeded["users"]
    lowered = name.lower()
    if "alert" in lowered:
        return [ids[d]["alerts"][0] for d in DEPTS]
    if "case" in lowered:
        return [cases[d] for d in DEPTS]
    if "event" in lowered:
        return [ids[d]["events"][0] for d in DEPTS]
    if "system" in lowered:
        return [f"{d}-sys" for d in DEPTS]
    if "user" in lowered:
        return [users[(d, "analyst")] for d in DEPTS]
    if "dept" in lowered or "department" in lowered or "org" in lowered:
        return list(DEPTS)
    if "field" in lowered:
        return list(FIELDS)
    return [ids[d]["alerts"][0] for d in DEPTS] + [cases[d] for d in DEPTS]


@dataclass(frozen=True)
class ReadRoute:
    path: str
    permission: str | None
    query: frozenset[str]


def _query_variants(route: ReadRoute) -> list[dict[str, Any]]:
    variants: list[dict[str, Any]] = [{}]
    for text_param in ("q", "query", "text"):
        if text_param in route.query:
            variants += [{text_param: q} for q in ADVERSARIAL_QUERIES]
    if "field" in route.query:
        variants += [{"field": f} for f in FIELDS]
    if "facets" in route.query:
        variants.append({"facets": "true"})
    if "start" in route.query:
        variants.append({"start": "now-30d"})
    return variants


def _get_routes(api: Api) -> list[ReadRoute]:
    """Every GET operation the API publishes (its OpenAPI document), with its query parameters."""
    out = []
    for path, ops in api.app.openapi()["paths"].items():
        op = ops.get("get")
        if op is None or NOT_DATA.match(path):
            continue
        query = frozenset(p["name"] for p in op.get("parameters", []) if p.get("in") == "query")
        out.append(ReadRoute(path=path, permission=op.get("x-permission"), query=query))
    return out


def _leaks(body: str, viewer: str) -> list[str]:
    if viewer == scoping.DISTRICT:
        return []
    return [marker(d) for d in DEPTS if d != viewer and marker(d) in body]


@pytest.fixture
def seeded(api: Api) -> dict[str, Any]:
    return _seed(api)


def test_every_read_route_as_every_department_and_district_role(api: Api, seeded: dict[str, Any]) -> None:
    routes = _get_routes(api)
    assert len(routes) > 30, [r.path for r in routes]
    failures: list[str] = []
    calls = 0
    cursors_seen = 0
    for (viewer, role), token in seeded["tokens"].items():
        headers = {"authorization": f"Bearer {token}"}
        for route in routes:
            permission = route.permission
            if permission not in (None, "public", "authenticated") and not allowed(role, permission):
                continue
            params = re.findall(r"\{(\w+)(?::\w+)?\}", route.path)
            paths = [route.path]
            for param in params:
                paths = [p.replace(f"{{{param}}}", v, 1).replace(f"{{{param}:path}}", v, 1)
                         for p in paths for v in _path_values(param, seeded)]
            for path in paths:
                for query in _query_variants(route):
                    resp = api.client.get(path, headers=headers, params=query)
                    calls += 1
                    if resp.status_code >= 500:
                        failures.append(f"{viewer}/{role} GET {path} {query}: {resp.status_code}")
                        continue
                    # an error may repeat the id the caller asked for ("No user 'x'"): that is its own input
                    text = resp.text if resp.status_code < 400 else resp.text.replace(path.rsplit("/", 1)[-1], "")
                    leaked = _leaks(text, viewer)
                    if leaked:
                        at = text.index(leaked[0])
                        failures.append(f"{viewer}/{role} GET {path} {query}: {resp.status_code} leaks {leaked}: "
                                        f"…{text[max(0, at - 300):at + 60]}…")
                    nxt = resp.json().get("next") if resp.headers.get("content-type", "").startswith(
                        "application/json") and isinstance(resp.json(), dict) else None
                    if isinstance(nxt, str) and nxt:
                        cursors_seen += 1
                        follow = api.client.get(path, headers=headers, params={**query, "after": nxt})
                        if follow.status_code >= 500 or _leaks(follow.text, viewer):
                            failures.append(f"{viewer}/{role} GET {path} after cursor: {follow.status_code} "
                                            f"{_leaks(follow.text, viewer)}")
    assert not failures, "\n".join(failures[:40])
    assert calls > 500


def test_department_users_see_their_own_data_and_district_sees_all(api: Api, seeded: dict[str, Any]) -> None:
    """The filter is not a wall of nothing: each department finds its own documents."""
    for dept in DEPTS:
        headers = {"authorization": f"Bearer {seeded['tokens'][(dept, 'analyst')]}"}
        alerts = api.client.get("/api/v1/alerts", headers=headers, params={"size": 100}).json()
        assert alerts["total"] == 6 and marker(dept) in json.dumps(alerts)
        events = api.client.get("/api/v1/events", headers=headers, params={"size": 100, "start": "now-1d"}).json()
        assert events["total"] == 12
        top = api.client.get("/api/v1/events/top", headers=headers,
                             params={"field": "organization.id", "start": "now-1d"}).json()
        assert {row["value"] for row in top.get("values", top.get("items", []))} == {dept}
    district = {"authorization": f"Bearer {seeded['tokens'][(scoping.DISTRICT, 'analyst')]}"}
    body = api.client.get("/api/v1/alerts", headers=district, params={"size": 100}).text
    assert all(marker(d) in body for d in DEPTS)


def test_cursors_of_another_user_and_foreign_headers_are_refused(api: Api, seeded: dict[str, Any]) -> None:
    district = {"authorization": f"Bearer {seeded['tokens'][(scoping.DISTRICT, 'analyst')]}"}
    page = api.client.get("/api/v1/events", headers=district, params={"size": 2, "start": "now-1d"}).json()
    assert page["next"]
    member = {"authorization": f"Bearer {seeded['tokens'][('jiaowei', 'analyst')]}"}
    stolen = api.client.get("/api/v1/events", headers=member, params={"size": 2, "start": "now-1d",
                                                                       "after": page["next"]})
    assert stolen.status_code in (400, 422) and not _leaks(stolen.text, "jiaowei")
    widened = api.client.get("/api/v1/alerts", headers={**member, "x-organization": "weijianwei"})
    assert widened.status_code == 403 and not _leaks(widened.text, "jiaowei")
    narrowed = api.client.get("/api/v1/alerts", headers={**district, "x-organization": "weijianwei"},
                              params={"size": 100}).text
    assert marker("weijianwei") in narrowed and not _leaks(narrowed, "weijianwei")


def _cli_config(api: Api, tmp_path: Path, mapping: str) -> Path:
    import getpass

    path = tmp_path / f"soc-{mapping.replace('@', '-')}.yml"
    path.write_text(yaml.safe_dump({
        "data_dir": str(api.settings.data_dir), "index_prefix": api.settings.index_prefix, "language": "en",
        "es": {"url": api.settings.es_url},
        "api": {"secret_key": TEST_SECRET, "cli_roles": {getpass.getuser(): mapping}},
        "audit": {"secret_key": TEST_SECRET},
    }))
    return path


CLI_READS = (("alerts", "list"), ("alerts", "list", "--json"), ("cases", "list"), ("cases", "list", "--json"),
             ("hunt", "events", "--since", "now-1d"), ("hunt", "events", "organization.id:*", "--since", "now-1d"),
             ("hunt", "top", "host.name", "--since", "now-1d"), ("hunt", "top", "organization.id", "--since", "now-1d"),
             ("users", "list"), ("audit", "list"), ("departments", "list"))


def test_cli_read_commands_as_each_department(api: Api, seeded: dict[str, Any], tmp_path: Path) -> None:
    failures = []
    for dept in DEPTS:
        for role in ("analyst", "auditor", "admin"):
            config = _cli_config(api, tmp_path, f"{role}@{dept}")
            for args in CLI_READS:
                with CliRunner().isolation() as streams:
                    code = cli_main(["--config", str(config), *args])
                    out = b"".join(s.getvalue() for s in streams[:2]).decode()
                # it ran, or the role may not read that (exit 2 with the permission named)
                if code != 0 and not (code == 2 and "may not" in out):
                    failures.append(f"{role}@{dept} soc {' '.join(args)}: exit {code}: {out[:200]}")
                if _leaks(out, dept):
                    failures.append(f"{role}@{dept} soc {' '.join(args)}: leaks {_leaks(out, dept)}")
    assert not failures, "\n".join(failures)
    config = _cli_config(api, tmp_path, "analyst@jiaowei")
    with CliRunner().isolation() as streams:
        assert cli_main(["--config", str(config), "alerts", "list", "--json"]) == 0
        out = b"".join(s.getvalue() for s in streams[:2]).decode()
    assert marker("jiaowei") in out
    with CliRunner().isolation() as streams:
        assert cli_main(["--config", str(config), "hunt", "top", "organization.id", "--since", "now-1d", "--json"]) == 0
        top = b"".join(s.getvalue() for s in streams[:2]).decode()
    assert '"jiaowei"' in top and not any(f'"{d}"' in top for d in DEPTS if d != "jiaowei")
