"""The packet → event engine: flow table, timeouts, application parsers, ARP tracking.

Feed decoded records with ``packet()``; completed events accumulate in ``out`` (drain it after
each call, it is never allowed to grow with the capture). ``finish()`` ends every open flow.
Memory is bounded by ``max_flows`` (oldest-idle flow evicted first, counted), per-stream
reassembly bounds and capped ARP tables.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from collectors.models import Event
from collectors.network import dns as dnsmod
from collectors.network import http as httpmod
from collectors.network import quic
from collectors.network.appevents import AppBuilder, TlsState
from collectors.network.decode import ARP_PROTO, TCP, UDP, Decoder, Packet
from collectors.network.flows import ACK, SYN, Flow, flow_key
from collectors.network.framing import H2_PREFACE, DnsOverTcp, Http2Frames
from collectors.network.reassembly import Stream
from collectors.network.tls import TlsError, looks_like_handshake, parse_client_hello

DNS_PORTS = frozenset((53, 5353, 5355))
HTTP_UDP_PORTS = frozenset((1900,))  # SSDP: HTTP messages in datagrams
MAX_DNS_PENDING = 256
MAX_ARP_TABLE = 65536


@dataclass(frozen=True)
class FlowConfig:
    tcp_idle: float = 300.0
    udp_idle: float = 60.0
    other_idle: float = 60.0
    active_timeout: float = 3600.0
    max_flows: int = 100_000
    scan_every: float = 5.0


@dataclass
class EngineStats:
    packets: int = 0
    decoded: int = 0
    flows: int = 0
    evicted: int = 0
    expired: int = 0
    app_errors: int = 0
    events: dict[str, int] = field(default_factory=dict)


class _DirConsumer:
    """Adapter: a reassembled byte stream of one direction → the flow's application parser."""

    __slots__ = ("engine", "flow", "from_orig")

    def __init__(self, engine: Engine, flow: Flow, from_orig: bool) -> None:
        self.engine, self.flow, self.from_orig = engine, flow, from_orig

    def data(self, chunk: bytes, ts: float, index: int) -> None:
        self.engine._app_data(self.flow, self.from_orig, chunk, ts, index)

    def gap(self, missing: int) -> None:
        self.engine._app_gap(self.flow, self.from_orig, missing)


