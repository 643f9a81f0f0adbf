"""The capture reader: pcap (µs/ns, both byte orders) and pcapng (sections, resolutions, block kinds)."""

from __future__ import annotations

import io
import struct

import pytest

from collectors.network.pcapfile import NotACapture, ReadStats, iter_records


def _block(btype: int, body: bytes, endian: str = "<") -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", length)


def _pcapng(endian: str = "<") -> bytes:
    shb = _block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)
    idb_ns = _block(1, struct.pack(endian + "HHI", 1, 0, 65535) + struct.pack(endian + "HHB", 9, 1, 9) + b"\x00" * 3
                    + struct.pack(endian + "HH", 0, 0), endian)
    ts = 1_700_000_000_123_456_789
    epb = _block(6, struct.pack(endian + "IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, 5, 60) + b"hello", endian)
    spb = _block(3, struct.pack(endian + "I", 3) + b"abc", endian)
    custom = _block(0xBAD, b"ignored", endian)
    return shb + idb_ns + epb + custom + spb


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_blocks_and_nanosecond_resolution(endian: str) -> None:
    stats = ReadStats()
    records = list(iter_records(io.BytesIO(_pcapng(endian)), stats))
    assert [(r[1], r[2], r[3]) for r in records] == [(1, b"hello", 60), (1, b"abc", 3)]
    assert records[0][0] == pytest.approx(1_700_000_000.123456789)
    assert stats.snaplen_cut == 1 and stats.unknown_blocks == 1 and stats.packets == 2


def test_pcapng_truncated_and_bad_interface() -> None:
    data = _pcapng()
    stats = ReadStats()
    list(iter_records(io.BytesIO(data[:-6]), stats))
    assert stats.truncated == 1 and stats.packets == 1
    no_idb = data[:28] + data[28 + 28:]  # section header, then packets naming an undeclared interface
    stats = ReadStats()
    assert list(iter_records(io.BytesIO(no_idb), stats)) == []
    assert stats.bad_records >= 1


@pytest.mark.parametrize(("magic", "scale"), [(0xA1B2C3D4, 1e-6), (0xA1B23C4D, 1e-9)])
@pytest.mark.parametrize("endian", ["<", ">"])
def test_classic_pcap_variants(magic: int, scale: float, endian: str) -> None:
    header = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, 113)
    record = struct.pack(endian + "IIII", 100, 250, 4, 4) + b"data"
    stats = ReadStats()
    [(ts, linktype, data, orig)] = list(iter_records(io.BytesIO(header + record), stats))
    assert (linktype, data, orig) == (113, b"data", 4) and ts == pytest.approx(100 + 250 * scale)


def test_not_a_capture() -> None:
    with pytest.raises(NotACapture):
        list(iter_records(io.BytesIO(b"GIF89a......"), ReadStats()))
