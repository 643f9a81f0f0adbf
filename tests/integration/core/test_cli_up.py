"""The `soc` command as users run it: real processes, real ports, real Elasticsearch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from core.es import Store
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]


def soc(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SOC_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "soc", *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_unreachable_cluster_is_one_paragraph_and_nonzero(tmp_path: Path) -> None:
    proc = soc("es", "status", env={"SOC_ES_URL": f"http://127.0.0.1:{free_port()}", "SOC_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert "cannot be reached" in proc.stderr and "SOC_ES_URL" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_malformed_settings_file(tmp_path: Path) -> None:
    cfg = tmp_path / "soc.yml"
    cfg.write_text("api:\n  port: eighty\n")
    proc = soc("--config", str(cfg), "config", "show")
    assert proc.returncode == 2
    assert "api.port" in proc.stderr and str(cfg) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    proc = soc("config", "show", "--json", env={"SOC_DATA_DIR": str(tmp_path), "SOC_ES_PASSWORD": "s3cret-pw",
                                                "SOC_API_SECRET_KEY": "k" * 40})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["es"]["password"] == "**********"
    assert "s3cret-pw" not in proc.stdout


def test_placeholder_secrets_refused_outside_demo(tmp_path: Path, es_url: str) -> None:
    proc = soc("up", "--no-demo", env={"SOC_ES_URL": es_url, "SOC_DATA_DIR": str(tmp_path),
                                       "SOC_API_PORT": str(free_port())})
    assert proc.returncode == 2
    assert "SOC_API_SECRET_KEY" in proc.stderr


def test_up_detached_with_demo_data_then_down(tmp_path: Path, es_url: str, store: Store, prefix: str) -> None:
    port = free_port()
    # No secrets given: demo mode generates them once under the data directory, and later CLI
    # commands sign and verify the audit chain with the same key.
    env = {"SOC_ES_URL": es_url, "SOC_DATA_DIR": str(tmp_path), "SOC_API_PORT": str(port),
           "SOC_INDEX_PREFIX": prefix}
    started = soc("up", "--detach", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    pid = int((tmp_path / "run" / "soc-up.pid").read_text())
    # The initial admin password reaches this terminal only: not the (owner-only) log file.
    shown = re.search(r"admin / (\S+?)[（ (]", started.stdout)
    log_file = tmp_path / "run" / "soc-up.log"
    assert shown, started.stdout
    assert shown.group(1) not in log_file.read_text() and oct(log_file.stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "run" / "initial-credentials").exists()
    # So do the demo users' passwords, once each.
    demo = dict(re.findall(r"(?:Demo user|演示用户) (\w+) / (\S+)", started.stdout))
    assert set(demo) >= {"analyst", "auditor", "sysadmin"}, started.stdout
    assert not any(pw in log_file.read_text() for pw in demo.values())
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as resp:
            health = json.loads(resp.read())
        assert health["elasticsearch"]["reachable"] is True
        store.refresh(f"{prefix}-events-*")
        assert store.count(f"{prefix}-events-system.auth-*", {"term": {"source.ip": "203.0.113.50"}}) >= 30
        assert store.count(f"{prefix}-events-network.flow-*") > 500
        assert store.count(f"{prefix}-rules") >= 10
        # demo personal information arrives masked (ID numbers) or tagged (mobile numbers)
        assert store.count(f"{prefix}-events-*", {"term": {"pii.types": "cn_ric"}}) >= 200
        assert store.count(f"{prefix}-events-*", {"term": {"pii.actions": "mask"}}) >= 200
        created = soc("users", "create", "cli-made-analyst", "--role", "analyst", "--json", env=env)
        assert created.returncode == 0, created.stderr
        verified = soc("audit", "verify", "--json", env=env)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        report = json.loads(verified.stdout)
        assert report["ok"] is True and report["records"]["elasticsearch"] >= 5
    finally:
        stopped = soc("down", env=env)
    assert stopped.returncode == 0, stopped.stderr
    deadline = time.monotonic() + 30
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_config_show_lists_several_nodes_without_credentials(tmp_path: Path) -> None:
    env = {"SOC_DATA_DIR": str(tmp_path), "SOC_ES_URL": "http://es1:9200,http://ops:pw-9876@es2:9200"}
    proc = soc("config", "show", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["es"]["url"] == "http://es1:9200,http://******@es2:9200"
    assert "pw-9876" not in proc.stdout
    bad = soc("config", "show", env={**env, "SOC_ES_URL": "http://es1:9200,es2"})
    assert bad.returncode == 2
    assert "es.url" in bad.stderr and "'es2' is not an http(s)://host[:port] URL" in bad.stderr
    assert "Traceback" not in bad.stderr
