"""Triage from a terminal: tables with headers, id prefixes, `soc cases`, `soc hunt`, the acting
OS user and its mapped role — against a real Elasticsearch."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from core.alerting import ALERTS_MAPPING, alerts_index
from core.schema import install_templates
from core.settings import Settings
from core.timeutil import iso, utcnow
from soc.cli import main
from tests.conftest import TEST_SECRET
from tests.integration.api.conftest import Api
from tests.integration.api.test_triage import seed_alerts


def _config(settings: Settings, tmp_path: Path, **api: Any) -> Path:
    path = tmp_path / "soc.yml"
    path.write_text(yaml.safe_dump({
        "data_dir": str(settings.data_dir), "index_prefix": settings.index_prefix, "language": "en",
        "es": {"url": settings.es_url}, "api": {"secret_key": TEST_SECRET, **api},
        "audit": {"secret_key": TEST_SECRET},
    }))
    return path


def _run(config: Path, *args: str) -> tuple[int, str]:
    """Through ``soc.cli.main`` as the ``soc`` command runs (errors → one line and exit code 2)."""
    with CliRunner().isolation() as streams:
        code = main(["--config", str(config), *args])
        return code, b"".join(s.getvalue() for s in streams[:2]).decode()


def test_alert_table_prefixes_and_formatted_show(api: Api, tmp_path: Path) -> None:
    config = _config(api.settings, tmp_path)
    ids = seed_alerts(api, 5)
    code, out = _run(config, "alerts", "list")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["ID", "Detected", "(UTC)", "Level", "Status", "Host", "Source", "User", "Rule"]
    assert set(lines[1]) <= {"─", " "}
    shown = [line.split()[0] for line in lines[2:-1]]
    assert len(shown) == 5 and all(any(full.startswith(p) for full in ids) for p in shown)
    assert "10.0.0.0" in out  # the source column
    # The id as printed (a prefix) works for show and status.
    prefix = next(p for p in shown if ids[0].startswith(p))
    code, out = _run(config, "alerts", "show", prefix)
    assert code == 0 and out.splitlines()[0].startswith("Brute force 0") and ids[0] in out
    assert "History:" not in out  # nothing happened yet
    code, out = _run(config, "alerts", "status", prefix, "acknowledged")
    assert code == 0, out
    code, out = _run(config, "alerts", "show", ids[0][:8])
    assert "History:" in out and "new → acknowledged" in out
    code, out = _run(config, "alerts", "show", "zzzzzzzz")
    assert code == 2 and "No alert" in out


def test_ambiguous_prefix_is_refused(api: Api, tmp_path: Path) -> None:
    config = _config(api.settings, tmp_path)
    index = alerts_index(api.settings.index_prefix)
    api.store.ensure_index(index, mappings=ALERTS_MAPPING)
    for suffix in ("01", "02"):
        api.store.put(index, f"abcdef{suffix}", {"@timestamp": iso(utcnow()), "alert": {"id": f"abcdef{suffix}"}},
                      refresh=True)
    code, out = _run(config, "alerts", "show", "abcdef")
    assert code == 2 and "More than one alert" in out
    code, out = _run(config, "--json", "alerts", "show", "abcdef02")
    assert code == 0 and json.loads(out)["alert"]["alert"]["id"] == "abcdef02"


def test_cases_from_the_terminal(api: Api, tmp_path: Path) -> None:
    config = _config(api.settings, tmp_path)
    ids = seed_alerts(api, 3)
    code, out = _run(config, "--json", "cases", "create", "Brute force on web-1", "--alert", ids[0][:10],
                     "--severity", "high")
    assert code == 0, out
    case_id = json.loads(out)["case"]["case_id"]
    assert json.loads(out)["case"]["alert_ids"] == [ids[0]]
    code, out = _run(config, "cases", "add", case_id, ids[1][:12], "nosuchalert")
    assert code == 0 and "1 alert(s) added, 1 failed" in out
    code, out = _run(config, "cases", "note", case_id, "blocked 10.0.0.1 at the firewall")
    assert code == 0
    code, out = _run(config, "cases", "list")
    assert out.splitlines()[0].split()[:3] == ["Case", "Updated", "(UTC)"] and case_id in out
    code, out = _run(config, "cases", "show", case_id)
    assert "blocked 10.0.0.1 at the firewall" in out and ids[1] in out and "alerts_added" in out
    code, out = _run(config, "cases", "status", case_id, "closed")
    assert code == 0 and "closed" in out


def test_hunt_events_and_top_values(api: Api, tmp_path: Path) -> None:
    config = _config(api.settings, tmp_path)
    install_templates(api.store, api.settings.index_prefix)
    index = api.settings.index("events-system.auth-000001")
    now = utcnow()
    docs = [(index, f"e{i}", {"@timestamp": iso(now), "event": {"dataset": "system.auth", "outcome": "failure"},
                               "host": {"name": "web01"}, "source": {"ip": f"203.0.113.{i % 2}"},
                               "message": f"Failed password for root from 203.0.113.{i % 2}"}) for i in range(5)]
    assert api.store.bulk_create(docs, refresh=True).all_stored
    code, out = _run(config, "hunt", "events", "source.ip:203.0.113.1", "--since", "now-1h")
    assert code == 0, out
    assert out.splitlines()[0].split()[:4] == ["Time", "(UTC)", "Dataset", "Host"]
    assert out.count("Failed password for root from 203.0.113.1") == 2 and "2 of 2 events" in out
    code, out = _run(config, "hunt", "events", "*", "--field", "source.ip", "--field", "host.name", "--limit", "3")
    assert out.splitlines()[0].split() == ["Time", "(UTC)", "source.ip", "host.name"] and "3 of 5 events" in out
    code, out = _run(config, "--json", "hunt", "top", "source.ip")
    top = json.loads(out)
    assert code == 0 and top["values"] == [{"value": "203.0.113.0", "count": 3}, {"value": "203.0.113.1", "count": 2}]
    code, out = _run(config, "hunt", "events", "--since", "now-999999999d")
    assert code == 2


def test_cli_acts_as_the_os_user_with_its_mapped_role(api: Api, tmp_path: Path) -> None:
    user = getpass.getuser()
    ids = seed_alerts(api, 1)
    auditor_cfg = _config(api.settings, tmp_path, cli_roles={user: "auditor"})
    code, out = _run(auditor_cfg, "alerts", "status", ids[0], "acknowledged")
    assert code == 2 and "auditor" in out  # an auditor may read alerts, not change them
    code, out = _run(auditor_cfg, "alerts", "show", ids[0])
    assert code == 0
    analyst_cfg = tmp_path / "analyst"
    analyst_cfg.mkdir()
    cfg = _config(api.settings, analyst_cfg, cli_roles={user: "analyst"})
    code, out = _run(cfg, "alerts", "status", ids[0], "acknowledged")
    assert code == 0, out
    code, out = _run(cfg, "--json", "audit", "list", "--action", "alerts.status")
    assert code == 2  # the analyst role may not read the audit trail
    code, out = _run(_config(api.settings, tmp_path), "--json", "audit", "list", "--action", "alerts.status")
    actors = {r["actor"] for r in json.loads(out)["items"]}
    assert actors == {f"cli:{user}"}
