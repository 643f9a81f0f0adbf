"""Flow records, Zeek connection states and application events from synthetic captures."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from collectors.models import Event
from collectors.network.ecs import community_id
from collectors.network.service import read_captures
from tests.unit.network import pcapgen as g

C, S = "10.1.0.5", "93.184.216.34"


def _events(tmp_path: Path, frames: list[tuple[float, bytes]], name: str = "t.pcap") -> list[Event]:
    events, _summary = read_captures([g.write_pcap(tmp_path / name, frames)])
    return events


def _by(events: list[Event], dataset: str) -> list[dict[str, Any]]:
    return [e.doc for e in events if e.dataset == dataset]


def test_conn_states(tmp_path: Path) -> None:
    frames: list[tuple[float, bytes]] = []
    # SF: handshake, data both ways, FIN both ways
    frames += g.handshake(C, 40001, S, 80, 10.0)
    frames += [(10.01, g.tcp(C, 40001, S, 80, g.ACK | g.PSH, seq=1001, ack=5001, payload=b"hello")),
               (10.02, g.tcp(S, 80, C, 40001, g.ACK | g.PSH, seq=5001, ack=1006, payload=b"hi")),
               (10.03, g.tcp(C, 40001, S, 80, g.FIN | g.ACK, seq=1006, ack=5003)),
               (10.04, g.tcp(S, 80, C, 40001, g.FIN | g.ACK, seq=5003, ack=1007)),
               (10.05, g.tcp(C, 40001, S, 80, g.ACK, seq=1007, ack=5004))]
    # S0: SYN, no answer
    frames += [(11.0, g.tcp(C, 40002, S, 81, g.SYN, seq=1))]
    # REJ: SYN answered by RST
    frames += [(12.0, g.tcp(C, 40003, S, 82, g.SYN, seq=1)),
               (12.001, g.tcp(S, 82, C, 40003, g.RST | g.ACK, seq=0, ack=2))]
    # RSTO: established, originator resets
    frames += g.handshake(C, 40004, S, 83, 13.0)
    frames += [(13.01, g.tcp(C, 40004, S, 83, g.RST, seq=1001))]
    # S1: established, still open
    frames += g.handshake(C, 40005, S, 84, 14.0)
    # OTH: midstream only
    frames += [(15.0, g.tcp(C, 40006, S, 85, g.ACK | g.PSH, seq=77, ack=88, payload=b"x"))]
    flows = {d["source"]["port"]: d for d in _by(_events(tmp_path, frames), "network.flow")}
    states = {port: d["zeek"]["connection"]["conn_state"] for port, d in flows.items()}
    assert states == {40001: "SF", 40002: "S0", 40003: "REJ", 40004: "RSTO", 40005: "S1", 40006: "OTH"}
    sf = flows[40001]
    assert sf["zeek"]["connection"]["history"] == "ShADdFf"
    assert sf["source"]["bytes"] == 5 and sf["destination"]["bytes"] == 2
    assert sf["source"]["packets"] == 5 and sf["destination"]["packets"] == 3
    assert sf["event"]["duration"] == 50_000_000
    assert sf["network"]["transport"] == "tcp" and sf["network"]["type"] == "ipv4"
    assert sf["id"] == {"orig_h": C, "orig_p": 40001, "resp_h": S, "resp_p": 80}
    assert sf["source"]["mac"] == "02-00-00-00-00-01"


def test_syn_ack_first_flips_originator(tmp_path: Path) -> None:
    frames = [(1.0, g.tcp(S, 443, C, 50000, g.SYN | g.ACK, seq=9, ack=2)),
              (1.1, g.tcp(C, 50000, S, 443, g.ACK, seq=2, ack=10))]
    flow = _by(_events(tmp_path, frames), "network.flow")[0]
    assert flow["source"]["ip"] == C and flow["destination"]["port"] == 443
    assert flow["zeek"]["connection"]["history"].startswith("^")


def test_idle_timeout_splits_and_port_reuse_starts_new_flow(tmp_path: Path) -> None:
    frames = [(0.0, g.udp(C, 5000, S, 9999, b"a")), (500.0, g.udp(C, 5000, S, 9999, b"b"))]
    frames += g.handshake(C, 40010, S, 80, 1000.0, isn=100)
    frames += g.handshake(C, 40010, S, 80, 1001.0, isn=90000)  # same tuple, new ISN
    events = _events(tmp_path, frames)
    flows = _by(events, "network.flow")
    assert sum(1 for f in flows if f["network"]["transport"] == "udp") == 2
    assert sum(1 for f in flows if f["network"]["transport"] == "tcp") == 2
    assert len({e.id for e in events}) == len(events)


def test_http_reassembly_split_and_out_of_order(tmp_path: Path) -> None:
    request = (b"GET /download/file.exe?x=1 HTTP/1.1\r\nHost: example.com\r\n"
               b"User-Agent: Microsoft-WebDAV-MiniRedir/10.0\r\nReferer: http://a.example/\r\n\r\n")
    response = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\nMZ\x90\x00345678"
    a, b, c = request[:20], request[20:50], request[50:]
    frames = g.handshake(C, 40020, S, 80, 1.0)
    frames += [(1.01, g.tcp(C, 40020, S, 80, g.ACK, seq=1001, ack=5001, payload=a)),
               (1.02, g.tcp(C, 40020, S, 80, g.ACK, seq=1001 + len(a) + len(b), ack=5001, payload=c)),  # early
               (1.03, g.tcp(C, 40020, S, 80, g.ACK, seq=1001 + len(a), ack=5001, payload=b)),
               (1.04, g.tcp(C, 40020, S, 80, g.ACK, seq=1001 + len(a), ack=5001, payload=b)),  # retransmission
               (1.05, g.tcp(S, 80, C, 40020, g.ACK, seq=5001, ack=1001 + len(request), payload=response[:40])),
               (1.06, g.tcp(S, 80, C, 40020, g.ACK, seq=5041, ack=1001 + len(request), payload=response[40:]))]
    events = _events(tmp_path, frames)
    [http] = _by(events, "network.http")
    assert http["http"]["request"]["method"] == "GET"
    assert http["url"] == {"original": "/download/file.exe?x=1", "domain": "example.com", "path": "/download/file.exe",
                           "query": "x=1", "extension": "exe"}
    assert http["user_agent"]["original"] == "Microsoft-WebDAV-MiniRedir/10.0"
    assert http["http"]["response"]["status_code"] == 200
    assert http["http"]["response"]["body"]["bytes"] == 10
    assert http["http"]["response"]["mime_type"] == "application/octet-stream"
    assert http["zeek"]["http"]["resp_mime_types"] == ["application/x-dosexec"]  # sniffed like Zeek
    assert http["http"]["request"]["referrer"] == "http://a.example/"
    assert http["zeek"]["session_id"] == _by(events, "network.flow")[0]["zeek"]["session_id"]
    assert _by(events, "network.flow")[0]["network"]["protocol"] == "http"


def test_dns_pairing_and_fields(tmp_path: Path) -> None:
    frames = [(5.0, g.udp(C, 33333, "8.8.8.8", 53, g.dns_query(0x1234, "www.example.org"))),
              (5.02, g.udp("8.8.8.8", 53, C, 33333, g.dns_answer_a(0x1234, "www.example.org", "1.2.3.4", 60))),
              (6.0, g.udp(C, 33334, "8.8.8.8", 53, g.dns_query(7, "lost.example.org", qtype=28)))]
    docs = sorted(_by(_events(tmp_path, frames), "network.dns"), key=lambda d: d["@timestamp"])
    answered, lost = docs
    assert answered["dns"]["question"] == {"name": "www.example.org", "type": "A", "class": "IN"}
    assert answered["dns"]["response_code"] == "NOERROR" and answered["dns"]["type"] == "answer"
    assert answered["dns"]["answers"][0] == {"name": "www.example.org", "type": "A", "class": "IN", "ttl": 60,
                                             "data": "1.2.3.4"}
    assert answered["dns"]["resolved_ip"] == ["1.2.3.4"]
    assert answered["event"]["duration"] == 20_000_000
    assert answered["zeek"]["dns"]["qtype"] == 1 and answered["zeek"]["dns"]["Z"] == 0
    assert lost["dns"]["type"] == "query" and lost["dns"]["question"]["type"] == "AAAA"
    assert "response_code" not in lost["dns"]


def test_arp_and_ip_moving_to_another_mac(tmp_path: Path) -> None:
    other = bytes.fromhex("02000000beef")
    frames = [(1.0, g.arp(2, g.MAC_A, "10.1.0.1", g.MAC_B, "10.1.0.5")),
              (1.5, g.arp(2, g.MAC_A, "10.1.0.1", g.MAC_B, "10.1.0.5")),  # repeat within a minute: no event
              (2.0, g.arp(2, other, "10.1.0.1", g.MAC_B, "10.1.0.5"))]
    docs = _by(_events(tmp_path, frames), "network.arp")
    actions = [d["event"]["action"] for d in docs]
    assert actions.count("arp-reply") == 2 and actions.count("arp-ip-mac-changed") == 1
    moved = next(d for d in docs if d["event"]["action"] == "arp-ip-mac-changed")
    assert moved["arp"]["previous_mac"] == "02-00-00-00-00-01" and moved["source"]["mac"] == "02-00-00-00-BE-EF"


def test_icmp_echo_pairs_into_one_event(tmp_path: Path) -> None:
    echo = bytes([8, 0, 0, 0]) + b"\x00\x01\x00\x01payload"
    reply = bytes([0, 0, 0, 0]) + b"\x00\x01\x00\x01payload"
    frames = [(1.0, g.ether(g.ipv4(C, S, 1, echo))), (1.01, g.ether(g.ipv4(S, C, 1, reply)))]
    events = _events(tmp_path, frames)
    [icmp] = _by(events, "network.icmp")
    assert icmp["icmp"]["type"] == 8 and icmp["icmp"]["code"] == 0
    assert icmp["source"]["packets"] == 1 and icmp["destination"]["packets"] == 1
    assert not _by(events, "network.flow")


def test_community_id_matches_spec_vector() -> None:
    # corelight/community-id-spec baseline: TCP 128.232.110.120:34855 -> 66.35.250.204:80
    cid = community_id(6, socket.inet_aton("128.232.110.120"), socket.inet_aton("66.35.250.204"), 34855, 80)
    assert cid == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    reverse = community_id(6, socket.inet_aton("66.35.250.204"), socket.inet_aton("128.232.110.120"), 80, 34855)
    assert reverse == cid


def test_ids_are_deterministic_and_name_the_file(tmp_path: Path) -> None:
    frames = g.handshake(C, 40030, S, 80, 1.0)
    first = _events(tmp_path, frames, "a.pcap")
    again = _events(tmp_path, frames, "b.pcap")  # same bytes: same digest, same ids
    assert [e.id for e in first] == [e.id for e in again]
    other = _events(tmp_path, frames + [(9.0, g.udp(C, 1, S, 2, b"z"))], "c.pcap")
    assert not {e.id for e in first} & {e.id for e in other}


def test_rotated_directory_is_one_continuous_capture(tmp_path: Path) -> None:
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    frames = g.handshake(C, 40040, S, 80, 1.0)
    g.write_pcap(rotated / "trace.pcap0", frames[:2])
    g.write_pcap(rotated / "trace.pcap1", frames[2:] + [(2.0, g.tcp(C, 40040, S, 80, g.FIN | g.ACK, seq=1001, ack=5001)),
                                                       (2.1, g.tcp(S, 80, C, 40040, g.FIN | g.ACK, seq=5001, ack=1002))])
    (rotated / "notes.txt").write_text("not a capture")
    events, summary = read_captures([rotated])
    [flow] = _by(events, "network.flow")
    assert summary.files == [str(rotated / "trace.pcap0"), str(rotated / "trace.pcap1")]
    assert flow["zeek"]["connection"]["conn_state"] == "SF" and flow["network"]["packets"] == 5
    separately, _ = read_captures(sorted(rotated.glob("trace.*")))
    assert len(_by(separately, "network.flow")) == 2  # files given one by one are separate captures


def test_active_timeout_cuts_long_flows_into_segments(tmp_path: Path) -> None:
    from collectors.network.engine import FlowConfig

    frames = g.handshake(C, 40050, S, 22, 0.0)
    frames += [(t, g.tcp(C, 40050, S, 22, g.ACK, seq=1001 + t, ack=5001, payload=b"k")) for t in range(10, 250, 10)]
    pcap = g.write_pcap(tmp_path / "long.pcap", frames)
    events, _summary = read_captures([pcap], config=FlowConfig(active_timeout=100.0))
    flows = sorted(_by(events, "network.flow"), key=lambda d: d["zeek"]["connection"]["segment"])
    assert [f["zeek"]["connection"]["segment"] for f in flows] == [0, 1, 2]
    assert all(f["source"]["ip"] == C for f in flows)  # later segments keep the originator
    assert sum(f["network"]["packets"] for f in flows) == len(frames)


def test_vlan_tag_is_reported(tmp_path: Path) -> None:
    inner = g.ipv4(C, S, 17, b"\x13\x88\x00\x35\x00\x09\x00\x00z")
    tagged = g.MAC_B + g.MAC_A + b"\x81\x00\x00\x2a\x08\x00" + inner
    [flow] = _by(_events(tmp_path, [(1.0, tagged)]), "network.flow")
    assert flow["network"]["vlan"] == {"id": "42"} and flow["destination"]["port"] == 53
