"""Shared fixtures.

One Elasticsearch for the whole session: the managed node started on free ports in a
temporary data directory (the real launcher, as users run it), or the cluster named by
``SOC_TEST_ES_URL``. If it cannot start, every test that needs it fails with the reason;
nothing is skipped. Each test gets its own index prefix and its indices are removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.es import Store
from core.node import ManagedNode
from core.settings import Settings, load_settings


def _shared() -> Path:
    """The development data (``../shared``): ``SOC_SHARED_DIR``, else beside this checkout, else
    beside the repository this one was cloned from (a fresh clone in a temporary directory)."""
    if os.environ.get("SOC_SHARED_DIR"):
        return Path(os.environ["SOC_SHARED_DIR"])
    checkout = Path(__file__).resolve().parents[1]
    beside = checkout.parent / "shared"
    if beside.is_dir():
        return beside
    origin = subprocess.run(["git", "-C", str(checkout), "remote", "get-url", "origin"],  # noqa: S603, S607
                            capture_output=True, text=True, check=False).stdout.strip()
    if origin and Path(origin).is_dir():
        return Path(origin).resolve().parent / "shared"
    return beside


SHARED = _shared()
TEST_SECRET = "test-secret-" + "x" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_data_dir() -> Path:
    """A data directory for a ManagedNode started by a test.

    Not under pytest's ``tmp_path``: pytest keeps ``/tmp/pytest-of-<user>`` at mode 0700 (and
    resets it whenever any pytest session starts), which the unprivileged ``soc-es`` user that
    runs Elasticsearch for root cannot traverse. Remove it with ``shutil.rmtree`` when done.
    """
    path = Path(tempfile.mkdtemp(prefix="soc-test-node-"))
    path.chmod(0o755)
    return path


class _EsHandle:
    def __init__(self) -> None:
        self.url: str | None = None
        self.error: str | None = None
        self.node: ManagedNode | None = None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert SHARED.is_dir(), f"shared test data not found at {SHARED}"
    return SHARED


@pytest.fixture(scope="session")
def es_handle() -> Iterator[_EsHandle]:
    handle = _EsHandle()
    external = os.environ.get("SOC_TEST_ES_URL")
    if external:
        handle.url = external
        yield handle
        return
    data_dir = node_data_dir()
    port = free_port()
    tport = free_port()
    settings = load_settings(data_dir=data_dir, es={"port": port, "transport_port": tport, "heap": "1g"})
    node = ManagedNode(settings)
    handle.node = node
    try:
        node.start(log=lambda _m: None)
        handle.url = node.url
    except Exception as exc:  # reported by every test that needs it
        handle.error = f"managed Elasticsearch could not start: {exc}"
    yield handle
    node.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def es_url(es_handle: _EsHandle) -> str:
    if es_handle.error or not es_handle.url:
        pytest.fail(es_handle.error or "no Elasticsearch", pytrace=False)
    return es_handle.url


@pytest.fixture(scope="session")
def session_store(es_url: str) -> Iterator[Store]:
    store = Store.from_url(es_url, request_timeout=60)
    store.check()
    yield store
    store.close()


@pytest.fixture
def prefix(session_store: Store) -> Iterator[str]:
    """A unique index prefix for one test; everything under it is deleted afterwards."""
    p = "t" + uuid.uuid4().hex[:10]
    yield p
    session_store.delete_indices(f"{p}-*")
    session_store.delete_index_templates(f"{p}-*")


@pytest.fixture
def store(session_store: Store) -> Store:
    return session_store


@pytest.fixture
def settings(tmp_path: Path, prefix: str, es_url: str) -> Settings:
    """Settings for a test that talks to Elasticsearch: own prefix, own data directory."""
    return load_settings(
        data_dir=tmp_path / "data",
        index_prefix=prefix,
        es={"url": es_url},
        api={"secret_key": TEST_SECRET},
        audit={"secret_key": TEST_SECRET},
    )


@pytest.fixture
def offline_settings(tmp_path: Path) -> Settings:
    """Settings for unit tests that need no Elasticsearch."""
    return load_settings(
        data_dir=tmp_path / "data",
        index_prefix="unit",
        es={"url": "http://127.0.0.1:9"},
        api={"secret_key": TEST_SECRET},
        audit={"secret_key": TEST_SECRET},
    )


def pytest_configure(config: pytest.Config) -> None:
    # As root the audit trail marks its files append-only (chattr +a); test data directories must
    # stay removable, so only the tests of that attribute turn it on (subprocesses inherit this).
    os.environ.setdefault("SOC_AUDIT_APPEND_ONLY", "false")
