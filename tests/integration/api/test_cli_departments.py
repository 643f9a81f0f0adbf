"""`soc departments`, `soc users --department`, and CLI operators mapped to `role@department`."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from core.settings import Settings
from soc.cli import main
from soc.cli.context import os_user
from tests.conftest import TEST_SECRET
from tests.integration.api.conftest import Api
from tests.integration.api.test_departments import seed_alerts, seed_departments


def _config(settings: Settings, tmp_path: Path, role: str | None = None) -> Path:
    path = tmp_path / f"soc-{(role or 'local').replace('@', '-')}.yml"
    api: dict[str, object] = {"secret_key": TEST_SECRET}
    if role:
        api["cli_roles"] = {os_user(): role}
    path.write_text(yaml.safe_dump({
        "data_dir": str(settings.data_dir), "index_prefix": settings.index_prefix, "es": {"url": settings.es_url},
        "api": api, "audit": {"secret_key": TEST_SECRET},
        "org": {"departments": [{"id": "minzhengju", "name_zh": "民政局", "name_en": "Civil Affairs Bureau"}]},
    }, allow_unicode=True))
    return path


def _run(config: Path, *args: str) -> tuple[int, str]:
    """Through ``soc.cli.main`` as the ``soc`` command runs (errors → one line and exit code 2)."""
    with CliRunner().isolation() as streams:
        code = main(["--config", str(config), *args])
        return code, b"".join(s.getvalue() for s in streams[:2]).decode()


def test_departments_commands_and_department_users(api: Api, tmp_path: Path) -> None:
    local = _config(api.settings, tmp_path)
    code, out = _run(local, "departments", "add", "jiaowei", "--zh", "教委", "--en", "Education Commission")
    assert code == 0 and "jiaowei" in out
    code, out = _run(local, "departments", "add", "jiaowei-xx", "--zh", "教委信息中心", "--en", "Education IT",
                     "--parent", "jiaowei")
    assert code == 0
    code, out = _run(local, "--json", "departments", "list")
    # The seed from the settings file is there too, created on first use.
    assert [d["id"] for d in json.loads(out)] == ["district", "jiaowei", "jiaowei-xx", "minzhengju"]
    code, out = _run(local, "departments", "list")
    assert code == 0 and "教委信息中心" in out and "Civil Affairs Bureau" in out
    code, out = _run(local, "--json", "departments", "show", "jiaowei")
    assert code == 0 and json.loads(out)["sub_departments"] == ["jiaowei-xx"]
    code, out = _run(local, "departments", "add", "Bad Id", "--zh", "x", "--en", "x")
    assert code == 2 and "slug" in out
    code, out = _run(local, "departments", "set", "jiaowei", "--parent", "jiaowei-xx")
    assert code == 2 and "cycle" in out
    code, out = _run(local, "--json", "users", "create", "jw-analyst", "--role", "analyst", "--department", "jiaowei")
    assert code == 0 and json.loads(out)["organization"] == "jiaowei"
    code, out = _run(local, "--json", "users", "set-department", "jw-analyst", "jiaowei-xx")
    assert code == 0 and json.loads(out)["organization"] == "jiaowei-xx"
    code, out = _run(local, "users", "list")
    assert "jiaowei-xx" in out
    # An administrator mapped to a department neither sees nor changes the department tree's root.
    dept_admin = _config(api.settings, tmp_path, "admin@jiaowei")
    code, out = _run(dept_admin, "--json", "departments", "list")
    assert [d["id"] for d in json.loads(out)] == ["jiaowei", "jiaowei-xx"]
    code, out = _run(dept_admin, "departments", "add", "jiaowei-yy", "--zh", "x", "--en", "x", "--parent", "jiaowei")
    assert code == 2 and "district" in out
    code, out = _run(dept_admin, "--json", "users", "list")
    assert [u["username"] for u in json.loads(out)] == ["jw-analyst"]
    code, out = _run(dept_admin, "users", "create", "mz-x", "--role", "analyst", "--department", "minzhengju")
    assert code == 2 and "outside your scope" in out


def test_cli_role_at_department_restricts_reads(api: Api, tmp_path: Path) -> None:
    seed_departments(api)
    ids = seed_alerts(api)

    def listed(config: Path, *extra: str) -> tuple[int, set[str] | str]:
        code, out = _run(config, "--json", *extra, "alerts", "list")
        return code, ({a["alert"]["id"] for a in json.loads(out)["items"]} if code == 0 else out)

    assert listed(_config(api.settings, tmp_path)) == (0, set(ids.values()))
    jiaowei = _config(api.settings, tmp_path, "analyst@jiaowei")
    assert listed(jiaowei) == (0, {ids["jiaowei"]})
    code, out = listed(jiaowei, "--org", "weijianwei")
    assert code == 2 and "outside your department" in str(out)
    district = _config(api.settings, tmp_path, "analyst")
    assert listed(district) == (0, set(ids.values()))
    assert listed(district, "--org", "weijianwei") == (0, {ids["weijianwei"]})
    code, out = listed(district, "--org", "nowhere")
    assert code == 2 and "no department" in str(out)
    # What a mapped operator does is recorded as its department's.
    code, _out = _run(jiaowei, "alerts", "status", ids["jiaowei"], "acknowledged")
    assert code == 0
    code, out = _run(jiaowei, "alerts", "status", ids["weijianwei"], "acknowledged")
    assert code == 2
    api.store.refresh(api.settings.index("audit"))
    records = api.store.search(api.settings.index("audit"), {"size": 100, "query": {"term": {"action": "alerts.status"}}})
    seen = {(h["_source"]["target"], h["_source"]["outcome"], h["_source"]["organization"]["id"])
            for h in records["hits"]["hits"]}
    assert seen == {(ids["jiaowei"], "success", "jiaowei"), (ids["weijianwei"], "failure", "jiaowei")}
