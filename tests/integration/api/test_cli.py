"""`soc users`, `soc audit`, `soc alerts` against a real Elasticsearch."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import yaml
from click.testing import CliRunner

from core.settings import Settings
from core.timeutil import iso, utcnow
from soc.cli import cli
from tests.conftest import TEST_SECRET
from tests.integration.api.conftest import Api
from tests.integration.api.test_triage import seed_alerts


def _config(settings: Settings, tmp_path: Path) -> Path:
    path = tmp_path / "soc.yml"
    path.write_text(yaml.safe_dump({
        "data_dir": str(settings.data_dir), "index_prefix": settings.index_prefix,
        "es": {"url": settings.es_url}, "api": {"secret_key": TEST_SECRET}, "audit": {"secret_key": TEST_SECRET},
    }))
    return path


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "--json", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_users_alerts_and_audit(api: Api, tmp_path: Path) -> None:
    config = _config(api.settings, tmp_path)
    code, out = _run(config, "users", "create", "carol", "--role", "auditor")
    assert code == 0 and json.loads(out)["temporary_password"]
    code, out = _run(config, "users", "list")
    assert {u["username"]: u["role"] for u in json.loads(out)}["carol"] == "auditor"
    ids = seed_alerts(api, 3)
    code, out = _run(config, "alerts", "status", ids[0], "closed", "--reason", "duplicate")
    assert code == 0 and json.loads(out)["alert"]["close_reason"] == "duplicate"
    code, out = _run(config, "alerts", "list", "--status", "closed")
    assert [a["alert"]["id"] for a in json.loads(out)["items"]] == [ids[0]]
    code, out = _run(config, "audit", "list", "--action", "alerts.status")
    record = json.loads(out)["items"][0]
    assert record["actor"].startswith("cli:") and record["target"] == ids[0]
    code, out = _run(config, "audit", "verify")
    assert code == 0 and json.loads(out)["ok"] is True
    recent = iso(utcnow() - timedelta(days=30))
    result = CliRunner().invoke(cli, ["--config", str(config), "audit", "purge", "--before", recent])
    assert result.exit_code != 0 and "185" in str(result.exception or result.output)
    # Tamper with the mirror: verify exits 1 and names the record.
    mirror = api.settings.audit_mirror_path
    lines = mirror.read_text().splitlines()
    lines[1] = lines[1].replace('"success"', '"failure"', 1)
    mirror.write_text("\n".join(lines) + "\n")
    code, out = _run(config, "audit", "verify")
    problem = json.loads(out)["first_problem"]
    assert code == 1 and problem["source"] == "mirror" and problem["position"] == 2
