"""Live capture on loopback: DNS and HTTP traffic to servers we start, events found in Elasticsearch."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from collectors.counters import Counters
from collectors.models import Event
from collectors.registry import InputContext, resolve
from collectors.service import ship_events
from core.es import Store
from core.schema import events_pattern
from core.settings import Settings
from tests.conftest import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[3]


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        body = b"hello from the test server\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def _dns_server(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            query, peer = sock.recvfrom(512)
        except TimeoutError:
            continue
        except OSError:
            return  # socket closed by the fixture
        ident = query[:2]
        question = query[12:]
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("192.0.2.55")
        sock.sendto(ident + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + answer, peer)


@pytest.fixture
def servers() -> Iterator[tuple[str, int, int]]:
    """(DNS address on port 53, its port, HTTP port), all on loopback."""
    dns_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns_ip = f"127.{os.getpid() % 200 + 20}.0.53"
    dns_port = 53
    try:
        dns_sock.bind((dns_ip, dns_port))
    except OSError:
        dns_port = 5355  # LLMNR port: also DNS on the wire
        dns_sock.bind((dns_ip, dns_port))
    http = ThreadingHTTPServer(("127.0.0.1", free_port()), _Hello)
    stop = threading.Event()
    threads = [threading.Thread(target=_dns_server, args=(dns_sock, stop), daemon=True),
               threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        yield dns_ip, dns_port, http.server_address[1]
    finally:
        stop.set()
        http.shutdown()
        http.server_close()
        threads[0].join(timeout=2)
        dns_sock.close()


def _query(server: str, port: int, name: str) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(b"\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00\x01\x00\x01", (server, port))
        return sock.recv(512)


def test_live_capture_dns_and_http_reach_elasticsearch(servers: tuple[str, int, int], settings: Settings,
                                                       store: Store, tmp_path: Path) -> None:
    dns_ip, dns_port, http_port = servers
    collected: list[Event] = []
    lock = threading.Lock()

    def emit(_name: str, events: Sequence[Event], _block: bool) -> bool:
        with lock:
            collected.extend(events)
        return True

    counters = Counters()
    ctx = InputContext(name="wire", type="pcap_live", settings=settings, state_dir=tmp_path, counters=counters,
                       emit_fn=emit)
    capture = resolve("pcap_live")({"type": "pcap_live", "interface": "lo",
                                    "filter": f"host {dns_ip} or tcp port {http_port}"}, ctx)
    stop = threading.Event()
    runner = threading.Thread(target=capture.run, args=(stop,), daemon=True)
    runner.start()
    try:
        reply = _query(dns_ip, dns_port, "live-test.qinglang.example")
        assert reply[:2] == b"\x42\x42"
        request = urllib.request.Request(f"http://127.0.0.1:{http_port}/live/check?probe=1",
                                         headers={"User-Agent": "qinglang-live-test"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with lock:
                datasets = {e.dataset for e in collected}
            if {"network.dns", "network.http"} <= datasets:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        runner.join(timeout=10)
    assert not runner.is_alive()
    assert counters.get("wire", "read") >= 6
    summary = ship_events(settings, store, list(collected), source="pcap_live")
    assert summary.failed == 0 and summary.shipped == len(collected)
    store.refresh(f"{settings.index_prefix}-events-*")
    dns = store.search(events_pattern(settings.index_prefix, "network.dns"),
                       {"query": {"term": {"dns.question.name": "live-test.qinglang.example"}}})["hits"]["hits"]
    assert dns and dns[0]["_source"]["dns"]["resolved_ip"] == ["192.0.2.55"]
    assert dns[0]["_source"]["destination"]["port"] == dns_port
    assert dns[0]["_source"]["observer"]["ingress"]["interface"]["name"] == "lo"
    http = store.search(events_pattern(settings.index_prefix, "network.http"),
                        {"query": {"term": {"url.original": "/live/check?probe=1"}}})["hits"]["hits"]
    assert http and http[0]["_source"]["http"]["response"]["status_code"] == 200
    assert http[0]["_source"]["user_agent"]["original"] == "qinglang-live-test"
    flows = store.search(events_pattern(settings.index_prefix, "network.flow"),
                         {"query": {"term": {"destination.port": http_port}}})["hits"]["hits"]
    connection = flows[0]["_source"]["zeek"]["connection"] if flows else {}
    # established and closed; urllib may close with a RST, so SF or RSTO/RSTR
    assert connection.get("history", "").startswith("ShAD"), connection
    assert connection["conn_state"] in ("SF", "RSTO", "RSTR"), connection


def test_capture_without_privileges_is_a_clear_error() -> None:
    assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop CAP_NET_RAW"
    script = (
        "from collectors.network.live import live_capture\n"
        "from core.errors import PermissionDenied\n"
        "try:\n"
        "    live_capture({'interface': 'lo'}, lambda events: True).open()\n"
        "except PermissionDenied as exc:\n"
        "    print('DENIED', exc.message)\n"
    )
    # root without CAP_NET_RAW/CAP_NET_ADMIN in its bounding set: what an unprivileged user gets
    proc = subprocess.run(["setpriv", "--bounding-set", "-net_raw,-net_admin", "--", sys.executable, "-c", script],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert "DENIED" in proc.stdout, proc.stderr[-2000:]
    assert "CAP_NET_RAW" in proc.stdout


def test_bad_interface_and_filter_are_invalid_input() -> None:
    from collectors.network.live import live_capture
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="does not exist"):
        live_capture({"interface": "no-such-if0"}, lambda events: True).open()
    with pytest.raises(InvalidInput, match="BPF"):
        live_capture({"interface": "lo", "filter": "this is not bpf ((("}, lambda events: True).open()
    with pytest.raises(InvalidInput, match="interface"):
        live_capture({"interfac": "lo"}, lambda events: True)


def test_soc_collect_run_with_a_pcap_live_input(servers: tuple[str, int, int], es_url: str, store: Store,
                                                prefix: str, tmp_path: Path) -> None:
    _dns_ip, _dns_port, http_port = servers
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("inputs:\n"
                      f"  - {{name: wire, type: pcap_live, interface: lo, filter: 'tcp port {http_port}'}}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOC_")}
    env.update({"SOC_ES_URL": es_url, "SOC_DATA_DIR": str(tmp_path / "data"), "SOC_INDEX_PREFIX": prefix,
                "SOC_AUDIT_SECRET_KEY": TEST_SECRET})
    daemon = subprocess.Popen([sys.executable, "-m", "soc", "collect", "run", "--inputs", str(inputs)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pattern = events_pattern(prefix, "network.http")
    try:
        found = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not found:
            assert daemon.poll() is None, daemon.communicate()[1][-2000:]
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/daemon/{int(time.monotonic())}",
                                        timeout=5) as response:
                assert response.status == 200
            time.sleep(1.0)
            if store.list_indices(pattern):
                store.refresh(pattern)
                found = store.count(pattern, {"prefix": {"url.original": "/daemon/"}})
        assert found >= 1
    finally:
        daemon.send_signal(15)
        _out, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err[-2000:]
    store.refresh(f"{prefix}-events-*")
    # open flows are ended and shipped when the daemon stops
    assert store.count(events_pattern(prefix, "network.flow"), {"term": {"destination.port": http_port}}) >= 1
