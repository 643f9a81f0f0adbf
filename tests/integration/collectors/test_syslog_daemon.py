"""The syslog server inside the daemon: TCP (both framings), UDP, hostile senders, status and
Prometheus counters."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from prometheus_client import generate_latest

from collectors import service
from collectors.counters import metrics_registry
from core.es import Store
from core.settings import Settings
from tests.conftest import free_port
from tests.integration.collectors.helpers import count, wait_for, write_inputs
from tests.integration.collectors.test_rotation import daemon


def _send_tcp(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)


def test_syslog_tcp_udp_and_hostile_senders(settings: Settings, store: Store, prefix: str, tmp_path: Path) -> None:
    tcp_port, udp_port = free_port(), free_port()
    inputs = write_inputs(tmp_path / "inputs.yaml", [
        {"name": "tcp", "type": "syslog", "protocol": "tcp", "port": tcp_port},
        {"name": "udp", "type": "syslog", "protocol": "udp", "port": udp_port},
    ])
    rfc5424 = b"<34>1 2026-11-26T10:00:00.003Z web1 su - ID47 - 'su root' failed for lonvick on /dev/pts/8"
    with daemon(settings, store, inputs):
        wait_for(lambda: _listening(tcp_port), 20, "the TCP listener")
        _send_tcp(tcp_port, b"<38>Nov 26 10:00:00 host1 sshd[11]: Failed password for root from 10.9.8.7 port 4242 ssh2\n"
                  + b"<13>Nov 26 10:00:01 host1 app[12]: second newline-framed message\n")
        _send_tcp(tcp_port, str(len(rfc5424)).encode() + b" " + rfc5424
                  + b"27 <13>Nov 26 10:00:02 h a: ok")
        _send_tcp(tcp_port, b"<999>Nov 26 10:00:03 host1 app[13]: bad priority\n<abc>garbage\n"
                  + bytes(range(1, 10)) + b"\xff\xfe\n")
        # Half a frame, then the client goes away.
        _send_tcp(tcp_port, b"120 <13>Nov 26 10:00:04 host1 app[14]: only part of it")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"<13>Nov 26 10:00:05 host2 app[15]: over udp", ("127.0.0.1", udp_port))
            udp.sendto(b"\x00\x01\x02 binary datagram", ("127.0.0.1", udp_port))
        # The server keeps serving after all that.
        _send_tcp(tcp_port, b"<13>Nov 26 10:00:06 host1 app[16]: still alive\n")
        wait_for(lambda: count(store, prefix) >= 11, 30, "11 documents")
        wait_for(lambda: service.collector_status(settings)["inputs"].get("tcp", {}).get("shipped", 0) >= 8, 10,
                 "the status file")
        status = service.collector_status(settings)
        metrics = generate_latest(metrics_registry(settings)).decode()
    index = f"{prefix}-events-*"
    store.refresh(index)
    assert store.count(index) == 11
    auth = store.search(index, {"query": {"term": {"process.pid": 11}}})["hits"]["hits"][0]["_source"]
    assert auth["event"]["dataset"] == "system.auth"
    assert auth["event"]["outcome"] == "failure" and auth["source"]["ip"] == "10.9.8.7"
    assert auth["log"]["syslog"]["facility"]["name"] == "auth"
    assert auth["log"]["source"]["address"].startswith("127.0.0.1:")
    su = store.search(index, {"query": {"term": {"host.hostname": "web1"}}})["hits"]["hits"][0]["_source"]
    assert su["process"]["name"] == "su" and su["@timestamp"] == "2026-11-26T10:00:00.003Z"
    partial = store.search(index, {"query": {"match_phrase": {"message": "only part of it"}}})["hits"]["hits"]
    assert "middle of a frame" in partial[0]["_source"]["error"]["message"]
    assert store.count(index, {"match_phrase": {"error.message": "invalid syslog priority"}}) == 2
    assert store.count(index, {"match_phrase": {"message": "still alive"}}) == 1
    assert status["running"] is True
    assert status["inputs"]["tcp"]["read"] == 9 and status["inputs"]["udp"]["read"] == 2
    assert status["inputs"]["tcp"]["parse_failures"] >= 3
    assert 'qinglang_collect_shipped_total{input="udp",type="syslog"} 2.0' in metrics
    assert "qinglang_collect_up 1.0" in metrics
    time.sleep(0.1)
    assert service.collector_status(settings)["running"] is False


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_journald_input_follows_and_saves_its_cursor(settings: Settings, store: Store, prefix: str,
                                                     tmp_path: Path) -> None:
    import json
    import sys

    # A stand-in for `journalctl -o json --follow`: three entries, then it keeps running.
    fake = tmp_path / "fake_journalctl.py"
    entries = [{"__CURSOR": f"s=abc;i={i}", "__REALTIME_TIMESTAMP": str(1_700_000_000_000_000 + i),
                "_HOSTNAME": "vm", "SYSLOG_IDENTIFIER": "app", "MESSAGE": f"entry {i}"} for i in range(3)]
    fake.write_text("import sys, time\n" + "".join(f"print({json.dumps(json.dumps(e))}, flush=True)\n"
                                                   for e in entries) + "time.sleep(60)\n")
    inputs = write_inputs(tmp_path / "inputs.yaml", [
        {"name": "journal", "type": "journald", "command": [sys.executable, str(fake)]}])
    with daemon(settings, store, inputs):
        wait_for(lambda: count(store, prefix) >= 3, 30, "3 journal entries")
    cursor = Path(settings.data_dir) / "collect" / "state" / "journal" / "cursor"
    assert cursor.read_text() == "s=abc;i=2"
    store.refresh(f"{prefix}-events-*")
    assert store.count(f"{prefix}-events-journald-*") == 3
