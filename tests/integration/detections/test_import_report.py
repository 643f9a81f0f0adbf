"""The last import's lint report is kept and served to analysts (the console's rules page)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.identity.service import DEMO_USERS
from core.auditing import Actor, MemoryAuditor
from core.es import Store
from core.settings import Settings
from detections import service as rules_service

GOOD = """
title: Shadow file read by cat
id: 0b6f5f2c-1111-4c3b-9a55-0f3c2d9a0001
status: test
level: high
logsource: {product: linux, category: process_creation}
detection:
  sel: {Image|endswith: /cat, CommandLine|contains: /etc/shadow}
  condition: sel
"""
BAD = "title: [unclosed\n"


def test_import_report_is_kept_and_served(settings: Settings, store: Store, tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "good.yml").write_text(GOOD)
    (rules_dir / "broken.yml").write_text(BAD)
    report = rules_service.import_rules(store, settings.index_prefix, [rules_dir], actor=Actor("t", "cli"),
                                        auditor=MemoryAuditor())
    assert report["summary"]["loaded"] == 1 and report["summary"]["rejected"] == 1

    app = create_app(settings.model_copy(update={"demo": True}), store, auditor=MemoryAuditor(), bootstrap=True)
    client = TestClient(app)

    def token(user: str) -> dict[str, str]:
        body = client.post("/api/v1/auth/login", json={"username": user, "password": DEMO_USERS[user][1]}).json()
        return {"Authorization": f"Bearer {body['token']}"}

    got = client.get("/api/v1/rules/import-report", headers=token("analyst"))
    assert got.status_code == 200
    last = got.json()["report"]
    assert last["summary"]["loaded"] == 1 and last["summary"]["rejected"] == 1
    broken = [e for e in last["entries"] if e["status"] != "loaded"]
    assert len(broken) == 1 and "broken.yml" in broken[0]["source"] and broken[0]["reason"]
    assert client.get("/api/v1/rules/import-report", headers=token("sysadmin")).status_code == 200
    assert client.get("/api/v1/rules/import-report").status_code == 401
