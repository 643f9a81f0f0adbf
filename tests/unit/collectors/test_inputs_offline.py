"""File tailing and the TLS syslog listener without Elasticsearch (events captured in memory)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from collectors.counters import Counters
from collectors.inputs.files import create_input as create_file_input
from collectors.inputs.syslog_server import create_input as create_syslog_input
from collectors.models import Event
from collectors.registry import InputContext
from tests.conftest import free_port


def _ctx(tmp: Path, name: str, sink: list[Event]) -> InputContext:
    def emit(_name: str, events: Sequence[Event], _block: bool) -> bool:
        sink.extend(events)
        return True

    state = tmp / "state" / name
    state.mkdir(parents=True, exist_ok=True)
    return InputContext(name=name, type="test", settings=None, state_dir=state, counters=Counters(), emit_fn=emit)


def _wait(predicate, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_start_at_end_late_files_and_restart_from_checkpoint(tmp_path: Path) -> None:
    old = tmp_path / "old.log"
    old.write_text("Nov 26 10:00:00 h app[1]: before start\n")
    cfg = {"name": "t", "type": "file", "paths": [str(tmp_path / "*.log")], "start": "end", "parser": "plain"}
    sink: list[Event] = []
    inp = create_file_input(cfg, _ctx(tmp_path, "t", sink))
    stop = threading.Event()
    inp.poll(stop)
    assert sink == []  # start: end skips what was there
    with old.open("a") as fh:
        fh.write("appended line\n")
    (tmp_path / "new.log").write_text("a file that appeared later\n")
    inp.poll(stop)
    assert sorted(e.doc["message"] for e in sink) == ["a file that appeared later", "appended line"]
    # A new instance resumes from the saved checkpoints: nothing is read twice.
    with old.open("a") as fh:
        fh.write("after restart\n")
    again: list[Event] = []
    inp2 = create_file_input(cfg, _ctx(tmp_path, "t", again))
    inp2.poll(stop)
    assert [e.doc["message"] for e in again] == ["after restart"]
    assert inp2.ctx.counters.get("t", "read") == 1


def test_tls_syslog(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    port = free_port()
    sink: list[Event] = []
    inp = create_syslog_input({"name": "tls", "type": "syslog", "protocol": "tcp", "port": port,
                               "tls_cert": str(cert), "tls_key": str(key)}, _ctx(tmp_path, "tls", sink))
    stop = threading.Event()
    thread = threading.Thread(target=inp.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert inp.bound.wait(10)
        client = ssl.create_default_context(cafile=str(cert))
        client.check_hostname = False
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                client.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"<13>Nov 26 10:00:00 host app[1]: over tls\n")
        with socket.create_connection(("127.0.0.1", port)) as plain:
            plain.sendall(b"<13>Nov 26 10:00:00 host app[2]: not tls\n")  # refused by the handshake
        _wait(lambda: len(sink) >= 1)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(10)
    assert [e.doc["message"] for e in sink] == ["over tls"]
    assert sink[0].doc["log"]["source"]["address"].startswith("127.0.0.1:")
