"""`soc collect pcap` into a real Elasticsearch, and SigmaHQ zeek rules (ecs_zeek_beats) on the result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sigma.backends.elasticsearch import LuceneBackend
from sigma.collection import SigmaCollection
from sigma.pipelines.elasticsearch import ecs_zeek_beats
from sigma.processing.conditions import IncludeFieldCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ReplaceStringTransformation

from collectors.network.ecs import ZEEK_SERVICE_DATASETS
from collectors.network.service import import_pcaps
from core.es import Store
from core.schema import events_pattern
from core.settings import Settings
from tests.unit.network import pcapgen as g

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ["dns/dns-tcp-www-google-com/dns.pcap", "bug-4810/pppoe-session-http.pcap",
           "tls/tls-subjectaltname/input.pcap", "arp/detect-arp-03-vlan/input.pcap", "dns-over-http2-post/dns_over_https_POST.pcap"]


def _soc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SOC_")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "soc", *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=300, check=False)


def _samples(shared_dir: Path) -> list[str]:
    return [str(shared_dir / "pcaps" / "tests" / name) for name in SAMPLES]


def test_cli_import_then_reimport_adds_nothing(shared_dir: Path, es_url: str, store: Store, prefix: str,
                                               tmp_path: Path) -> None:
    env = {"SOC_ES_URL": es_url, "SOC_DATA_DIR": str(tmp_path / "data"), "SOC_INDEX_PREFIX": prefix}
    paths = _samples(shared_dir)
    first = _soc("collect", "pcap", *paths, "--json", env=env)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    print({k: summary[k] for k in ("packets", "flows", "events", "parse_errors", "shipped", "seconds")})
    assert summary["packets"] > 500 and summary["flows"] > 5
    assert summary["shipped"] == summary["total_events"] > 100
    for dataset in ("network.flow", "network.dns", "network.http", "network.tls", "network.arp"):
        assert summary["events"].get(dataset), dataset
    store.refresh(f"{prefix}-events-*")
    for dataset, n in summary["events"].items():
        assert store.count(events_pattern(prefix, dataset)) == n, dataset
    hit = store.search(events_pattern(prefix, "network.dns"),
                       {"query": {"term": {"dns.question.name": "www.google.com"}}, "size": 1})["hits"]["hits"]
    assert hit and hit[0]["_source"]["event"]["dataset"] == "network.dns"
    tls = store.search(events_pattern(prefix, "network.tls"),
                       {"query": {"exists": {"field": "tls.client.ja4"}}, "size": 1})["hits"]["hits"]
    assert tls and tls[0]["_source"]["tls"]["client"]["ja3"]
    tls_flow = store.search(events_pattern(prefix, "network.flow"),
                            {"query": {"term": {"zeek.connection.service": "ssl"}}, "size": 1})["hits"]["hits"]
    assert tls_flow and tls_flow[0]["_source"]["network"]["protocol"] == "tls"
    assert tls_flow[0]["_source"]["network"]["community_id"].startswith("1:")
    mapping = store.get_mapping(f"{prefix}-events-network.flow-*")
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert props["id"]["properties"]["resp_h"]["type"] == "ip"
    assert props["event"]["properties"]["duration"]["type"] == "long"

    again = _soc("collect", "pcap", *paths, "--json", env=env)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["shipped"] == 0 and second["duplicates"] == summary["total_events"]
    store.refresh(f"{prefix}-events-*")
    assert store.count(events_pattern(prefix)) == summary["total_events"]

    human = _soc("collect", "pcap", paths[0], env={**env, "SOC_LANGUAGE": "en"})
    assert human.returncode == 0 and "packets" in human.stdout and "parse errors" in human.stdout


def test_missing_path_and_bad_file_are_reported(es_url: str, prefix: str, tmp_path: Path, shared_dir: Path) -> None:
    env = {"SOC_ES_URL": es_url, "SOC_DATA_DIR": str(tmp_path / "data"), "SOC_INDEX_PREFIX": prefix}
    proc = _soc("collect", "pcap", str(tmp_path / "nope.pcap"), env=env)
    assert proc.returncode != 0 and "Check the paths" in proc.stderr
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"definitely not a capture")
    proc = _soc("collect", "pcap", str(junk), _samples(shared_dir)[0], "--json", env=env)
    summary = json.loads(proc.stdout)
    assert proc.returncode == 1  # one file skipped: scripts notice, the other file is imported
    assert summary["file_errors"] and "junk.pcap" in summary["file_errors"][0]
    assert summary["shipped"] == summary["total_events"] > 0


def _zeek_rule_query(rule_file: Path) -> str:
    rewrite = ProcessingPipeline(name="zeek datasets → network datasets", priority=30, items=[
        ProcessingItem(identifier=f"dataset_{zeek}",
                       transformation=ReplaceStringTransformation(regex=f"^{zeek.replace('.', '[.]')}$",
                                                                  replacement=ours),
                       field_name_conditions=[IncludeFieldCondition(fields=["event.dataset"])])
        for zeek, ours in ZEEK_SERVICE_DATASETS.items()])
    [query] = LuceneBackend(ecs_zeek_beats() + rewrite).convert(SigmaCollection.from_yaml(rule_file.read_text()))
    return str(query)


def test_sigmahq_zeek_rules_fire_on_our_events(shared_dir: Path, settings: Settings, store: Store,
                                                tmp_path: Path) -> None:
    client, server, resolver = "10.20.0.7", "203.0.113.80", "10.20.0.1"
    request = (b"GET /share/payload.exe HTTP/1.1\r\nHost: files.example.net\r\n"
               b"User-Agent: Microsoft-WebDAV-MiniRedir/10.0.19045\r\n\r\n")
    frames = g.handshake(client, 49800, server, 80, 100.0)
    frames += [(100.01, g.tcp(client, 49800, server, 80, g.ACK | g.PSH, seq=1001, ack=5001, payload=request)),
               (100.05, g.tcp(server, 80, client, 49800, g.ACK | g.PSH, seq=5001, ack=1001 + len(request),
                              payload=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))]
    frames += [(101.0, g.udp(client, 53001, resolver, 53, g.dns_query(1, "pool.supportxmr.com"))),
               (101.1, g.udp(client, 53002, resolver, 53, g.dns_query(2, "www.example.com"))),
               (101.2, g.udp(client, 53003, resolver, 53, g.dns_query(3, "odd.example.org", flags=0x0140)))]
    pcap = g.write_pcap(tmp_path / "sigma.pcap", frames)
    summary = import_pcaps(settings, store, [pcap])
    assert summary.failed == 0 and summary.shipped == summary.capture.total_events
    store.refresh(f"{settings.index_prefix}-events-*")
    rules = shared_dir / "sigma" / "rules" / "network" / "zeek"
    expected = {"zeek_http_executable_download_from_webdav.yml": ["/share/payload.exe"],
                "zeek_dns_mining_pools.yml": ["pool.supportxmr.com"],
                "zeek_dns_susp_zbit_flag.yml": ["odd.example.org"]}
    for rule, wanted in expected.items():
        query = _zeek_rule_query(rules / rule)
        hits = store.search(events_pattern(settings.index_prefix),
                            {"query": {"query_string": {"query": query}}, "size": 20})["hits"]["hits"]
        found = sorted(h["_source"].get("url", {}).get("original") or h["_source"]["dns"]["question"]["name"]
                       for h in hits)
        print(f"{rule}: {found}  <- {query[:120]}")
        assert found == wanted, (rule, query)
