"""The overview, the ATT&CK matrix and an alert's context, on alerts the detection engine really
raised from the demo's SSH attack (own rules, real cycles)."""

from __future__ import annotations

from core.auditing import Actor, MemoryAuditor
from detections.runner import RunnerConfig, run_cycle
from detections.service import import_own_rules
from soc.demo import ATTACKER_SSH, demo_events
from tests.integration.api.conftest import Api
from tests.integration.detections.conftest import write_events

BRUTE = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a02"
CHAIN = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a17"


def _detect(api: Api) -> None:
    prefix = api.settings.index_prefix
    import_own_rules(api.store, prefix, actor=Actor("cli:t", "cli"), auditor=MemoryAuditor())
    write_events(api.store, prefix, [{"_id": e.id, **e.doc} for e in demo_events() if e.dataset == "system.auth"])
    cfg = RunnerConfig(prefix=prefix, worker_id="t", settle_seconds=0, partitions=2, initial_lookback_seconds=3600)
    run_cycle(api.store, cfg, force=True)
    run_cycle(api.store, cfg, force=True)
    api.store.refresh(f"{prefix}-alerts")


def test_overview_matrix_and_alert_context(api: Api) -> None:
    _detect(api)
    ana = api.as_role("analyst")
    ov = api.client.get("/api/v1/overview", headers=ana, params={"start": "now-6h"}).json()
    # brute force, password spraying and the login after them
    assert ov["total"] == 3 and ov["open"] == 3 and ov["closed"] == 0
    assert {b["value"]: b["count"] for b in ov["levels"]}["critical"] == 1
    assert ov["top"]["sources"][0] == {"value": ATTACKER_SSH, "count": 3}
    assert sum(b.get("critical", 0) for b in ov["over_time"]) == 1
    assert ov["events"]["datasets"][0]["dataset"] == "system.auth" and ov["events"]["total"] > 250
    # The sysadmin's overview holds no analyst alerts.
    assert api.client.get("/api/v1/overview", headers=api.as_role("sysadmin")).json()["total"] == 0

    matrix = api.client.get("/api/v1/attack/matrix", headers=ana, params={"start": "now-6h"}).json()
    cred = next(t for t in matrix["tactics"] if t["short"] == "credential-access")
    assert cred["name_zh"] == "凭据访问" and cred["id"] == "TA0006"
    brute = next(c for c in cred["techniques"] if c["id"] == "T1110")
    assert brute["name"] == "Brute Force" and brute["rules"] >= 3 and brute["alerts"] == 3
    assert matrix["covered"] >= 5 and matrix["total"] > 150

    page = api.client.get("/api/v1/alerts", headers=ana, params={"technique": "T1110", "start": "now-6h"}).json()
    assert page["total"] == 3
    page = api.client.get("/api/v1/alerts", headers=ana, params={"technique": "T1110.003", "start": "now-6h"}).json()
    assert [a["rule"]["name"] for a in page["items"]] == ["SSH Password Spraying From One Source"]
    page = api.client.get("/api/v1/alerts", headers=ana, params={"tactic": "initial-access", "start": "now-6h"}).json()
    assert [a["rule"]["id"] for a in page["items"]] == [CHAIN]
    bad = api.client.get("/api/v1/alerts", headers=ana, params={"technique": "T11"})
    assert bad.status_code == 422

    alert = next(a for a in api.client.get("/api/v1/alerts", headers=ana, params={"start": "now-6h"}).json()["items"]
                 if a["rule"]["id"] == BRUTE)
    detail = api.client.get(f"/api/v1/alerts/{alert['alert']['id']}", headers=ana).json()
    assert detail["rule"]["title"] == "SSH Brute Force From One Source" and "correlation:" in detail["rule"]["sigma"]
    assert detail["rule"]["description"].startswith("Ten or more failed SSH logins")
    assert {t["id"] for t in detail["attack"]["techniques"]} == {"T1110.001"}
    assert detail["attack"]["techniques"][0]["parent"]["name"] == "Brute Force"
    events = api.client.get(f"/api/v1/alerts/{alert['alert']['id']}/events", headers=ana, params={"size": 10}).json()
    assert events["total"] == 36 and len(events["items"]) == 10 and events["next"]
    seen = [e["_id"] for e in events["items"]]
    while events["next"]:
        events = api.client.get(f"/api/v1/alerts/{alert['alert']['id']}/events", headers=ana,
                                params={"size": 10, "after": events["next"]}).json()
        seen += [e["_id"] for e in events["items"]]
    assert len(seen) == len(set(seen)) == 36
    chain = next(a for a in api.client.get("/api/v1/alerts", headers=ana, params={"start": "now-6h"}).json()["items"]
                 if a["rule"]["id"] == CHAIN)
    chained = api.client.get(f"/api/v1/alerts/{chain['alert']['id']}/events", headers=ana).json()
    assert [a["rule"]["id"] for a in chained["related_alerts"]] == [BRUTE]
    assert chained["total"] == 1 and chained["items"][0]["event"]["outcome"] == "success"
