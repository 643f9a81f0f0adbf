"""Unmasking on need: analysts see masked values, only the security administrator (admin) can
unmask, with a reason and a case id, for a limited time, every step audited; the inventory
and the policy through the API and the CLI."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from collectors import service as collect
from collectors.models import Event
from core.settings import Settings
from soc.cli import cli
from tests.conftest import TEST_SECRET
from tests.integration.api.conftest import Api
from tests.integration.api.test_auth import _admin
from tests.integration.privacy.test_never_in_clear import RIC

MOBILE = "13812345678"
EMAIL = "zhang.san@example.com"


def _ship(api: Api) -> None:
    ts = "2026-12-07T09:00:00.000Z"
    events = [Event(f"e{i}", "web.access", {
        "@timestamp": ts, "message": f"POST /register mobile={MOBILE} id={RIC} mail={EMAIL}",
        "url": {"path": "/register", "query": f"mobile={MOBILE}&id={RIC}"}, "host": {"name": "portal-1"}})
        for i in range(3)]
    events.append(Event("plain", "system.auth", {"@timestamp": ts, "message": "session opened for user root",
                                                 "host": {"name": "db-1"}}))
    summary = collect.ship_events(api.settings, api.store, events, source="test")
    assert summary.shipped == 4
    api.store.refresh(f"{api.settings.index_prefix}-events-*")


def test_analysts_see_masked_admin_unmasks_with_grant_and_audit(api: Api) -> None:
    _ship(api)
    analyst = api.as_role("analyst")
    page = api.client.get("/api/v1/events", params={"q": "pii.types:cn_mobile", "start": "2026-12-01T00:00:00Z"},
                          headers=analyst).json()
    assert page["total"] == 3
    item = page["items"][0]
    # kept at ingest (stored in clear) but masked for display; the ID was masked at ingest
    assert MOBILE not in json.dumps(item) and "138****5678" in item["message"]
    assert "z********@example.com" in item["message"] and "110105********002X" in item["message"]
    stored = api.store.get(item["_index"], item["_id"])["_source"]
    assert MOBILE in stored["message"] and RIC not in stored["message"]
    top = api.client.get("/api/v1/events/top", params={"field": "url.query", "start": "2026-12-01T00:00:00Z"},
                         headers=analyst).json()
    assert MOBILE not in json.dumps(top) and top["values"][0]["count"] == 3

    # analysts, auditors and sysadmins may not unmask; the denial is audited by the API layer
    for role in ("analyst", "auditor", "sysadmin"):
        denied = api.client.post("/api/v1/privacy/grants", json={"case_id": "C-1", "reason": "need it for case"},
                                 headers=api.as_role(role))
        assert denied.status_code == 403, role
    admin = _admin(api)
    short = api.client.post("/api/v1/privacy/grants", json={"case_id": "C-1", "reason": "x"}, headers=admin)
    assert short.status_code in (400, 422)
    too_long = api.client.post("/api/v1/privacy/grants", json={"case_id": "C-1", "reason": "investigating a leak",
                                                               "minutes": 481}, headers=admin)
    assert too_long.status_code in (400, 422)
    grant = api.client.post("/api/v1/privacy/grants", json={"case_id": "C-42", "reason": "identify the leaking account",
                                                            "minutes": 10}, headers=admin)
    assert grant.status_code == 201, grant.text
    gid = grant.json()["id"]
    url = f"/api/v1/privacy/events/{item['_index']}/{item['_id']}"
    clear = api.client.get(url, params={"grant": gid}, headers=admin)
    assert clear.status_code == 200, clear.text
    body = clear.json()
    assert MOBILE in body["event"]["message"] and EMAIL in body["event"]["message"]
    assert RIC not in json.dumps(body)                      # masked at ingest: not recoverable
    assert "message|cn_ric" in body["not_recoverable"]
    # a grant is personal and expires
    assert api.client.get(url, params={"grant": "nope"}, headers=admin).status_code == 404
    api.store.update(f"{api.settings.index_prefix}-privacy-grants", gid, {"expires_at": "2026-01-01T00:00:00.000Z"},
                     refresh="wait_for")
    assert api.client.get(url, params={"grant": gid}, headers=admin).status_code == 403
    bad_index = api.client.get("/api/v1/privacy/events/other-index/x", params={"grant": gid}, headers=admin)
    assert bad_index.status_code in (400, 403)

    # the audit trail has the grant (with reason) and the unmasking (with case id)
    api.store.refresh(f"{api.settings.index_prefix}-audit*")
    auditor = api.as_role("auditor")
    grants = api.client.get("/api/v1/audit", params={"action": "privacy.grant"}, headers=auditor).json()["items"]
    unmasks = api.client.get("/api/v1/audit", params={"action": "privacy.unmask"}, headers=auditor).json()["items"]
    assert len(grants) == 1 and "identify the leaking account" in json.dumps(grants[0], ensure_ascii=False)
    assert len(unmasks) == 1 and "C-42" in json.dumps(unmasks[0])


def test_inventory_api_csv_and_cli(api: Api, settings: Settings) -> None:
    _ship(api)
    analyst = api.as_role("analyst")
    inv = api.client.get("/api/v1/privacy/inventory", headers=analyst)
    assert inv.status_code == 200, inv.text
    rows = {(r["dataset"], r["field"], r["type"]): r for r in inv.json()["rows"]}
    row = rows[("web.access", "url.query", "cn_ric")]
    assert row["events"] == 3 and row["action"] == "mask" and row["hosts"] == ["portal-1"]
    assert row["endpoints"] == ["/register"] and row["first_seen"].startswith("2026-12-07T09:00")
    assert rows[("web.access", "message", "email")]["action"] == "keep"
    assert not any(k[0] == "system.auth" for k in rows)
    assert inv.json()["totals"]["cn_mobile"] == 6
    text = api.client.get("/api/v1/privacy/inventory", params={"format": "csv"}, headers=analyst).text
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == len(rows) and {"dataset", "field", "type", "events"} <= set(parsed[0])
    assert api.client.get("/api/v1/privacy/inventory", params={"since": "yesterday"},
                          headers=analyst).status_code in (400, 422)
    policy = api.client.get("/api/v1/privacy/policy", headers=api.as_role("auditor")).json()
    assert {"dataset": "*", "field": "*", "type": "cn_ric", "action": "mask"} in policy["rules"]

    env = {"SOC_ES_URL": settings.es_url, "SOC_INDEX_PREFIX": settings.index_prefix,
           "SOC_DATA_DIR": str(settings.data_dir), "SOC_LANGUAGE": "en", "SOC_AUDIT_SECRET_KEY": TEST_SECRET}
    out = CliRunner().invoke(cli, ["privacy", "inventory"], env=env)
    assert out.exit_code == 0, out.output
    assert "url.query" in out.output and "cn_ric" in out.output and "portal-1" in out.output
    as_csv = CliRunner().invoke(cli, ["privacy", "inventory", "--csv"], env=env)
    assert as_csv.output.startswith("dataset,field,type,events")
    bad = CliRunner().invoke(cli, ["privacy", "inventory", "--since", "yesterday"], env=env)
    assert bad.exit_code != 0 and "ISO 8601" in str(bad.exception)    # main() turns it into exit code 2
    shown = CliRunner().invoke(cli, ["config", "show", "--json"], env=env)
    assert {"dataset": "*", "field": "*", "type": "bank_card", "action": "mask"} in \
        json.loads(shown.output)["pii"]["effective_policy"]
