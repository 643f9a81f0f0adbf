"""Streaming pcap / pcapng reader: one record at a time, constant memory, never trusts lengths.

Plain ``struct`` on a buffered file is several times faster than scapy's readers and lets us
count (not raise on) every malformed record: a truncated tail or an absurd length ends the
file with ``truncated``/``bad_records`` incremented, a bad pcapng block is skipped by its
declared length when that length is sane.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
# A record longer than this is corruption, not a jumbo frame (tcpdump's own ceiling is 256 KiB).
MAX_RECORD = 262144 + 65536
MAX_BLOCK = 16 * 1024 * 1024


@dataclass
class ReadStats:
    packets: int = 0
    bytes: int = 0
    truncated: int = 0          # file ended inside a record
    bad_records: int = 0        # absurd or inconsistent lengths
    snaplen_cut: int = 0        # captured length shorter than the wire length
    unknown_blocks: int = 0
    link_types: dict[int, int] = field(default_factory=dict)


class NotACapture(ValueError):
    """The file starts with neither a pcap nor a pcapng magic number."""


Record = tuple[float, int, bytes, int]
"""(timestamp seconds, link type, captured bytes, original length)."""


def iter_records(fh: BinaryIO, stats: ReadStats) -> Iterator[Record]:
    head = fh.read(4)
    if head in PCAP_MAGICS:
        yield from _iter_pcap(fh, head, stats)
    elif head == PCAPNG_SHB:
        yield from _iter_pcapng(fh, stats)
    else:
        raise NotACapture("not a pcap or pcapng file (unknown magic number)")


def _iter_pcap(fh: BinaryIO, magic: bytes, stats: ReadStats) -> Iterator[Record]:
    endian, resolution = PCAP_MAGICS[magic]
    rest = fh.read(20)
    if len(rest) < 20:
        stats.truncated += 1
        return
    _vmaj, _vmin, _zone, _sigfigs, _snaplen, linktype = struct.unpack(endian + "HHiIII", rest)
    linktype &= 0x0FFFFFFF  # upper bits carry the FCS length flag
    rec = struct.Struct(endian + "IIII")
    unpack = rec.unpack
    read = fh.read
    link_counts = stats.link_types
    while True:
        hdr = read(16)
        if not hdr:
            return
        if len(hdr) < 16:
            stats.truncated += 1
            return
        sec, frac, incl, orig = unpack(hdr)
        if incl > MAX_RECORD:
            # Without a sane length there is no next record boundary to resync on.
            stats.bad_records += 1
            return
        data = read(incl)
        if len(data) < incl:
            stats.truncated += 1
            return
        if orig > incl:
            stats.snaplen_cut += 1
        stats.packets += 1
        stats.bytes += incl + 16
        link_counts[linktype] = link_counts.get(linktype, 0) + 1
        yield sec + frac * resolution, linktype, data, orig


def _iter_pcapng(fh: BinaryIO, stats: ReadStats) -> Iterator[Record]:
    endian = "<"
    u32 = struct.Struct("<I")
    block_head = struct.Struct("<II")
    epb = struct.Struct("<IIIII")
    interfaces: list[tuple[int, float]] = []  # (link type, seconds per tick)
    read = fh.read
    link_counts = stats.link_types
    head = PCAPNG_SHB + read(4)
    while True:
        if len(head) < 8:
            if head:
                stats.truncated += 1
            return
        if head[:4] == PCAPNG_SHB:
            bom = read(4)
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                stats.truncated += len(bom) < 4
                stats.bad_records += len(bom) == 4
                return
            u32, block_head, epb = struct.Struct(endian + "I"), struct.Struct(endian + "II"), struct.Struct(endian + "IIIII")
            blen = u32.unpack_from(head, 4)[0]
            if blen < 28 or blen > MAX_BLOCK or blen % 4:
                stats.bad_records += 1
                return
            if len(read(blen - 12)) < blen - 12:
                stats.truncated += 1
                return
            interfaces = []  # a new section starts a new interface list
            head = read(8)
            continue
        btype, blen = block_head.unpack(head)
        if blen < 12 or blen > MAX_BLOCK or blen % 4:
            stats.bad_records += 1
            return
        body = read(blen - 8)
        if len(body) < blen - 8:
            stats.truncated += 1
            return
        head = read(8)
        if btype == 6:  # enhanced packet block (the common case first)
            if blen < 32:
                stats.bad_records += 1
                continue
            iface, hi, lo, incl, orig = epb.unpack_from(body, 0)
            if iface >= len(interfaces) or incl > blen - 32:
                stats.bad_records += 1
                continue
            linktype, tick = interfaces[iface]
            if orig > incl:
                stats.snaplen_cut += 1
            stats.packets += 1
            stats.bytes += blen
            link_counts[linktype] = link_counts.get(linktype, 0) + 1
            yield ((hi << 32) | lo) * tick, linktype, body[20:20 + incl], orig
        elif btype == 1:  # interface description
            if blen < 20:
                stats.bad_records += 1
                continue
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            interfaces.append((linktype, _tsresol(body[8:-4], endian)))
        elif btype == 2:  # obsolete packet block
            if blen < 32:
                stats.bad_records += 1
                continue
            iface, _drops, hi, lo, incl, orig = struct.unpack_from(endian + "HHIIII", body, 0)
            if iface >= len(interfaces) or incl > blen - 32:
                stats.bad_records += 1
                continue
            linktype, tick = interfaces[iface]
            stats.packets += 1
            stats.bytes += blen
            yield ((hi << 32) | lo) * tick, linktype, body[20:20 + incl], orig
        elif btype == 3:  # simple packet block: interface 0, no timestamp
            if blen < 16 or not interfaces:
                stats.bad_records += 1
                continue
            orig = u32.unpack_from(body, 0)[0]
            stats.packets += 1
            stats.bytes += blen
            yield 0.0, interfaces[0][0], body[4:min(4 + orig, blen - 12)], orig
        else:
            stats.unknown_blocks += 1


def _tsresol(options: bytes, endian: str) -> float:
    """Seconds per timestamp tick from the ``if_tsresol`` option (default microseconds)."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[pos + 4]
            exp = value & 0x7F
            return float(2 ** -exp) if value & 0x80 else float(10 ** -exp)
        pos += 4 + ((length + 3) & ~3)
    return 1e-6
