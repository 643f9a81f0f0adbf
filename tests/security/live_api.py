"""A real API server process (``tests.e2e.server`` under uvicorn) and the real ``soc`` CLI in
another process, sharing one Elasticsearch prefix: what crosses process boundaries is tested
across them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest

from api.identity.service import IdentityService
from core.auditing import Actor, MemoryAuditor
from core.es import Store
from core.settings import Settings
from tests.conftest import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Live#Session2026x"


@dataclass
class LiveApi:
    settings: Settings
    store: Store
    env: dict[str, str]
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child holds it; closed with the process
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.server", "--port", str(self.port)],
                                     cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"API server exited: {self.log_path.read_text()[-3000:]}", pytrace=False)
            try:
                if self.client.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"API server did not answer: {self.log_path.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(f"{self.url}{path}", **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.post(f"{self.url}{path}", **kwargs)  # type: ignore[arg-type]

    def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        resp = self.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert resp.status_code == 200, resp.text
        return {"authorization": f"Bearer {resp.json()['token']}"}

    def cli(self, *args: str) -> tuple[int, str]:
        """``soc --json ARGS`` in its own process."""
        done = subprocess.run([sys.executable, "-m", "soc", "--json", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout + done.stderr

    def cli_json(self, *args: str) -> object:
        code, out = self.cli(*args)
        assert code == 0, out
        return json.loads(out)


def make_users(settings: Settings, store: Store, users: dict[str, str]) -> None:
    """Users with a known password, already changed (no first-login step)."""
    identity = IdentityService(settings, store, MemoryAuditor())
    operator = Actor("test-setup", "cli")
    for username, role in users.items():
        identity.users.create_user(username, role, actor=operator, password=PASSWORD)
        identity.records.save(replace(identity.records.require(username)[0], must_change_password=False))


@pytest.fixture
def live_api(settings: Settings, store: Store, tmp_path: Path) -> Iterator[LiveApi]:
    env = {**os.environ, "SOC_ES_URL": settings.es_url, "SOC_INDEX_PREFIX": settings.index_prefix,
           "SOC_DATA_DIR": str(settings.data_dir), "SOC_API_SECRET_KEY": TEST_SECRET,
           "SOC_AUDIT_SECRET_KEY": TEST_SECRET, "SOC_API_LOGIN_FAILURES_PER_MINUTE": "1000"}
    api = LiveApi(settings=settings, store=store, env=env, port=free_port(), log_path=tmp_path / "api.log")
    api.start()
    try:
        yield api
    finally:
        api.stop()
        api.client.close()
