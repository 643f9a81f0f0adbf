"""Message framing inside reassembled TCP streams: DNS over TCP (two-byte length prefix) and
cleartext HTTP/2 carrying DNS over HTTPS. Buffers are bounded; a gap clears them."""

from __future__ import annotations

from collectors.network import dns as dnsmod

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class DnsOverTcp:
    """DNS over TCP: two-byte length framing per direction, bounded buffers."""

    def __init__(self) -> None:
        self.bufs = [bytearray(), bytearray()]

    def data(self, from_orig: bool, chunk: bytes, index: int) -> list[tuple[bytes, int]]:
        buf = self.bufs[0 if from_orig else 1]
        buf += chunk
        out = []
        while len(buf) >= 2:
            n = int.from_bytes(buf[:2], "big")
            if len(buf) < 2 + n:
                break
            out.append((bytes(buf[2:2 + n]), index))
            del buf[:2 + n]
        if len(buf) > 70000:
            buf.clear()
        return out

    def gap(self, from_orig: bool) -> None:
        self.bufs[0 if from_orig else 1].clear()



class Http2Frames:
    """Cleartext HTTP/2 (h2c): DATA frames that hold a DNS message are DNS over HTTPS (RFC 8484).

    Headers are HPACK-compressed and not decoded; a DATA payload counts as DoH when it parses
    as a complete DNS message with one question.
    """

    def __init__(self) -> None:
        self.bufs = [bytearray(), bytearray()]
        self.preface = [True, False]

    def data(self, from_orig: bool, chunk: bytes, index: int) -> list[tuple[bytes, int]]:
        side = 0 if from_orig else 1
        buf = self.bufs[side]
        buf += chunk
        if self.preface[side] and len(buf) >= len(H2_PREFACE):
            if buf.startswith(H2_PREFACE):
                del buf[:len(H2_PREFACE)]
            self.preface[side] = False
        out = []
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            ftype, flags = buf[3], buf[4]
            payload = bytes(buf[9:9 + length])
            del buf[:9 + length]
            if ftype == 0 and length >= 12:
                if flags & 0x08 and payload:
                    payload = payload[1:len(payload) - payload[0]]
                if _is_dns_message(payload):
                    out.append((payload, index))
        if len(buf) > 70000:
            buf.clear()
        return out

    def gap(self, from_orig: bool) -> None:
        self.bufs[0 if from_orig else 1].clear()


def _is_dns_message(payload: bytes) -> bool:
    if len(payload) < 17 or payload[4:6] != b"\x00\x01":
        return False
    try:
        dnsmod.parse(payload)
    except dnsmod.DnsError:
        return False
    return True
