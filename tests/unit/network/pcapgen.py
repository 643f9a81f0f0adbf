"""Tiny pcap writer for tests: Ethernet/IPv4/TCP/UDP/ARP frames built with struct."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from pathlib import Path

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes, *, total_length: int | None = None, ident: int = 1,
         frag: int = 0x4000) -> bytes:
    length = total_length if total_length is not None else 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, ident, frag, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", _checksum(hdr)) + hdr[12:]
    return hdr + payload


def ether(payload: bytes, ethertype: int = 0x0800, src: bytes = MAC_A, dst: bytes = MAC_B) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def tcp(src: str, sport: int, dst: str, dport: int, flags: int, seq: int = 0, ack: int = 0,
        payload: bytes = b"", options: bytes = b"", data_offset: int | None = None) -> bytes:
    words = data_offset if data_offset is not None else (20 + len(options)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, words << 4, flags, 65535, 0, 0) + options + payload
    return ether(ipv4(src, dst, 6, seg))


def udp(src: str, sport: int, dst: str, dport: int, payload: bytes, *, length: int | None = None) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, length if length is not None else 8 + len(payload), 0) + payload
    return ether(ipv4(src, dst, 17, seg))


def arp(op: int, sender_mac: bytes, sender_ip: str, target_mac: bytes, target_ip: str) -> bytes:
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sender_mac, socket.inet_aton(sender_ip),
                       target_mac, socket.inet_aton(target_ip))
    return ether(body, 0x0806, src=sender_mac, dst=b"\xff" * 6)


def dns_query(ident: int, name: str, qtype: int = 1, flags: int = 0x0100) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + encode_name(name) + struct.pack("!HH", qtype, 1)


def dns_answer_a(ident: int, name: str, address: str, ttl: int = 300) -> bytes:
    question = encode_name(name) + struct.pack("!HH", 1, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, ttl, 4) + socket.inet_aton(address)
    return struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + question + answer


def encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\x00"


def write_pcap(path: Path, frames: Iterable[tuple[float, bytes]], *, snaplen: int = 65535,
               cut_to: int | None = None) -> Path:
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        for ts, frame in frames:
            data = frame[:cut_to] if cut_to is not None else frame
            sec = int(ts)
            fh.write(struct.pack("<IIII", sec, int(round((ts - sec) * 1e6)), len(data), len(frame)))
            fh.write(data)
    return path


def handshake(client: str, cport: int, server: str, sport: int, t0: float, isn: int = 1000,
              server_isn: int = 5000) -> list[tuple[float, bytes]]:
    return [
        (t0, tcp(client, cport, server, sport, SYN, seq=isn)),
        (t0 + 0.001, tcp(server, sport, client, cport, SYN | ACK, seq=server_isn, ack=isn + 1)),
        (t0 + 0.002, tcp(client, cport, server, sport, ACK, seq=isn + 1, ack=server_isn + 1)),
    ]
