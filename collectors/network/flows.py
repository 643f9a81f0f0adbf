"""Bidirectional flows: counters, TCP flag history and Zeek's connection state.

The originator is the side that sent the first packet (or the SYN side when a SYN-ACK is seen
first, marked ``^`` in the history as Zeek does). History letters are Zeek's: upper case for
the originator, lower case for the responder, each letter once per direction.
"""

from __future__ import annotations

from typing import Any

from collectors.network.decode import ICMP, ICMP6, TCP, UDP, Packet

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
# per-direction "seen" bits
S_SYN, S_SYNACK, S_FIN, S_RST, S_DATA, S_ACK = 1, 2, 4, 8, 16, 32

TRANSPORTS = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMP6: "ipv6-icmp", 47: "gre", 50: "esp", 51: "ah",
              132: "sctp", 2: "igmp", 89: "ospf", 103: "pim", 112: "vrrp"}
# ICMP request/reply pairs share a flow (Zeek and community id treat them as one conversation).
ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17, 10: 9, 9: 10}
ICMP6_PAIRS = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130}


def flow_key(pkt: Packet) -> tuple[Any, ...]:
    proto = pkt.proto
    src, dst = pkt.src, pkt.dst
    if proto in (TCP, UDP) or proto == 132:
        a, b = (src, pkt.sport), (dst, pkt.dport)
        return (proto, *a, *b) if a <= b else (proto, *b, *a)
    if proto in (ICMP, ICMP6):
        pairs = ICMP4_PAIRS if proto == ICMP else ICMP6_PAIRS
        kind = min(pkt.sport, pairs.get(pkt.sport, pkt.sport))
        return (proto, *sorted((src, dst)), kind, 0)
    return (proto, *sorted((src, dst)), 0, 0)


