"""Security headers on the API and the console, placeholder keys refused outside demo mode,
credentials in SOC_ES_URL never shown, CSV cells that cannot run as formulas, and anonymous
failures aggregated and rate limited."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import AnonymousFailures
from core.auditing import MemoryAuditor
from core.csvsafe import safe_cell, write_csv
from core.errors import InvalidInput
from core.es import Store
from core.settings import PLACEHOLDER_SECRET, Settings
from tests.integration.api.conftest import Api


@pytest.mark.parametrize("path", ["/console/", "/console/app.js", "/api/v1/alerts", "/health", "/nope"])
def test_security_headers(api: Api, path: str) -> None:
    resp = api.client.get(path, headers=api.as_role("analyst"))
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["referrer-policy"] == "no-referrer"
    csp = resp.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "unsafe-inline" not in csp


def test_create_app_refuses_placeholder_keys_outside_demo(settings: Settings, store: Store) -> None:
    for section in ("api", "audit"):
        bad = settings.model_copy(update={section: getattr(settings, section).model_copy(
            update={"secret_key": type(settings.api.secret_key)(PLACEHOLDER_SECRET)})})
        with pytest.raises(InvalidInput, match=f"SOC_{section.upper()}_SECRET_KEY"):
            create_app(bad, store)
        demo = bad.model_copy(update={"demo": True})
        assert create_app(demo, store) is not None  # demo mode generates and allows them


def test_url_credentials_are_redacted_in_health(settings: Settings, es_url: str) -> None:
    secret_url = es_url.replace("://", "://elastic:pw-s3cret@")
    with_creds = settings.model_copy(update={"es": settings.es.model_copy(update={"url": secret_url})})
    store = Store.connect(with_creds)
    client = TestClient(create_app(with_creds, store))
    health = client.get("/health")
    assert "pw-s3cret" not in health.text and "******@" in health.json()["elasticsearch"]["url"]
    assert "pw-s3cret" not in repr(with_creds.masked())


def test_csv_cells_are_neutralised() -> None:
    assert [safe_cell(v) for v in ("=1+1", "+x", "-x", "@SUM(A1)", "\tx", "\rx", "ok", -5, None)] == \
        ["'=1+1", "'+x", "'-x", "'@SUM(A1)", "'\tx", "'\rx", "ok", -5, ""]
    rows = list(csv.reader(io.StringIO(write_csv(["h"], [['=HYPERLINK("http://evil")']]))))
    assert rows[1][0].startswith("'=")


def test_alert_export_csv_is_neutralised(api: Api) -> None:
    from tests.integration.api.test_triage import seed_alerts

    seed_alerts(api, 2)
    index = api.settings.index("alerts")
    hit = api.store.search(index, {"size": 1})["hits"]["hits"][0]
    api.store.update(index, hit["_id"], {"alert": {"reason": "=cmd|' /C calc'!A0"}}, refresh=True)
    resp = api.client.get("/api/v1/alerts/export", params={"format": "csv", "start": "now-30d"},
                          headers=api.as_role("analyst"))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    reasons = [r["alert.reason"] for r in rows]
    assert "'=cmd|' /C calc'!A0" in reasons and not any(r.startswith("=") for r in reasons)


def test_anonymous_failures_are_one_record_per_source_and_minute(api: Api) -> None:
    auditor = MemoryAuditor()
    minute = [1_000_000 * 60.0]
    anonymous = AnonymousFailures(lambda: auditor, limit=60, clock=lambda: minute[0])
    api.app.state.anonymous = anonymous
    codes = [api.client.post(f"/api/v1/anything-{i}").status_code for i in range(100)]
    assert codes[:60] == [404] * 60 and set(codes[60:]) == {429}
    assert auditor.records == []  # nothing per request
    minute[0] += 60  # the minute ends: one record with the count
    assert api.client.post("/api/v1/anything-else").status_code == 404
    anonymous.flush()
    records = [r for r in auditor.records if r["action"] == "api.anonymous_failures"]
    assert len(records) == 1 and records[0]["detail"]["count"] == 100 and records[0]["detail"]["refused"] == 40
    anonymous.close()  # the open minute is written too
    assert [r["detail"]["count"] for r in auditor.records] == [100, 1]
    # The tamper-evident trail itself got no per-request records for the flood.
    trail = api.app.state.auditor.search(actor=__import__("core.auditing").auditing.Actor("i", "auditor"), size=500)
    assert not any(str(r["target"]).startswith("POST /api/v1/anything") for r in trail["items"])


def test_url_credentials_stay_out_of_errors_and_logs(caplog: pytest.LogCaptureFixture, es_url: str) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    unreachable = Store.from_url("http://elastic:pw-s3cret@127.0.0.1:9", request_timeout=2)
    with pytest.raises(Exception) as raised:
        unreachable.check()
    assert "pw-s3cret" not in str(raised.value) and "******@127.0.0.1:9" in str(raised.value)
    reachable = Store.from_url(es_url.replace("://", "://elastic:pw-s3cret@"), request_timeout=5)
    reachable.check()
    reachable.search("no-such-index-*", {"size": 1})
    assert caplog.text and "pw-s3cret" not in caplog.text
