"""`soc hunt evtx`: import a case's EVTX files and run rules over exactly those events (table, JSON,
CSV), as Hayabusa/Zircolite/Chainsaw users expect."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from collectors import service as collect
from core.auditing import Actor, MemoryAuditor
from core.es import Store
from core.settings import Settings
from detections import service as detections
from soc.cli import main
from tests.conftest import TEST_SECRET
from tests.integration.detections.test_sigma_regression import regression_cases, rule_files

ADMIN = Actor("cli:test", "cli")
# Three SigmaHQ regression cases (rule, its EVTX, expected matches), chosen for distinct levels.
WANTED = ("proc_creation_win_chcp_codepage_switch", "proc_creation_win_renamed_curl",
          "proc_creation_win_sc_stop_service")


def _cases(shared_dir: Path) -> list[tuple[str, Path, int, Path]]:
    sigma = shared_dir / "sigma"
    cases = [c for c in regression_cases(sigma) if c[1].parent.name in WANTED]
    files = {f.stem: f for f in rule_files(sigma, {c[0] for c in cases})}
    assert len(cases) == len(WANTED) and set(files) == set(WANTED)
    return [(rid, path, n, files[path.parent.name]) for rid, path, n in cases]


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"SOC_ES_URL": settings.es_url or "", "SOC_INDEX_PREFIX": settings.index_prefix,
                       "SOC_DATA_DIR": str(settings.data_dir), "SOC_LANGUAGE": "en",
                       "SOC_AUDIT_SECRET_KEY": TEST_SECRET}.items():
        monkeypatch.setenv(key, value)


def _soc(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_hunt_runs_rules_over_exactly_the_imported_events(settings: Settings, store: Store, shared_dir: Path,
                                                           tmp_path: Path, cli_env: None) -> None:
    cases = _cases(shared_dir)
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for _rid, _evtx, _n, rule in cases:
        shutil.copy(rule, rules_dir / rule.name)
    case_dir = tmp_path / "case" / "HOST" / "Logs"
    case_dir.mkdir(parents=True)
    for _rid, evtx, _n, _rule in cases[:2]:
        shutil.copy(evtx, case_dir / f"{evtx.parent.name}.evtx")
    # Events already stored before the hunt, matching the third rule: not part of this hunt.
    collect.import_evtx(settings, store, [cases[2][1]], actor=ADMIN)

    code, out, err = _soc("hunt", "evtx", str(tmp_path / "case"), "--rules", str(rules_dir), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["rules_run"] == 3 and result["errors"] == []
    assert len(result["import"]["files"]) == 2
    hits = {row["rule_id"]: row for row in result["hits"]}
    assert set(hits) == {cases[0][0], cases[1][0]}
    for rid, _evtx, expected, _rule in cases[:2]:
        assert hits[rid]["hits"] == expected
        assert hits[rid]["first_seen"] and hits[rid]["hosts"]
        assert hits[rid]["samples"][0]["log"]["file"]["path"].startswith(str(tmp_path / "case"))
    assert result["hits_total"] == sum(c[2] for c in cases[:2])
    assert sum(v["hits"] for v in result["by_level"].values()) == result["hits_total"]

    # The same hunt again: everything is already stored, and still exactly these events count.
    code, out, err = _soc("hunt", "evtx", str(tmp_path / "case"), "--rules", str(rules_dir), "--csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["rule_id"]: int(r["hits"]) for r in rows} == {rid: n for rid, _e, n, _r in cases[:2]}
    assert list(rows[0]) == ["level", "hits", "rule_id", "title", "first_seen", "last_seen", "hosts"]

    code, out, err = _soc("hunt", "evtx", str(tmp_path / "case"), "--rules", str(rules_dir))
    assert code == 0, err
    titles = {r["title"] for r in result["hits"]}
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["Level", "Hits"]
    assert all(any(title in line for line in lines) for title in titles)
    assert "2 matched" in out and "3 rules run" in out


def test_hunt_uses_the_loaded_rules_with_their_exceptions(settings: Settings, store: Store, prefix: str,
                                                           shared_dir: Path, tmp_path: Path, cli_env: None) -> None:
    cases = _cases(shared_dir)
    auditor = MemoryAuditor()
    detections.import_rules(store, prefix, [c[3] for c in cases], actor=ADMIN, auditor=auditor)
    rid, evtx, expected, _rule = cases[0]
    code, out, err = _soc("hunt", "evtx", str(evtx), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["rules"]["source"] == "loaded"
    assert {r["rule_id"]: r["hits"] for r in result["hits"]} == {rid: expected}
    host = result["hits"][0]["hosts"][0]
    detections.add_exception(store, prefix, rid, "host.name", "equals", [host], actor=ADMIN, auditor=auditor)
    code, out, err = _soc("hunt", "evtx", str(evtx), "--json")
    assert code == 0, err
    assert json.loads(out)["hits"] == []


def test_hunt_refuses_bad_input_with_exit_code_2(settings: Settings, store: Store, prefix: str, shared_dir: Path,
                                                 tmp_path: Path, cli_env: None) -> None:
    evtx = _cases(shared_dir)[0][1]
    code, _out, err = _soc("hunt", "evtx", str(tmp_path / "missing.evtx"))
    assert code == 2 and "missing.evtx" in err
    not_rules = tmp_path / "notes.yml"
    not_rules.write_text("just: text\n")
    code, _out, err = _soc("hunt", "evtx", str(evtx), "--rules", str(not_rules))
    assert code == 2 and "No rule could be loaded" in err
    code, _out, err = _soc("hunt", "evtx", str(evtx))  # nothing loaded in this installation
    assert code == 2 and "soc rules import" in err
    code, _out, err = _soc("hunt", "evtx", str(evtx), "--json", "--csv", "--rules", str(not_rules))
    assert code == 2 and "not both" in err
    # Refused before anything was imported.
    assert store.count(f"{prefix}-events-*") == 0
