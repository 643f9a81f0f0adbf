"""TLS ClientHello / ServerHello parsing, JA3, JA3S and JA4 fingerprints.

Input is the reassembled handshake stream of one direction (TLS records already unwrapped by
``handshake_messages``). Every length is checked against what is there; a bad hello raises
``TlsError``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

GREASE = frozenset(0x0A0A + 0x1010 * i for i in range(16))
VERSIONS = {0x0300: "3.0", 0x0301: "1.0", 0x0302: "1.1", 0x0303: "1.2", 0x0304: "1.3",
            0xFEFF: "1.0", 0xFEFD: "1.2", 0xFEFC: "1.3"}
JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
                0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}
MAX_HANDSHAKE = 64 * 1024


class TlsError(ValueError):
    pass


@dataclass
class ClientHello:
    version: int
    ciphers: list[int]
    extensions: list[int]
    server_name: str | None = None
    groups: list[int] = field(default_factory=list)
    point_formats: list[int] = field(default_factory=list)
    sig_algs: list[int] = field(default_factory=list)
    alpn: list[str] = field(default_factory=list)
    supported_versions: list[int] = field(default_factory=list)


@dataclass
class ServerHello:
    version: int
    cipher: int
    extensions: list[int]
    selected_version: int | None = None


def version_text(v: int | None) -> str | None:
    return None if v is None else VERSIONS.get(v, f"0x{v:04x}")


def looks_like_handshake(data: bytes) -> bool:
    """A TLS record carrying a handshake: content type 22, major version 3."""
    return len(data) >= 6 and data[0] == 22 and data[1] == 3 and data[2] <= 4


def handshake_messages(stream: bytes) -> list[tuple[int, bytes]]:
    """The complete handshake messages (type, body) at the start of ``stream``.

    Stops at the first non-handshake record (ChangeCipherSpec, application data) or at an
    incomplete record/message, so calling again with more bytes finds more.
    """
    body = bytearray()
    pos = 0
    while pos + 5 <= len(stream):
        ctype = stream[pos]
        if ctype == 20 and stream[pos + 1] == 3:  # ChangeCipherSpec (TLS 1.3 middlebox mode): skip
            pos += 5 + struct.unpack_from("!H", stream, pos + 3)[0]
            continue
        if ctype != 22:
            break
        if stream[pos + 1] != 3:
            raise TlsError("not a TLS record")
        rlen = struct.unpack_from("!H", stream, pos + 3)[0]
        if rlen > 18432:
            raise TlsError("record longer than TLS allows")
        if pos + 5 + rlen > len(stream):
            break
        body += stream[pos + 5:pos + 5 + rlen]
        pos += 5 + rlen
    messages: list[tuple[int, bytes]] = []
    mpos = 0
    while mpos + 4 <= len(body):
        mtype = body[mpos]
        mlen = int.from_bytes(body[mpos + 1:mpos + 4], "big")
        if mlen > MAX_HANDSHAKE:
            if messages:
                break  # encrypted Finished after the hellos reads as garbage: not an error
            raise TlsError("handshake message too long")
        if mpos + 4 + mlen > len(body):
            break
        messages.append((mtype, bytes(body[mpos + 4:mpos + 4 + mlen])))
        mpos += 4 + mlen
    return messages


def _u16_list(data: bytes) -> list[int]:
    return [v for (v,) in struct.iter_unpack("!H", data[: len(data) // 2 * 2])]


def parse_client_hello(body: bytes) -> ClientHello:
    try:
        version = struct.unpack_from("!H", body, 0)[0]
        pos = 34
        sid_len = body[pos]
        pos += 1 + sid_len
        clen = struct.unpack_from("!H", body, pos)[0]
        pos += 2
        if pos + clen > len(body):
            raise TlsError("cipher list runs past the hello")
        ciphers = _u16_list(body[pos:pos + clen])
        pos += clen
        comp_len = body[pos]
        pos += 1 + comp_len
        hello = ClientHello(version, ciphers, [])
        if pos + 2 > len(body):
            return hello
        ext_total = struct.unpack_from("!H", body, pos)[0]
        pos += 2
        end = min(len(body), pos + ext_total)
        while pos + 4 <= end:
            etype, elen = struct.unpack_from("!HH", body, pos)
            pos += 4
            edata = body[pos:pos + elen]
            if len(edata) < elen:
                raise TlsError("extension runs past the hello")
            pos += elen
            hello.extensions.append(etype)
            if etype == 0 and len(edata) >= 5:
                name_len = struct.unpack_from("!H", edata, 3)[0]
                hello.server_name = edata[5:5 + name_len].decode("utf-8", "backslashreplace")
            elif etype == 10 and len(edata) >= 2:
                hello.groups = _u16_list(edata[2:2 + struct.unpack_from("!H", edata, 0)[0]])
            elif etype == 11 and len(edata) >= 1:
                hello.point_formats = list(edata[1:1 + edata[0]])
            elif etype == 13 and len(edata) >= 2:
                hello.sig_algs = _u16_list(edata[2:2 + struct.unpack_from("!H", edata, 0)[0]])
            elif etype == 16 and len(edata) >= 2:
                i, stop = 2, min(len(edata), 2 + struct.unpack_from("!H", edata, 0)[0])
                while i < stop:
                    n = edata[i]
                    hello.alpn.append(edata[i + 1:i + 1 + n].decode("ascii", "backslashreplace"))
                    i += 1 + n
            elif etype == 43 and len(edata) >= 1:
                hello.supported_versions = _u16_list(edata[1:1 + edata[0]])
        return hello
    except (struct.error, IndexError) as exc:
        raise TlsError(f"malformed ClientHello: {exc}") from exc


def parse_server_hello(body: bytes) -> ServerHello:
    try:
        version = struct.unpack_from("!H", body, 0)[0]
        pos = 34
        sid_len = body[pos]
        pos += 1 + sid_len
        cipher = struct.unpack_from("!H", body, pos)[0]
        pos += 3
        hello = ServerHello(version, cipher, [])
        if pos + 2 <= len(body):
            ext_total = struct.unpack_from("!H", body, pos)[0]
            pos += 2
            end = min(len(body), pos + ext_total)
            while pos + 4 <= end:
                etype, elen = struct.unpack_from("!HH", body, pos)
                pos += 4
                if etype == 43 and elen == 2:
                    hello.selected_version = struct.unpack_from("!H", body, pos)[0]
                hello.extensions.append(etype)
                pos += elen
        return hello
    except (struct.error, IndexError) as exc:
        raise TlsError(f"malformed ServerHello: {exc}") from exc


def _dash(values: list[int]) -> str:
    return "-".join(str(v) for v in values if v not in GREASE)


def ja3(h: ClientHello) -> tuple[str, str]:
    text = ",".join((str(h.version), _dash(h.ciphers), _dash(h.extensions), _dash(h.groups), _dash(h.point_formats)))
    return text, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def ja3s(h: ServerHello) -> tuple[str, str]:
    text = ",".join((str(h.version), str(h.cipher), _dash(h.extensions)))
    return text, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def ja4(h: ClientHello, transport: str = "t") -> str:
    """FoxIO JA4 (TLS client): ``t13d1516h2_<ciphers hash>_<extensions+sigalgs hash>``."""
    versions = [v for v in h.supported_versions if v not in GREASE]
    ver = JA4_VERSIONS.get(max(versions) if versions else h.version, "00")
    ciphers = [c for c in h.ciphers if c not in GREASE]
    exts = [e for e in h.extensions if e not in GREASE]
    alpn = "00"
    if h.alpn and h.alpn[0]:
        first = h.alpn[0]
        if first[0].isalnum() and first[-1].isascii() and first[-1].isalnum() and first[0].isascii():
            alpn = first[0] + first[-1]
        else:
            raw = first.encode("utf-8", "surrogateescape").hex()
            alpn = raw[0] + raw[-1]
    part_a = f"{transport}{ver}{'d' if h.server_name is not None else 'i'}{min(len(ciphers), 99):02d}" \
             f"{min(len(exts), 99):02d}{alpn}"
    part_b = _sha12(",".join(sorted(f"{c:04x}" for c in ciphers)))
    ext_text = ",".join(sorted(f"{e:04x}" for e in exts if e not in (0x0000, 0x0010)))
    if h.sig_algs:
        ext_text += "_" + ",".join(f"{s:04x}" for s in h.sig_algs)
    part_c = _sha12(ext_text) if exts else "000000000000"
    return f"{part_a}_{part_b}_{part_c}"
