"""QUIC Initial packets (RFC 9000/9001, draft-29, v2): remove header protection, decrypt with
the keys every observer can derive from the Destination Connection ID, and collect the CRYPTO
frames carrying the TLS ClientHello (for SNI, JA3 and JA4 with the ``q`` prefix).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from functools import lru_cache

SALTS = {
    0x00000001: bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),
    0x6B3343CF: bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"),
    0xFF00001D: bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899"),
    0xFF000020: bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899"),
}
MAX_CRYPTO = 64 * 1024


class QuicError(ValueError):
    pass


def is_initial(payload: bytes) -> bool:
    if len(payload) < 7 or payload[0] & 0xC0 != 0xC0:
        return False
    version = struct.unpack_from("!I", payload, 1)[0]
    if version not in SALTS:
        return False
    ptype = (payload[0] & 0x30) >> 4
    return ptype == (1 if version == 0x6B3343CF else 0)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise QuicError("truncated varint")
    first = data[pos]
    length = 1 << (first >> 6)
    if pos + length > len(data):
        raise QuicError("truncated varint")
    value = first & 0x3F
    for i in range(1, length):
        value = (value << 8) | data[pos + i]
    return value, pos + length


def _expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


@lru_cache(maxsize=256)
def _client_keys(version: int, dcid: bytes) -> tuple[bytes, bytes, bytes]:
    initial = hmac.new(SALTS[version], dcid, hashlib.sha256).digest()
    client = _expand_label(initial, b"client in", 32)
    prefix = b"quicv2 " if version == 0x6B3343CF else b"quic "
    return (_expand_label(client, prefix + b"key", 16), _expand_label(client, prefix + b"iv", 12),
            _expand_label(client, prefix + b"hp", 16))


def crypto_frames(datagram: bytes) -> list[tuple[int, bytes]]:
    """(offset, data) of CRYPTO frames in the client Initial packets of one datagram."""
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as exc:  # pragma: no cover - cryptography ships with scapy's TLS support
        raise QuicError("the cryptography package is not installed") from exc
    out: list[tuple[int, bytes]] = []
    pos = 0
    for _ in range(4):  # coalesced packets
        packet = datagram[pos:]
        if not is_initial(packet):
            break
        version = struct.unpack_from("!I", packet, 1)[0]
        p = 5
        dcid_len = packet[p]
        dcid = packet[p + 1:p + 1 + dcid_len]
        p += 1 + dcid_len
        if p >= len(packet):
            raise QuicError("truncated header")
        p += 1 + packet[p]
        token_len, p = _varint(packet, p)
        p += token_len
        length, p = _varint(packet, p)
        pn_offset = p
        end = pn_offset + length
        if end > len(packet) or pn_offset + 20 > len(packet):
            raise QuicError("packet length beyond datagram")
        key, iv, hp = _client_keys(version, dcid)
        sample = packet[pn_offset + 4:pn_offset + 20]
        encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
        mask = encryptor.update(sample) + encryptor.finalize()
        first = packet[0] ^ (mask[0] & 0x0F)
        pn_len = (first & 0x03) + 1
        pn_bytes = bytes(b ^ m for b, m in zip(packet[pn_offset:pn_offset + pn_len], mask[1:1 + pn_len], strict=True))
        header = bytes([first]) + packet[1:pn_offset] + pn_bytes
        pn = int.from_bytes(pn_bytes, "big")
        nonce = bytes(a ^ b for a, b in zip(iv, pn.to_bytes(12, "big"), strict=True))
        try:
            plain = AESGCM(key).decrypt(nonce, packet[pn_offset + pn_len:end], header)
        except Exception as exc:  # InvalidTag: a server Initial, or not QUIC at all
            raise QuicError("Initial packet does not decrypt with client keys") from exc
        out.extend(_frames(plain))
        pos += end
    return out


def _frames(plain: bytes) -> list[tuple[int, bytes]]:
    out = []
    p = 0
    while p < len(plain):
        ftype = plain[p]
        if ftype in (0x00, 0x01):  # PADDING, PING
            p += 1
        elif ftype == 0x06:
            offset, p = _varint(plain, p + 1)
            length, p = _varint(plain, p)
            out.append((offset, plain[p:p + length]))
            p += length
        elif ftype in (0x02, 0x03):  # ACK: largest, delay, range count, first range, ranges
            _, p = _varint(plain, p + 1)
            _, p = _varint(plain, p)
            count, p = _varint(plain, p)
            _, p = _varint(plain, p)
            for _ in range(min(count, 256) * 2):
                _, p = _varint(plain, p)
            if ftype == 0x03:
                for _ in range(3):
                    _, p = _varint(plain, p)
        elif ftype == 0x1C:  # CONNECTION_CLOSE
            break
        else:
            break  # frames not allowed in Initial packets: stop here
    return out


class CryptoAssembler:
    """CRYPTO stream bytes in offset order (frames arrive out of order and across packets)."""

    def __init__(self) -> None:
        self.parts: dict[int, bytes] = {}
        self.size = 0

    def add(self, offset: int, data: bytes) -> bytes | None:
        """The contiguous stream from offset 0 once it holds a whole handshake message."""
        if offset + len(data) > MAX_CRYPTO or offset in self.parts:
            return None
        self.parts[offset] = data
        self.size += len(data)
        buf = bytearray()
        for off in sorted(self.parts):
            if off > len(buf):
                break
            chunk = self.parts[off]
            buf += chunk[len(buf) - off:]
        if len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[1:4], "big"):
            return bytes(buf)
        return None
