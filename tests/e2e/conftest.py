"""Browser tests: the real API (uvicorn subprocess) on the real Elasticsearch, driven through
Debian's Chromium by Playwright (the system browser; nothing is downloaded at test time).

One API server and one index prefix serve the whole e2e session (starting them is the slow
part); each test gets a fresh browser context, so sessions never leak between tests.
Screenshots go to ``artifacts/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from core.auditing import Actor
from core.es import Store
from core.settings import Settings, load_settings
from tests.conftest import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
INITIAL_PASSWORD = "Initial#Pass2026x"
PASSWORD = "Console#Works2026y"

# The machine is shared and every API write waits for a refresh: give assertions room.
expect.set_options(timeout=15_000)

DEPARTMENTS = (("jiaowei", "教委", "Education Commission"), ("weijianwei", "卫健委", "Health Commission"))
# username -> role; "newbie" keeps the initial password so the first-login change is tested.
USERS = {"ana": "analyst", "aud": "auditor", "sam": "sysadmin", "adm": "admin", "newbie": "analyst",
         "victim": "analyst"}


@dataclass
class Console:
    url: str
    settings: Settings
    store: Store
    prefix: str

    def api_token(self, username: str, password: str = PASSWORD) -> str:
        resp = httpx.post(f"{self.url}/api/v1/auth/login", json={"username": username, "password": password})
        resp.raise_for_status()
        return str(resp.json()["token"])

    def ensure_departments(self) -> None:
        """教委 and 卫健委, made by the admin through the API (or already made by another test of
        this console: each test file sets up what it needs, whatever ran before on its worker)."""
        headers = {"authorization": f"Bearer {self.api_token('adm')}"}
        for dept_id, zh, en in DEPARTMENTS:
            resp = httpx.post(f"{self.url}/api/v1/departments", headers=headers,
                              json={"id": dept_id, "name_zh": zh, "name_en": en})
            assert resp.status_code in (201, 409), resp.text


def _create_users(settings: Settings, store: Store) -> None:
    from api.identity.service import IdentityService
    from audit.trail import AuditTrail

    identity = IdentityService(settings, store, AuditTrail(settings, store))
    cli = Actor(name="e2e-setup", role="cli")
    for username, role in USERS.items():
        identity.create_user(username, role, actor=cli, password=INITIAL_PASSWORD)
        if username == "newbie":
            continue
        result = identity.login(username, INITIAL_PASSWORD)
        identity.change_password(identity.authenticate_token(result.token), INITIAL_PASSWORD, PASSWORD)


def _remove_snapshot_repositories(store: Store, prefix: str) -> None:
    """Drills and backups register repositories and write under path.repo; leave nothing behind."""
    import shutil

    from backup_orchestrator import es_snapshots

    for repo in store.request("GET", "/_snapshot/_all") or {}:
        if repo.startswith(f"{prefix}-"):
            es_snapshots.unregister(store, repo)
    store.delete_indices(f"drill-*-{prefix}-*")
    for root in es_snapshots.path_repo(store):
        shutil.rmtree(root / prefix, ignore_errors=True)


@pytest.fixture(scope="session")
def console(session_store: Store, es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    prefix = "e2e" + uuid.uuid4().hex[:8]
    data_dir = tmp_path_factory.mktemp("console-data")
    settings = load_settings(data_dir=data_dir, index_prefix=prefix, es={"url": es_url},
                             api={"secret_key": TEST_SECRET}, audit={"secret_key": TEST_SECRET})
    _create_users(settings, session_store)
    port = free_port()
    env = {**os.environ, "SOC_ES_URL": es_url, "SOC_INDEX_PREFIX": prefix, "SOC_DATA_DIR": str(data_dir),
           "SOC_API_SECRET_KEY": TEST_SECRET, "SOC_AUDIT_SECRET_KEY": TEST_SECRET}
    log = open(data_dir / "api.log", "wb")  # noqa: SIM115 - closed in the teardown below
    proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.server", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"API server exited: {(data_dir / 'api.log').read_text()[-3000:]}", pytrace=False)
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"API server did not answer: {(data_dir / 'api.log').read_text()[-3000:]}", pytrace=False)
            time.sleep(0.2)
        yield Console(url=url, settings=settings, store=session_store, prefix=prefix)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
        _remove_snapshot_repositories(session_store, prefix)
        session_store.delete_indices(f"{prefix}-*")
        session_store.delete_index_templates(f"{prefix}-*")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(15000)
    yield ctx
    ctx.close()


@pytest.fixture
def context_errors(context: BrowserContext) -> list[str]:
    return []


@pytest.fixture
def page(context: BrowserContext, context_errors: list[str]) -> Iterator[Page]:
    pg = context.new_page()
    # Script errors in the console are test failures: collect them and check after the test.
    pg.on("pageerror", lambda exc: context_errors.append(str(exc)))
    yield pg
    assert not context_errors, f"JavaScript errors in the console: {context_errors}"


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_ready(page: Page, name: str) -> None:
    page.wait_for_selector(f"main[data-ready='{name}']")


def open_page(page: Page, console: Console, name: str) -> None:
    page.goto(f"{console.url}/console/#/{name}")
    wait_ready(page, name)


def login(page: Page, console: Console, username: str, password: str = PASSWORD, *, expect: str | None = None) -> None:
    page.goto(f"{console.url}/console/")
    wait_ready(page, "login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    if expect:
        wait_ready(page, expect)
