"""Link, network and transport headers decoded with ``struct`` (the hot path).

Handles Ethernet (VLAN/QinQ, MPLS, PPPoE), Linux cooked v1/v2, BSD loopback, raw IP,
Cisco HDLC, IPv4 (options, fragments), IPv6 (extension headers, fragments), GRE and IP-in-IP
tunnels (the inner packet is what counts, like Wireshark's conversation table), TCP, UDP,
ICMP/ICMPv6 and ARP. Anything inconsistent is counted in ``stats`` and dropped.
"""

from __future__ import annotations

import struct

from collectors.network.fragments import Defragmenter
from collectors.network.models import DecodeStats

TCP, UDP, ICMP, ICMP6, ARP_PROTO = 6, 17, 1, 58, -1
ETH_IPV4, ETH_IPV6, ETH_ARP = 0x0800, 0x86DD, 0x0806
VLAN_TYPES = frozenset((0x8100, 0x88A8, 0x9100, 0x9200))
IPV6_EXT = frozenset((0, 43, 60, 135, 139, 140))
MAX_TUNNEL_DEPTH = 4

_H = struct.Struct("!H")
_HH = struct.Struct("!HH")
_TCP = struct.Struct("!HHIIBB")
_unpack_h = _H.unpack_from
_unpack_hh = _HH.unpack_from
_unpack_tcp = _TCP.unpack_from


class Packet:
    """One decoded IP (or ARP) packet. ``payload`` is the transport payload."""

    __slots__ = ("ts", "index", "src", "dst", "proto", "sport", "dport", "flags", "seq", "ack",
                 "payload", "ip_len", "vlan", "src_mac", "dst_mac", "ipver", "arp", "outer")

    def __init__(self, ts: float = 0.0) -> None:
        self.ts = ts
        self.index = 0
        self.src = b""
        self.dst = b""
        self.proto = 0
        self.ipver = 4
        self.ip_len = 0
        self.vlan: int | None = None
        self.src_mac: bytes | None = None
        self.dst_mac: bytes | None = None
        self.flags = 0
        self.seq = 0
        self.ack = 0
        self.sport = 0
        self.dport = 0
        self.payload = b""
        self.arp: tuple[int, bytes, bytes, bytes, bytes] | None = None
        self.outer: Packet | None = None


