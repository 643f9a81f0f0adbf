"""The managed node's lifecycle and its clear errors (real processes, real ports)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from core.errors import Conflict, Unavailable
from core.es import Store
from core.node import ManagedNode
from core.settings import load_settings
from tests.conftest import free_port, node_data_dir


def test_session_node_answers_and_is_8x(session_store: Store) -> None:
    info = session_store.check()
    assert info.version.startswith("8.")
    assert info.status in ("green", "yellow")


def test_port_taken_gives_clear_error(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        node = ManagedNode(load_settings(data_dir=tmp_path, es={"port": port}))
        with pytest.raises(Conflict) as err:
            node.start(log=lambda _m: None)
    assert f"Port {port}" in err.value.message
    assert "SOC_ES_PORT" in err.value.message
    assert node.pid() is None


def test_failed_start_reports_log_tail() -> None:
    # An absurd heap makes the JVM refuse to start: the error must carry the log tail.
    data_dir = node_data_dir()
    node = ManagedNode(load_settings(data_dir=data_dir, es={"port": free_port(), "heap": "900000g",
                                                               "start_timeout": 120}))
    try:
        with pytest.raises(Unavailable) as err:
            node.start(log=lambda _m: None)
        assert "exited during start-up" in err.value.message
        assert "Last log lines" in err.value.message
        assert "heap" in err.value.message.lower()
    finally:
        node.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    assert node.pid() is None


def test_unreachable_cluster_is_unavailable() -> None:
    store = Store.from_url(f"http://127.0.0.1:{free_port()}", request_timeout=2)
    with pytest.raises(Unavailable) as err:
        store.check()
    assert "SOC_ES_URL" in err.value.message


def test_node_lifecycle_as_an_ordinary_user() -> None:
    """`soc es start/status/stop` as a non-root user (as root: a dedicated test user)."""
    import json
    import os
    import pwd
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    data_dir = node_data_dir()
    user_args: dict[str, object] = {}
    if os.geteuid() == 0:
        name = "soc-test-user"
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                           check=True)
        entry = pwd.getpwnam(name)
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)
        user_args = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        # The checkout may sit below directories other users cannot enter: run a copy of it.
        copy = data_dir / "src"
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".venv", ".git", "artifacts", "*.pyc",
                                                                  "__pycache__", "node_modules"))
        root = copy
    env = {"PATH": os.environ["PATH"], "HOME": str(data_dir), "SOC_DATA_DIR": str(data_dir / "state"),
           "SOC_ES_PORT": str(free_port()), "SOC_ES_TRANSPORT_PORT": str(free_port()),
           "SOC_ES_CACHE_DIR": str(ManagedNode(load_settings()).home.parent)}

    python = sys.executable
    if user_args and not _world_executable(Path(os.path.realpath(sys.executable))):
        # A pyenv interpreter under /root is out of reach for other users: run the same code with
        # the system's Python 3.11 and this environment's packages.
        import site
        import sysconfig

        python = "/usr/bin/python3.11"
        packages = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
        for path in packages:
            _let_others_through_temp_dirs(Path(path))
        env["PYTHONPATH"] = os.pathsep.join([str(root), *packages])

    def soc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([python, "-m", "soc", *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=240, check=False, **user_args)  # type: ignore[call-overload]

    try:
        started = soc("es", "start", "--json")
        assert started.returncode == 0, started.stderr
        status = json.loads(soc("es", "status", "--json").stdout)
        assert status["healthy"] is True and status["pid"]
        pid = status["pid"]
        assert soc("es", "stop").returncode == 0
        assert json.loads(soc("es", "status", "--json").stdout)["running"] is False
        assert not Path(f"/proc/{pid}").exists()
    finally:
        soc("es", "stop")
        shutil.rmtree(data_dir, ignore_errors=True)


def _let_others_through_temp_dirs(path: Path) -> None:
    """A checkout cloned into ``mktemp -d`` (mode 0700) hides its virtualenv from the ordinary
    user: let others pass through (search, not list) those temporary directories only."""
    import tempfile

    temp = Path(tempfile.gettempdir()).resolve()
    for parent in [path, *path.parents]:
        if parent != temp and temp in parent.parents and not parent.stat().st_mode & 0o001:
            parent.chmod(parent.stat().st_mode | 0o001)


def _world_executable(path: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])