class Engine:
    def __init__(self, source_id: str, created: str, config: FlowConfig | None = None) -> None:
        self.source_id = source_id
        self.config = config or FlowConfig()
        self.decoder = Decoder()
        self.stats = EngineStats()
        self.flows: OrderedDict[tuple[Any, ...], Flow] = OrderedDict()
        self.out: list[Event] = []
        self.build = AppBuilder(source_id, created, self.out, self.stats.events)
        self._last_scan = 0.0
        self._arp_seen: OrderedDict[tuple[Any, ...], float] = OrderedDict()
        self._arp_table: OrderedDict[bytes, bytes] = OrderedDict()

    def set_source(self, source_id: str) -> None:
        """Next file of a rotated set: open flows continue, new ids name the new file."""
        self.source_id = source_id
        self.build.source_id = source_id

    # -- packets -------------------------------------------------------------------------

    def packet(self, ts: float, linktype: int, data: bytes, index: int) -> None:
        self.stats.packets += 1
        pkt = self.decoder.decode(ts, linktype, data)
        if pkt is None:
            return
        self.stats.decoded += 1
        if pkt.proto == ARP_PROTO:
            self._arp(pkt, index)
            return
        if ts - self._last_scan >= self.config.scan_every or ts < self._last_scan:
            self._expire(ts)
            self._last_scan = ts
        if pkt.outer is not None:
            outer, pkt.outer = pkt.outer, None
            outer.payload = b""  # account the tunnel flow; its payload is the inner packet
            self._flow_packet(outer, index)
        self._flow_packet(pkt, index)

    def _flow_packet(self, pkt: Packet, index: int) -> None:
        ts = pkt.ts
        key = flow_key(pkt)
        flow = self.flows.get(key)
        if flow is not None:
            if ts - flow.last > self._idle(flow):
                self._end(self.flows.pop(key))
                self.stats.expired += 1
                flow = None
            elif pkt.proto == TCP and pkt.flags & (SYN | ACK) == SYN and flow.reused_by(pkt):
                self._end(self.flows.pop(key))  # port reuse: a new connection
                flow = None
            elif ts - flow.start > self.config.active_timeout:
                old = self.flows.pop(key)
                self._end(old, keep_app=True)
                flow = self._new_flow(key, pkt, index)
                flow.continue_from(old)
        if flow is None:
            flow = self._new_flow(key, pkt, index)
        else:
            self.flows.move_to_end(key)
        from_orig = flow.is_orig(pkt)
        flow.update(pkt, from_orig)
        if pkt.payload:
            if pkt.proto == UDP:
                if pkt.sport in DNS_PORTS or pkt.dport in DNS_PORTS:
                    self._dns_message(flow, pkt.payload, ts, index)
                elif pkt.dport in HTTP_UDP_PORTS or pkt.sport in HTTP_UDP_PORTS:
                    self._http_datagram(flow, pkt, from_orig, index)
                elif (flow.app is None or flow.app == "quic") and quic.is_initial(pkt.payload):
                    self._quic_initial(flow, pkt.payload)
            elif pkt.proto == TCP:
                self._tcp_payload(flow, pkt, from_orig, index)

    def _new_flow(self, key: tuple[Any, ...], pkt: Packet, index: int) -> Flow:
        flow = Flow(key, pkt, index, self.build.source_id)
        self.flows[key] = flow
        self.stats.flows += 1
        if len(self.flows) > self.config.max_flows:
            _old_key, victim = self.flows.popitem(last=False)
            self.stats.evicted += 1
            self._end(victim)
        return flow

    def _idle(self, flow: Flow) -> float:
        if flow.proto == TCP:
            return self.config.tcp_idle
        return self.config.udp_idle if flow.proto == UDP else self.config.other_idle

    def expire(self, now: float) -> None:
        """End flows idle longer than their timeout at wall time ``now`` (live capture)."""
        self._expire(now)

    def _expire(self, now: float) -> None:
        flows = self.flows
        for _ in range(len(flows)):
            key, flow = next(iter(flows.items()))
            if now - flow.last <= self._idle(flow):
                break
            del flows[key]
            self.stats.expired += 1
            self._end(flow)

    def finish(self) -> None:
        """End every open flow (events go to ``out``; prefer ``finish_iter`` for big tables)."""
        for _batch in self.finish_iter():
            pass

    def finish_iter(self, batch: int = 500) -> Iterator[list[Event]]:
        """End open flows a batch at a time, so a full flow table never becomes one huge list."""
        while self.flows:
            for _ in range(min(batch, len(self.flows))):
                _key, flow = self.flows.popitem(last=False)
                self._end(flow)
            events = list(self.out)
            self.out.clear()
            yield events

    # -- flow end ------------------------------------------------------------------------

    def _end(self, flow: Flow, keep_app: bool = False) -> None:
        uid = self.build.uid(flow)
        if not keep_app:
            if flow.streams:
                for stream in flow.streams:
                    stream.flush(flow.last, flow.first_index)
            if flow.http is not None:
                self.build.http_events(flow, flow.http.close(flow.last))
            if flow.tls is not None:
                self.build.tls_event(flow, flow.tls)
            if flow.dns_pending:
                for msg, ts, index in flow.dns_pending.values():
                    self.build.dns_event(flow, msg, None, ts, None, index)
                flow.dns_pending = None
        self.build.flow_event(flow, uid)

    # -- DNS -----------------------------------------------------------------------------

    def _dns_message(self, flow: Flow, payload: bytes, ts: float, index: int) -> None:
        try:
            msg = dnsmod.parse(payload)
        except dnsmod.DnsError:
            self.stats.app_errors += 1
            return
        if flow.app is None:
            flow.app = "dns"
        qname = msg.questions[0][0] if msg.questions else ""
        pending = flow.dns_pending
        if pending is None:
            pending = flow.dns_pending = {}
        if not msg.is_response:
            old = pending.pop((msg.id, qname), None)
            if old is not None:  # retransmitted query: the first one went unanswered
                self.build.dns_event(flow, old[0], None, old[1], None, old[2])
            pending[(msg.id, qname)] = (msg, ts, index)
            if len(pending) > MAX_DNS_PENDING:
                first = next(iter(pending))
                q, qts, qidx = pending.pop(first)
                self.build.dns_event(flow, q, None, qts, None, qidx)
            return
        query = pending.pop((msg.id, qname), None)
        if query is None:
            self.build.dns_event(flow, None, msg, ts, ts, index)
        else:
            self.build.dns_event(flow, query[0], msg, query[1], ts, query[2])

    def _quic_initial(self, flow: Flow, payload: bytes) -> None:
        if flow.tls is not None and (flow.tls.client is not None or flow.tls.quic is None):
            return
        if flow.tls is None:
            flow.app = "quic"
            flow.tls = TlsState()
            flow.tls.quic = quic.CryptoAssembler()
            flow.tls.transport = "q"
        try:
            frames = quic.crypto_frames(payload)
        except quic.QuicError:
            return  # server Initials use other keys; a non-QUIC lookalike simply isn't QUIC
        for offset, data in frames:
            stream = flow.tls.quic.add(offset, data)
            if stream is not None and stream[0] == 1:
                try:
                    hello = parse_client_hello(stream[4:4 + int.from_bytes(stream[1:4], "big")])
                    flow.tls.client = hello
                    flow.tls.hellos.append(hello)
                except TlsError:
                    self.stats.app_errors += 1
                flow.tls.quic = None
                return

    def _http_datagram(self, flow: Flow, pkt: Packet, from_orig: bool, index: int) -> None:
        payload = pkt.payload
        is_request = httpmod.looks_like_request(payload)
        if not is_request and not payload.startswith(b"HTTP/1."):
            return
        if flow.http is None:
            flow.app = "ssdp"
            flow.http = httpmod.HttpSession(client_is_orig=from_orig == is_request)
        session = flow.http
        side = session.client if is_request else session.server
        side.data(payload, pkt.ts, index)
        side.datagram_end(pkt.ts)
        if session.done:
            self.build.http_events(flow, session.take())

    # -- TCP applications ----------------------------------------------------------------

    def _tcp_payload(self, flow: Flow, pkt: Packet, from_orig: bool, index: int) -> None:
        if flow.app is None:
            payload = pkt.payload
            if flow.orig_p in DNS_PORTS or flow.resp_p in DNS_PORTS:
                flow.app = "dns"
                flow.dns_tcp = DnsOverTcp()
            elif httpmod.looks_like_request(payload) or payload.startswith(b"HTTP/1."):
                flow.app = "http"
                flow.http = httpmod.HttpSession(client_is_orig=from_orig == httpmod.looks_like_request(payload))
            elif payload.startswith(H2_PREFACE):
                flow.app = "http2"
                flow.dns_tcp = Http2Frames()
            elif looks_like_handshake(payload):
                flow.app = "ssl"
                flow.tls = TlsState()
            else:
                flow.app_tries += 1
                if flow.app_tries >= 4:
                    flow.app = "none"
                return
            flow.streams = [Stream(_DirConsumer(self, flow, True)), Stream(_DirConsumer(self, flow, False))]
        if flow.streams is None:
            return
        if flow.tls is not None and flow.tls.finished:
            return
        flow.streams[0 if from_orig else 1].feed(pkt.seq, pkt.payload, pkt.ts, index)

    def _app_data(self, flow: Flow, from_orig: bool, chunk: bytes, ts: float, index: int) -> None:
        if flow.app == "http":
            session = flow.http
            if session.tunnel:
                if flow.tls is None:
                    flow.tls = TlsState()
                flow.tls.data(from_orig, chunk)
                return
            client = session.client_is_orig == from_orig
            (session.client if client else session.server).data(chunk, ts, index)
            if session.done:
                self.build.http_events(flow, session.take())
        elif flow.app == "ssl":
            if not flow.tls.data(from_orig, chunk):
                self.stats.app_errors += 1
        elif flow.app == "dns" or flow.app == "http2":
            for message, mindex in flow.dns_tcp.data(from_orig, chunk, index):
                self._dns_message(flow, message, ts, mindex)

    def _app_gap(self, flow: Flow, from_orig: bool, missing: int) -> None:
        if flow.app == "http":
            session = flow.http
            client = session.client_is_orig == from_orig
            (session.client if client else session.server).gap(missing)
        elif flow.app == "ssl":
            flow.tls.gap(from_orig)
        elif flow.app == "dns" or flow.app == "http2":
            flow.dns_tcp.gap(from_orig)

    # -- ARP -----------------------------------------------------------------------------

    def _arp(self, pkt: Packet, index: int) -> None:
        assert pkt.arp is not None
        op, sha, spa, tha, tpa = pkt.arp
        key = (op, sha, spa, tha, tpa)
        seen = self._arp_seen.get(key)
        if seen is None or not 0 <= pkt.ts - seen <= 60.0:
            self.build.arp_event(pkt, index, None)
        self._arp_seen[key] = pkt.ts
        self._arp_seen.move_to_end(key)
        if len(self._arp_seen) > MAX_ARP_TABLE:
            self._arp_seen.popitem(last=False)
        if spa == b"\x00\x00\x00\x00":
            return  # ARP probe: no claim on an address yet
        known = self._arp_table.get(spa)
        if known is not None and known != sha:
            self.build.arp_event(pkt, index, known)
        self._arp_table[spa] = sha
        self._arp_table.move_to_end(spa)
        if len(self._arp_table) > MAX_ARP_TABLE:
            self._arp_table.popitem(last=False)
