"""Hostile captures: counted and skipped, never a crash; memory bounded."""

from __future__ import annotations

import io
import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.network.engine import FlowConfig
from collectors.network.pcapfile import ReadStats, iter_records
from collectors.network.service import CaptureReader, read_captures
from core.errors import InvalidInput
from tests.unit.network import pcapgen as g

C, S = "10.9.0.1", "10.9.0.2"


def _good_frames() -> list[tuple[float, bytes]]:
    frames = g.handshake(C, 41000, S, 80, 1.0)
    frames.append((1.01, g.tcp(C, 41000, S, 80, g.ACK, seq=1001, ack=5001, payload=b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")))
    return frames


def test_truncated_file_keeps_what_was_read(tmp_path: Path) -> None:
    path = g.write_pcap(tmp_path / "t.pcap", _good_frames())
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # cut inside the last record
    events, summary = read_captures([path])
    assert summary.packets == 3 and summary.errors_by_reason["truncated_file"] == 1
    assert summary.parse_errors >= 1
    assert any(e.dataset == "network.flow" for e in events)
    header_only = tmp_path / "h.pcap"
    header_only.write_bytes(data[:10])
    _events, summary = read_captures([header_only])
    assert summary.packets == 0 and summary.errors_by_reason["truncated_file"] == 1


def test_absurd_record_length_and_not_a_capture(tmp_path: Path) -> None:
    path = g.write_pcap(tmp_path / "a.pcap", _good_frames())
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 24 + 8, 0x7FFFFFFF)  # first record's captured length
    path.write_bytes(bytes(data))
    _events, summary = read_captures([path])
    assert summary.packets == 0 and summary.errors_by_reason["bad_record"] == 1
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture at all")
    _events, summary = read_captures([junk])
    assert summary.file_errors and "not a pcap" in summary.file_errors[0]
    with pytest.raises(InvalidInput, match="Check the paths"):
        read_captures([tmp_path / "missing.pcap"])


def test_snaplen_cut_packets_are_counted_and_decoded_as_far_as_possible(tmp_path: Path) -> None:
    frames = _good_frames() + [(2.0, g.udp(C, 5353, S, 53, g.dns_query(1, "a.very.long.name.example.com")))]
    path = g.write_pcap(tmp_path / "s.pcap", frames, snaplen=60, cut_to=60)
    events, summary = read_captures([path])
    assert summary.errors_by_reason["snaplen_cut"] >= 2
    assert any(e.dataset == "network.flow" for e in events)


def test_wrong_length_fields_and_bogus_tcp_options(tmp_path: Path) -> None:
    frames = [
        (1.0, g.ether(g.ipv4(C, S, 6, b"\x00" * 30, total_length=9000))),             # IP length > frame
        (1.1, g.ether(g.ipv4(C, S, 6, b"\x00" * 30, total_length=10))),               # IP length < header
        (1.2, g.tcp(C, 1, S, 2, g.SYN, data_offset=15)),                              # offset past segment
        (1.3, g.tcp(C, 3, S, 4, g.SYN, data_offset=2)),                               # offset < 20 bytes
        (1.4, g.tcp(C, 5, S, 6, g.SYN, options=b"\x02\xff\x08\x00\x03\x00\x00\x00")),  # lying option lengths
        (1.5, g.udp(C, 7, S, 53, g.dns_query(3, "x.example"), length=4000)),         # UDP length > datagram
        (1.6, g.ether(b"\x45")),                                                      # one byte of IPv4
        (1.7, b"\x00" * 6),                                                           # shorter than Ethernet
    ]
    events, summary = read_captures([g.write_pcap(tmp_path / "w.pcap", frames)])
    reasons = summary.errors_by_reason
    # the over-long IP packet is kept as captured; its zeroed TCP header then has offset 0
    assert reasons["bad_ipv4_length"] == 1 and reasons["bad_tcp_offset"] == 3
    assert reasons["short_ethernet"] == 1 and reasons["short_ipv4"] >= 1
    assert reasons["udp_length_mismatch"] == 1
    ports = {e.doc["source"].get("port") for e in events if e.dataset == "network.flow"}
    assert 5 in ports and 7 in ports  # bogus options don't stop the flow; short UDP length is tolerated
    assert summary.parse_errors >= 5


def test_dns_compression_loop_inside_a_capture(tmp_path: Path) -> None:
    loop = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01"
    frames = [(1.0, g.udp(C, 4000, S, 53, loop)), (1.1, g.udp(C, 4001, S, 53, g.dns_query(2, "fine.example")))]
    events, summary = read_captures([g.write_pcap(tmp_path / "d.pcap", frames)])
    names = [e.doc["dns"]["question"]["name"] for e in events if e.dataset == "network.dns"]
    assert names == ["fine.example"]
    assert summary.errors_by_reason["application"] == 1


def _flood(count: int) -> Iterator[tuple[float, bytes]]:
    for i in range(count):
        src = f"172.16.{(i >> 8) & 255}.{i & 255}"
        yield i * 0.0001, g.tcp(src, 1024 + (i % 60000), S, 443, g.SYN, seq=i)


def test_half_open_flood_is_capped_and_counted(tmp_path: Path) -> None:
    path = g.write_pcap(tmp_path / "flood.pcap", _flood(4_000))
    reader = CaptureReader(FlowConfig(max_flows=250))
    tracemalloc.start()
    events = 0
    for event in reader.read([[path]]):
        events += 1
        assert event.doc["zeek"]["connection"]["conn_state"] == "S0"
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    summary = reader.summary()
    assert summary.flows == 4_000 and events == 4_000
    assert summary.evicted_flows == 3_750
    # 250 live flows plus parser state: far below what 4 000 flows would need
    assert peak < 3 * 1024 * 1024, peak


def test_streaming_memory_does_not_grow_with_capture_size(tmp_path: Path) -> None:
    small = g.write_pcap(tmp_path / "small.pcap", _flood(1_000))
    large = g.write_pcap(tmp_path / "large.pcap", _flood(6_000))

    def peak_of(path: Path) -> int:
        reader = CaptureReader(FlowConfig(max_flows=100))
        tracemalloc.start()
        for _event in reader.read([[path]]):
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small_peak, large_peak = peak_of(small), peak_of(large)
    assert large_peak < small_peak * 1.5 + 1024 * 1024, (small_peak, large_peak)


def test_fragment_and_reassembly_bounds(tmp_path: Path) -> None:
    payload = struct.pack("!HHHH", 5000, 53, 8 + 20, 0) + g.dns_query(5, "frag.example")[:20]
    first = g.ether(g.ipv4(C, S, 17, payload[:16], ident=77, frag=0x2000))
    second = g.ether(g.ipv4(C, S, 17, payload[16:], ident=77, frag=2))
    lone = g.ether(g.ipv4(C, S, 17, b"\x00" * 16, ident=78, frag=0x2000))  # never completed
    events, summary = read_captures([g.write_pcap(tmp_path / "f.pcap", [(1.0, first), (1.1, second), (1.2, lone)])])
    flows = [e for e in events if e.dataset == "network.flow"]
    assert len(flows) == 1 and flows[0].doc["destination"]["port"] == 53


def test_mutated_real_captures_never_crash(shared_dir: Path, tmp_path: Path) -> None:
    """Seeded byte flips and truncations of real samples: every run ends with a summary."""
    import random

    samples = [shared_dir / "pcaps" / "tests" / name for name in (
        "dns/dns-tcp-www-google-com/dns.pcap", "bug-4810/pppoe-session-http.pcap", "tls/tls-subjectaltname/input.pcap",
        "dns-over-http2-post/dns_over_https_POST.pcap", "arp/detect-arp-04-vxlan/vxlan-arp.pcap")]
    rng = random.Random(20261126)
    target = tmp_path / "mutant.pcap"
    runs = packets = errors = 0
    for _ in range(100):
        data = bytearray(rng.choice(samples).read_bytes())
        if rng.random() < 0.3:
            data = data[:rng.randrange(24, len(data))]
        for _flip in range(rng.randint(1, 200)):
            data[rng.randrange(24, len(data))] = rng.randrange(256)
        target.write_bytes(bytes(data))
        reader = CaptureReader()
        yielded = sum(1 for _event in reader.read([[target]]))
        summary = reader.summary()
        # Every record the file still holds is counted, and every event handed out is in the totals.
        assert summary.files == [str(target)]
        assert summary.packets == sum(1 for _rec in iter_records(io.BytesIO(bytes(data)), ReadStats()))
        assert summary.total_events == yielded
        packets += summary.packets
        errors += summary.parse_errors
        runs += 1
    assert runs == 100
    # The mutations really exercised the decoders, and the damage they did was reported, not dropped.
    assert packets > 100 and errors > 0


def test_closing_a_full_flow_table_streams_in_batches(tmp_path: Path) -> None:
    from collectors.network.engine import Engine
    from collectors.network.pcapfile import ReadStats, iter_records

    path = g.write_pcap(tmp_path / "open.pcap", _flood(1_000))
    engine = Engine("test", "2026-01-01T00:00:00.000Z", FlowConfig())
    with open(path, "rb") as fh:
        for index, (ts, linktype, data, _orig) in enumerate(iter_records(fh, ReadStats()), start=1):
            engine.packet(ts, linktype, data, index)
    assert len(engine.flows) == 1_000 and not engine.out
    batches = [len(batch) for batch in engine.finish_iter(batch=100)]
    assert batches == [100] * 10 and not engine.flows
