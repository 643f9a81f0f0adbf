"""DNS and TLS parsers on their own: hostile names, fingerprints against published values."""

from __future__ import annotations

import struct

import pytest

from collectors.network import dns, tls
from tests.unit.network import pcapgen as g


def test_dns_compression_loop_is_rejected() -> None:
    header = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
    self_loop = header + b"\xc0\x0c" + b"\x00\x01\x00\x01"  # name at 12 points to 12
    with pytest.raises(dns.DnsError, match="loop"):
        dns.parse(self_loop)
    two_step = header + b"\x01a\xc0\x0e" + b"\x00\x01\x00\x01"  # label then pointer forward into itself
    with pytest.raises(dns.DnsError):
        dns.parse(two_step)


def test_dns_bounds() -> None:
    with pytest.raises(dns.DnsError):
        dns.parse(b"\x00" * 5)
    too_long = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01"
    with pytest.raises(dns.DnsError, match="255"):
        dns.parse(too_long)
    label_past_end = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x20abc"
    with pytest.raises(dns.DnsError):
        dns.parse(label_past_end)


def test_dns_answer_section_damage_keeps_question() -> None:
    msg = g.dns_answer_a(9, "ok.example", "5.6.7.8")
    damaged = msg[:-3]  # rdata cut short
    parsed = dns.parse(damaged)
    assert parsed.questions == [("ok.example", 1, 1)] and parsed.answers == []
    assert dns.parse(msg).answers[0]["data"] == "5.6.7.8"


# A Chrome 143 ClientHello as published with its fingerprints (tls.peet.ws style report):
# ja3 98487aa16281980e7d1120d399efb6a4, ja4 t13d1516h2_8daaf6152771_d8a2da3f94cd
CIPHERS = [0x1A1A, 4865, 4866, 4867, 49195, 49199, 49196, 49200, 52393, 52392, 49171, 49172, 156, 157, 47, 53]
EXTENSIONS = [0x2A2A, 45, 51, 16, 65037, 23, 17613, 0, 11, 10, 43, 65281, 35, 18, 5, 13, 27, 0x3A3A]
GROUPS = [0x4A4A, 4588, 29, 23, 24]
SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def _ext(etype: int, body: bytes) -> bytes:
    return struct.pack("!HH", etype, len(body)) + body


def _client_hello() -> bytes:
    exts = b""
    for e in EXTENSIONS:
        if e == 0:
            name = b"tls.browserleaks.com"
            exts += _ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
        elif e == 10:
            exts += _ext(10, struct.pack("!H", 2 * len(GROUPS)) + b"".join(struct.pack("!H", x) for x in GROUPS))
        elif e == 11:
            exts += _ext(11, b"\x01\x00")
        elif e == 13:
            exts += _ext(13, struct.pack("!H", 2 * len(SIGALGS)) + b"".join(struct.pack("!H", x) for x in SIGALGS))
        elif e == 16:
            exts += _ext(16, b"\x00\x0c\x02h2\x08http/1.1")
        elif e == 43:
            exts += _ext(43, b"\x06\x6a\x6a\x03\x04\x03\x03")
        else:
            exts += _ext(e, b"")
    body = (struct.pack("!H", 0x0303) + b"\x11" * 32 + b"\x00" + struct.pack("!H", 2 * len(CIPHERS))
            + b"".join(struct.pack("!H", c) for c in CIPHERS) + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    return body


def test_ja3_and_ja4_match_published_values() -> None:
    body = _client_hello()
    record = b"\x16\x03\x01" + struct.pack("!H", len(body) + 4) + b"\x01" + len(body).to_bytes(3, "big") + body
    [(mtype, message)] = tls.handshake_messages(record)
    hello = tls.parse_client_hello(message)
    assert mtype == 1 and hello.server_name == "tls.browserleaks.com" and hello.alpn == ["h2", "http/1.1"]
    text, digest = tls.ja3(hello)
    assert text == ("771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,"
                    "45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0")
    assert digest == "98487aa16281980e7d1120d399efb6a4"
    assert tls.ja4(hello) == "t13d1516h2_8daaf6152771_d8a2da3f94cd"


def test_tls_hello_split_over_records_and_truncated() -> None:
    body = _client_hello()
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    half = len(message) // 2
    records = (b"\x16\x03\x01" + struct.pack("!H", half) + message[:half]
               + b"\x16\x03\x01" + struct.pack("!H", len(message) - half) + message[half:])
    assert tls.handshake_messages(records[:-10]) == []  # incomplete: wait for more
    [(_t, parsed)] = tls.handshake_messages(records)
    assert tls.parse_client_hello(parsed).server_name == "tls.browserleaks.com"
    with pytest.raises(tls.TlsError):
        tls.parse_client_hello(body[:40] + b"\xff\xff")