class Flow:
    __slots__ = ("key", "proto", "orig_h", "orig_p", "resp_h", "resp_p", "start", "last", "first_index",
                 "orig_pkts", "resp_pkts", "orig_bytes", "resp_bytes", "orig_ip_bytes", "resp_ip_bytes",
                 "orig_seen", "resp_seen", "history", "flipped", "vlan", "orig_mac", "resp_mac", "ipver",
                 "app", "app_tries", "streams", "dns_pending", "dns_tcp", "http", "tls", "closed", "icmp_type",
                 "icmp_code", "segment", "origin", "isn", "flow_id")

    def __init__(self, key: tuple[Any, ...], pkt: Packet, index: int, origin: str = "") -> None:
        self.key = key
        self.origin = origin  # identity of the capture file holding the first packet
        self.proto = pkt.proto
        self.orig_h, self.orig_p, self.resp_h, self.resp_p = pkt.src, pkt.sport, pkt.dst, pkt.dport
        self.flipped = False
        self.orig_mac, self.resp_mac = pkt.src_mac, pkt.dst_mac
        if pkt.proto == TCP and pkt.flags & (SYN | ACK) == (SYN | ACK):
            self._flip()
        self.icmp_type = pkt.sport if pkt.proto in (ICMP, ICMP6) else None
        self.icmp_code = pkt.dport if pkt.proto in (ICMP, ICMP6) else None
        self.start = self.last = pkt.ts
        self.first_index = index
        self.orig_pkts = self.resp_pkts = self.orig_bytes = self.resp_bytes = 0
        self.orig_ip_bytes = self.resp_ip_bytes = 0
        self.orig_seen = self.resp_seen = 0
        self.history = ""
        self.vlan = pkt.vlan
        self.ipver = pkt.ipver
        self.app: str | None = None
        self.app_tries = 0
        self.streams: list[Any] | None = None
        self.dns_pending: dict[tuple[int, str], tuple[Any, float, int]] | None = None
        self.http: Any = None
        self.dns_tcp: Any = None
        self.tls: Any = None
        self.closed = False
        self.segment = 0
        self.isn: int | None = None
        self.flow_id: str | None = None  # event id, computed once

    def continue_from(self, old: Flow) -> None:
        """A long connection cut by the active timeout: same sides, same parsers, next segment."""
        self.orig_h, self.orig_p, self.resp_h, self.resp_p = old.orig_h, old.orig_p, old.resp_h, old.resp_p
        self.orig_mac, self.resp_mac, self.flipped = old.orig_mac, old.resp_mac, old.flipped
        self.orig_seen, self.resp_seen, self.history = old.orig_seen, old.resp_seen, old.history
        self.app, self.app_tries, self.streams = old.app, old.app_tries, old.streams
        self.dns_pending, self.dns_tcp, self.http, self.tls = old.dns_pending, old.dns_tcp, old.http, old.tls
        self.segment = old.segment + 1
        for stream in self.streams or ():
            stream.consumer.flow = self
        old.streams = old.dns_pending = old.dns_tcp = old.http = old.tls = None

    def _flip(self) -> None:
        self.orig_h, self.orig_p, self.resp_h, self.resp_p = self.resp_h, self.resp_p, self.orig_h, self.orig_p
        self.orig_mac, self.resp_mac = self.resp_mac, self.orig_mac
        self.flipped = True

    def is_orig(self, pkt: Packet) -> bool:
        return pkt.src == self.orig_h and pkt.sport == self.orig_p and (
            pkt.dst != self.orig_h or pkt.dport == self.resp_p)

    def update(self, pkt: Packet, from_orig: bool) -> None:
        self.last = pkt.ts
        plen = len(pkt.payload) if self.proto != ICMP and self.proto != ICMP6 else len(pkt.payload) + 4
        if from_orig:
            self.orig_pkts += 1
            self.orig_bytes += plen
            self.orig_ip_bytes += pkt.ip_len
        else:
            self.resp_pkts += 1
            self.resp_bytes += plen
            self.resp_ip_bytes += pkt.ip_len
        if self.proto != TCP:
            return
        flags = pkt.flags
        seen = 0
        letters = ""
        if flags & SYN:
            if flags & ACK:
                seen |= S_SYNACK
                letters += "H"
            else:
                seen |= S_SYN
                letters += "S"
                if from_orig and self.isn is None:
                    self.isn = pkt.seq
        if flags & FIN:
            seen |= S_FIN
            letters += "F"
        if flags & RST:
            seen |= S_RST
            letters += "R"
        if pkt.payload:
            seen |= S_DATA
            letters += "D"
        elif flags & ACK and not flags & (SYN | FIN | RST):
            seen |= S_ACK
            letters += "A"
        if from_orig:
            new = seen & ~self.orig_seen
            self.orig_seen |= seen
        else:
            new = seen & ~self.resp_seen
            self.resp_seen |= seen
            letters = letters.lower()
        if new:
            for ch in letters:
                if ch not in self.history:
                    self.history += ch
        if (self.orig_seen & S_FIN and self.resp_seen & S_FIN) or seen & S_RST:
            self.closed = True

    def reused_by(self, pkt: Packet) -> bool:
        """A SYN that starts a new connection on this 5-tuple (after close, or a new ISN)."""
        if self.isn is not None:
            return pkt.seq != self.isn  # the same ISN again is a retransmitted SYN
        return self.closed or bool(self.orig_seen & S_DATA or self.resp_seen & S_DATA)

    def conn_state(self) -> str:
        if self.proto != TCP:
            return "SF" if self.resp_pkts and self.orig_pkts else ("S0" if self.orig_pkts else "SHR")
        o, r = self.orig_seen, self.resp_seen
        syn, synack = o & S_SYN, r & S_SYNACK
        if syn and not synack:
            if o & S_RST:
                return "RSTOS0"
            if r & S_RST:
                return "REJ"
            if o & S_FIN:
                return "SH"
            return "S0" if not r else "OTH"
        if synack and not syn:
            if r & S_RST:
                return "RSTRH"
            if r & S_FIN:
                return "SHR"
            return "OTH"
        if not syn and not synack:
            return "OTH"
        if o & S_RST:
            return "RSTO"
        if r & S_RST:
            return "RSTR"
        if o & S_FIN and r & S_FIN:
            return "SF"
        if o & S_FIN:
            return "S2"
        if r & S_FIN:
            return "S3"
        return "S1"

    def full_history(self) -> str:
        return ("^" if self.flipped else "") + self.history