class Decoder:
    def __init__(self) -> None:
        self.stats = DecodeStats()
        self.defrag = Defragmenter()

    def decode(self, ts: float, linktype: int, data: bytes) -> Packet | None:
        pkt = Packet(ts)
        try:
            if linktype == 1:
                return self._ethernet(pkt, data, 0)
            if linktype in (101, 12, 14, 228, 229):
                return self._ip_guess(pkt, data, 0)
            if linktype == 0 or linktype == 108:  # BSD loopback: 4-byte family (host/network order)
                if len(data) < 4:
                    self.stats.bad("short_link")
                    return None
                return self._ip_guess(pkt, data, 4)
            if linktype == 113:  # Linux cooked v1
                if len(data) < 16:
                    self.stats.bad("short_link")
                    return None
                return self._ethertype(pkt, data, 16, _unpack_h(data, 14)[0], 0)
            if linktype == 276:  # Linux cooked v2
                if len(data) < 20:
                    self.stats.bad("short_link")
                    return None
                return self._ethertype(pkt, data, 20, _unpack_h(data, 0)[0], 0)
            if linktype == 104:  # Cisco HDLC
                if len(data) < 4:
                    self.stats.bad("short_link")
                    return None
                return self._ethertype(pkt, data, 4, _unpack_h(data, 2)[0], 0)
        except (struct.error, IndexError):
            self.stats.bad("truncated_header")
            return None
        self.stats.unsupported += 1
        return None

    # -- layer 2 -------------------------------------------------------------------------

    def _ethernet(self, pkt: Packet, data: bytes, off: int, depth: int = 0) -> Packet | None:
        if len(data) < off + 14:
            self.stats.bad("short_ethernet")
            return None
        pkt.dst_mac = data[off:off + 6]
        pkt.src_mac = data[off + 6:off + 12]
        return self._ethertype(pkt, data, off + 14, _unpack_h(data, off + 12)[0], depth)

    def _ethertype(self, pkt: Packet, data: bytes, off: int, etype: int, depth: int) -> Packet | None:
        for _ in range(8):  # bounded tag stack
            if etype in VLAN_TYPES:
                tci, etype = _unpack_hh(data, off)
                if pkt.vlan is None:
                    pkt.vlan = tci & 0x0FFF
                off += 4
            elif etype == 0x8847 or etype == 0x8848:  # MPLS: pop labels, guess the payload
                while True:
                    if len(data) < off + 4:
                        self.stats.bad("short_mpls")
                        return None
                    bottom = data[off + 2] & 1
                    off += 4
                    if bottom:
                        break
                return self._ip_guess(pkt, data, off, depth)
            elif etype == 0x8864:  # PPPoE session
                if len(data) < off + 8:
                    self.stats.bad("short_pppoe")
                    return None
                if data[off + 6] & 1:  # protocol-field compression: one byte
                    ppp = data[off + 6]
                    off += 7
                else:
                    ppp = _unpack_h(data, off + 6)[0]
                    off += 8
                etype = ETH_IPV4 if ppp == 0x0021 else ETH_IPV6 if ppp == 0x0057 else 0
            elif etype == 0x894F:  # NSH (RFC 8300): length in 4-byte words, next protocol
                if len(data) < off + 8:
                    self.stats.bad("short_nsh")
                    return None
                length = (data[off + 1] & 0x3F) * 4
                nxt = data[off + 3]
                if length < 8:
                    self.stats.bad("bad_nsh")
                    return None
                off += length
                if nxt == 3:
                    return self._ethernet(pkt, data, off, depth + 1) if depth < MAX_TUNNEL_DEPTH else None
                etype = ETH_IPV4 if nxt == 1 else ETH_IPV6 if nxt == 2 else 0
            else:
                break
        if etype == ETH_IPV4:
            return self._ipv4(pkt, data, off, depth)
        if etype == ETH_IPV6:
            return self._ipv6(pkt, data, off, depth)
        if etype == ETH_ARP:
            return self._arp(pkt, data, off)
        self.stats.unsupported += 1
        return None

    def _arp(self, pkt: Packet, data: bytes, off: int) -> Packet | None:
        if len(data) < off + 28:
            self.stats.bad("short_arp")
            return None
        htype, ptype = _unpack_hh(data, off)
        hlen, plen = data[off + 4], data[off + 5]
        if htype != 1 or ptype != ETH_IPV4 or hlen != 6 or plen != 4:
            self.stats.unsupported += 1
            return None
        op = _unpack_h(data, off + 6)[0]
        pkt.proto = ARP_PROTO
        pkt.arp = (op, data[off + 8:off + 14], data[off + 14:off + 18], data[off + 18:off + 24],
                   data[off + 24:off + 28])
        pkt.src = data[off + 14:off + 18]
        pkt.dst = data[off + 24:off + 28]
        pkt.ipver = 4
        pkt.ip_len = 28
        return pkt

    # -- layer 3 -------------------------------------------------------------------------

    def _ip_guess(self, pkt: Packet, data: bytes, off: int, depth: int = 0) -> Packet | None:
        if len(data) <= off:
            self.stats.bad("short_ip")
            return None
        ver = data[off] >> 4
        if ver == 4:
            return self._ipv4(pkt, data, off, depth)
        if ver == 6:
            return self._ipv6(pkt, data, off, depth)
        self.stats.unsupported += 1
        return None

    def _ipv4(self, pkt: Packet, data: bytes, off: int, depth: int) -> Packet | None:
        if len(data) < off + 20:
            self.stats.bad("short_ipv4")
            return None
        vihl = data[off]
        ihl = (vihl & 0x0F) * 4
        if vihl >> 4 != 4 or ihl < 20:
            self.stats.bad("bad_ipv4_header")
            return None
        total = _unpack_h(data, off + 2)[0]
        avail = len(data) - off
        if total < ihl:
            # TSO-offloaded captures carry total length 0; trust the frame in that case.
            if total != 0:
                self.stats.bad("bad_ipv4_length")
                return None
            total = avail
        if avail < ihl:
            self.stats.bad("short_ipv4")
            return None
        end = off + min(total, avail)
        frag = _unpack_h(data, off + 6)[0]
        proto = data[off + 9]
        src = data[off + 12:off + 16]
        dst = data[off + 16:off + 20]
        payload = data[off + ihl:end]
        if frag & 0x3FFF:  # MF set or offset non-zero
            if total > avail:
                self.stats.bad("fragment_cut")
                return None
            ident = _unpack_h(data, off + 4)[0]
            whole = self.defrag.add((4, src, dst, proto, ident), pkt.ts, (frag & 0x1FFF) * 8,
                                    bool(frag & 0x2000), payload, self.stats)
            if whole is None:
                return None
            payload = whole
            total = ihl + len(payload)
        pkt.ipver = 4
        pkt.src = src
        pkt.dst = dst
        pkt.ip_len = total
        return self._transport(pkt, proto, payload, depth)

    def _ipv6(self, pkt: Packet, data: bytes, off: int, depth: int) -> Packet | None:
        if len(data) < off + 40:
            self.stats.bad("short_ipv6")
            return None
        plen = _unpack_h(data, off + 4)[0]
        nxt = data[off + 6]
        src = data[off + 8:off + 24]
        dst = data[off + 24:off + 40]
        end = off + 40 + plen if plen else len(data)
        body = data[off + 40:min(end, len(data))]
        pos = 0
        frag_info: tuple[int, bool, int] | None = None
        for _ in range(16):  # bounded extension-header chain
            if nxt in IPV6_EXT:
                if len(body) < pos + 8:
                    self.stats.bad("short_ipv6_ext")
                    return None
                hdr_next = body[pos]
                hlen = (body[pos + 1] + 2) * 4 if nxt == 51 else (body[pos + 1] + 1) * 8
                nxt = hdr_next
                pos += hlen
            elif nxt == 44:
                if len(body) < pos + 8:
                    self.stats.bad("short_ipv6_frag")
                    return None
                offm = _unpack_h(body, pos + 2)[0]
                ident = struct.unpack_from("!I", body, pos + 4)[0]
                frag_info = ((offm >> 3) * 8, bool(offm & 1), ident)
                nxt = body[pos]
                pos += 8
            else:
                break
        else:
            self.stats.bad("ipv6_ext_chain")
            return None
        if pos > len(body):
            self.stats.bad("short_ipv6_ext")
            return None
        payload = body[pos:]
        if frag_info is not None and (frag_info[0] or frag_info[1]):
            whole = self.defrag.add((6, src, dst, frag_info[2]), pkt.ts, frag_info[0], frag_info[1],
                                    payload, self.stats)
            if whole is None:
                return None
            payload = whole
        pkt.ipver = 6
        pkt.src = src
        pkt.dst = dst
        pkt.ip_len = 40 + pos + len(payload)
        return self._transport(pkt, nxt, payload, depth)

    # -- layer 4 -------------------------------------------------------------------------

    def _transport(self, pkt: Packet, proto: int, payload: bytes, depth: int) -> Packet | None:
        pkt.proto = proto
        if proto == TCP:
            if len(payload) < 20:
                self.stats.bad("short_tcp")
                return None
            sport, dport, seq, ack, offx, flags = _unpack_tcp(payload, 0)
            doff = (offx >> 4) * 4
            if doff < 20 or doff > len(payload):
                self.stats.bad("bad_tcp_offset")
                return None
            pkt.sport, pkt.dport, pkt.seq, pkt.ack, pkt.flags = sport, dport, seq, ack, flags
            pkt.payload = payload[doff:]
            return pkt
        if proto == UDP:
            if len(payload) < 8:
                self.stats.bad("short_udp")
                return None
            sport, dport = _unpack_hh(payload, 0)
            ulen = _unpack_h(payload, 4)[0]
            if ulen < 8 or ulen > len(payload):
                # Wrong UDP length: keep what was captured (Wireshark does the same) but note it.
                if ulen != 0:
                    self.stats.by_reason["udp_length_mismatch"] = self.stats.by_reason.get("udp_length_mismatch", 0) + 1
                ulen = len(payload)
            pkt.sport, pkt.dport = sport, dport
            pkt.payload = payload[8:ulen]
            if depth < MAX_TUNNEL_DEPTH and (dport == 4789 or sport == 4789) and len(pkt.payload) > 8 + 14:
                inner = self._ethernet(_fresh(pkt.ts), pkt.payload, 8, depth + 1)
                if inner is not None:
                    inner.outer = pkt  # the tunnel itself is a UDP flow too
                    return inner
            return pkt
        if proto in (ICMP, ICMP6):
            if len(payload) < 4:
                self.stats.bad("short_icmp")
                return None
            pkt.sport, pkt.dport = payload[0], payload[1]
            pkt.payload = payload[4:]
            return pkt
        if depth < MAX_TUNNEL_DEPTH:
            if proto == 4:
                return self._ipv4(_fresh(pkt.ts), payload, 0, depth + 1)
            if proto == 41:
                return self._ipv6(_fresh(pkt.ts), payload, 0, depth + 1)
            if proto == 47:
                return self._gre(pkt, payload, depth + 1)
        pkt.payload = payload
        return pkt

    def _gre(self, outer: Packet, data: bytes, depth: int) -> Packet | None:
        if len(data) < 4:
            self.stats.bad("short_gre")
            return None
        flags, etype = _unpack_hh(data, 0)
        off = 4 + (4 if flags & 0x8000 else 0) + (4 if flags & 0x2000 else 0) + (4 if flags & 0x1000 else 0)
        if flags & 0x0007 == 1:  # enhanced GRE (PPTP): key present, maybe ack
            off = 8 + (4 if flags & 0x1000 else 0) + (4 if flags & 0x0080 else 0)
            if len(data) < off + 4 or etype != 0x880B:
                outer.payload = data
                return outer
            return self._ip_guess(_fresh(outer.ts), data, off + 4 if data[off:off + 2] == b"\xff\x03" else off + 2, depth)
        if len(data) < off:
            self.stats.bad("short_gre")
            return None
        inner = _fresh(outer.ts)
        if etype == 0x6558:
            return self._ethernet(inner, data, off, depth)
        if etype == 0x88BE:  # ERSPAN type II
            return self._ethernet(inner, data, off + 8, depth)
        if etype in (ETH_IPV4, ETH_IPV6):
            return self._ethertype(inner, data, off, etype, depth)
        outer.payload = data
        return outer


def _fresh(ts: float) -> Packet:
    return Packet(ts)


