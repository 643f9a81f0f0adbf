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
