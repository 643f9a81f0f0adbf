"""DNS message parsing (RFC 1035) straight from bytes.

Compression pointers may not revisit an offset (so loops end), names are bounded to 255
bytes, 128 labels and 32 pointer jumps. A malformed message raises ``DnsError`` (counted by the
caller); a malformed answer section keeps the header and question that parsed.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from typing import Any

QTYPES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 17: "RP",
    18: "AFSDB", 24: "SIG", 25: "KEY", 28: "AAAA", 29: "LOC", 33: "SRV", 35: "NAPTR", 36: "KX",
    37: "CERT", 39: "DNAME", 41: "OPT", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG",
    47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 55: "HIP",
    59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 64: "SVCB", 65: "HTTPS", 99: "SPF", 249: "TKEY",
    250: "TSIG", 251: "IXFR", 252: "AXFR", 255: "ANY", 256: "URI", 257: "CAA",
}
QCLASSES = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}
OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
MAX_ANSWERS = 64
MAX_JUMPS = 32
_HDR = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")


class DnsError(ValueError):
    pass


@dataclass
class DnsMessage:
    id: int
    flags: int
    questions: list[tuple[str, int, int]]
    answers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_response(self) -> bool:
        return bool(self.flags & 0x8000)

    @property
    def rcode(self) -> int:
        return self.flags & 0x000F

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0x0F


def type_name(qtype: int) -> str:
    return QTYPES.get(qtype, f"TYPE{qtype}")


def read_name(msg: bytes, pos: int) -> tuple[str, int]:
    """The name at ``pos`` and the offset just after it in the original stream.

    Pointers may go forward (some encoders do that) but never to a place already visited, and
    at most ``MAX_JUMPS`` times: compression loops end with ``DnsError``.
    """
    labels: list[str] = []
    end_pos = -1
    total = 0
    visited: set[int] = set()
    for _ in range(128 + MAX_JUMPS):
        if pos >= len(msg):
            raise DnsError("name runs past the end of the message")
        length = msg[pos]
        if length == 0:
            if end_pos < 0:
                end_pos = pos + 1
            return ".".join(labels) if labels else "<Root>", end_pos
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= len(msg):
                raise DnsError("truncated compression pointer")
            target = ((length & 0x3F) << 8) | msg[pos + 1]
            if end_pos < 0:
                end_pos = pos + 2
            if target in visited or len(visited) >= MAX_JUMPS or target == pos:
                raise DnsError("compression pointer loop")
            visited.add(target)
            pos = target
            continue
        if kind:
            raise DnsError("unsupported label type")
        start = pos + 1
        pos = start + length
        if pos > len(msg):
            raise DnsError("label runs past the end of the message")
        total += length + 1
        if total > 255:
            raise DnsError("name longer than 255 bytes")
        labels.append(_label_text(msg[start:pos]))
    raise DnsError("too many labels")


def _label_text(raw: bytes) -> str:
    if all(33 <= b < 127 and b != 0x5C for b in raw):
        return raw.decode("ascii")
    # Wireshark's convention for non-printable label bytes: a backslash and three octal digits.
    return "".join(chr(b) if 32 <= b < 127 and b != 0x5C else f"\\{b:03o}" for b in raw)


def parse(msg: bytes) -> DnsMessage:
    if len(msg) < 12:
        raise DnsError("shorter than a DNS header")
    ident, flags, qd, an, ns, ar = _HDR.unpack_from(msg, 0)
    if qd > 32:
        raise DnsError("implausible question count")
    pos = 12
    questions = []
    for _ in range(qd):
        name, pos = read_name(msg, pos)
        if pos + 4 > len(msg):
            raise DnsError("truncated question")
        qtype, qclass = struct.unpack_from("!HH", msg, pos)
        pos += 4
        questions.append((name, qtype, qclass))
    out = DnsMessage(ident, flags, questions)
    try:
        for _ in range(min(an, MAX_ANSWERS)):
            name, pos = read_name(msg, pos)
            if pos + 10 > len(msg):
                break
            rtype, rclass, ttl, rdlen = _RR.unpack_from(msg, pos)
            pos += 10
            if pos + rdlen > len(msg):
                break
            out.answers.append({"name": name, "type": type_name(rtype), "class": QCLASSES.get(rclass, str(rclass)),
                                "ttl": ttl, "data": _rdata(msg, pos, rtype, rdlen)})
            pos += rdlen
    except DnsError:
        pass  # keep the header, question and the answers read so far
    return out


def _rdata(msg: bytes, pos: int, rtype: int, rdlen: int) -> str:
    raw = msg[pos:pos + rdlen]
    if rtype == 1 and rdlen == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if rtype == 28 and rdlen == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    try:
        if rtype in (2, 5, 12, 39):
            return read_name(msg, pos)[0]
        if rtype == 15 and rdlen >= 3:
            return f"{struct.unpack_from('!H', msg, pos)[0]} {read_name(msg, pos + 2)[0]}"
        if rtype == 33 and rdlen >= 7:
            prio, weight, port = struct.unpack_from("!HHH", msg, pos)
            return f"{prio} {weight} {port} {read_name(msg, pos + 6)[0]}"
    except DnsError:
        pass
    if rtype == 16:
        parts, i = [], 0
        while i < len(raw):
            n = raw[i]
            parts.append(raw[i + 1:i + 1 + n].decode("utf-8", "backslashreplace"))
            i += 1 + n
        return " ".join(parts)
    return raw.hex()


def header_flags(flags: int) -> list[str]:
    names = []
    for bit, name in ((0x0400, "AA"), (0x0200, "TC"), (0x0100, "RD"), (0x0080, "RA"), (0x0020, "AD"),
                      (0x0010, "CD")):
        if flags & bit:
            names.append(name)
    return names
