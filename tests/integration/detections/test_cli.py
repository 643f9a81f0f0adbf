"""`soc rules` end to end through the CLI: lint, import, test (EVTX and JSON lines), run-once."""

from __future__ import annotations

import json
from pathlib import Path

from soc.cli import main

RULES = Path(__file__).resolve().parents[3] / "detections" / "rules"

CASE = "rules/windows/process_creation/proc_creation_win_driverquery_usage"


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_rules_cli(settings, shared_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOC_ES_URL", settings.es_url)
    monkeypatch.setenv("SOC_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("SOC_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SOC_AUDIT_SECRET_KEY", settings.audit.secret_key.get_secret_value())
    sigma = shared_dir / "sigma"
    rule = sigma / "rules/windows/process_creation/proc_creation_win_driverquery_usage.yml"
    evtx = next((sigma / "regression_data" / CASE).glob("*.evtx"))
    code, out = run(capsys, "rules", "test", str(rule), "--events", str(evtx), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["match_count"] == 1 and data["rule"]["id"] == "a20def93-0709-4eae-9bd2-31206e21e6b2"

    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text(json.dumps({"@timestamp": "2026-11-26T10:00:00.000Z", "event": {"dataset": "system.auth"},
                                 "process": {"name": "su"}, "message": "FAILED SU (to root) eve on pts/1"}) + "\n"
                     + json.dumps({"@timestamp": "2026-11-26T10:00:01.000Z", "event": {"dataset": "system.auth"},
                                   "process": {"name": "su"}, "message": "Successful su for root by eve"}) + "\n")
    code, out = run(capsys, "rules", "test", str(RULES / "linux" / "lnx_su_failure.yml"), "--events", str(jsonl),
                    "--json")
    assert code == 0 and json.loads(out)["match_count"] == 1

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "dup.yml").write_text("title: a\ntitle: b\n")
    code, out = run(capsys, "rules", "lint", str(bad), "--json")
    assert code == 0 and json.loads(out)["summary"]["rejected_by_reason"] == {"yaml_error": 1}

    code, out = run(capsys, "rules", "import", str(RULES), "--json")
    assert code == 0 and json.loads(out)["summary"]["loaded"] == len(list(RULES.rglob("*.yml")))
    code, out = run(capsys, "rules", "run-once", "--json")
    assert code == 0 and json.loads(out)["errors"] == 0
    code, _out = run(capsys, "rules", "disable", "no-such-rule")
    assert code != 0
    code, out = run(capsys, "rules", "list")
    rows = out.splitlines()
    assert code == 0 and len(rows) == 1 + len(list(RULES.rglob("*.yml")))
    assert all(len(r.split()) > 4 for r in rows[1:]), "state, id, level, run status, alerts, title per rule"
