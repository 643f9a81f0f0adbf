"""Application events (DNS, HTTP, TLS, ARP) and flow records as ``collectors.models.Event``.

Ids follow design.md for pcaps: (file digest = ``source_id``, flow key, first packet index of
the flow or transaction), so re-importing a capture re-creates the same ids.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from collectors.models import Event
from collectors.network import dns as dnsmod
from collectors.network import ecs
from collectors.network import tls as tlsmod
from collectors.network.decode import ICMP, ICMP6, Packet
from collectors.network.flows import Flow
from collectors.network.http import Transaction
from collectors.network.scapy_io import cipher_name
from core.ids import stable_id


class TlsState:
    """Buffers each direction's first handshake bytes until its hello is parsed (≤ 64 KiB)."""

    __slots__ = ("bufs", "client", "hellos", "server", "done", "quic", "transport")

    def __init__(self) -> None:
        self.bufs = [bytearray(), bytearray()]
        self.client: tlsmod.ClientHello | None = None
        self.hellos: list[tlsmod.ClientHello] = []
        self.server: tlsmod.ServerHello | None = None
        self.done = [False, False]
        self.quic: Any = None  # QUIC CRYPTO stream assembler while the ClientHello is incomplete
        self.transport = "t"

    @property
    def finished(self) -> bool:
        return self.done[0] and self.done[1]

    def data(self, from_orig: bool, chunk: bytes) -> bool:
        side = 0 if from_orig else 1
        if self.done[side]:
            return True
        buf = self.bufs[side]
        buf += chunk
        if buf[0] != 22:
            self._stop(side)
            return True
        try:
            messages = tlsmod.handshake_messages(bytes(buf))
            for number, (mtype, body) in enumerate(messages):
                if mtype == 1 and number >= len(self.hellos):
                    # a second ClientHello answers a HelloRetryRequest
                    self.hellos.append(tlsmod.parse_client_hello(body))
                    if self.client is None:
                        self.client = self.hellos[0]
                    if len(self.hellos) >= 2:
                        self._stop(side)
                elif mtype == 2 and self.server is None:
                    self.server = tlsmod.parse_server_hello(body)
                    self._stop(side)
                elif mtype != 1 and side == 0:
                    self._stop(side)
                if self.done[side]:
                    break
        except tlsmod.TlsError:
            self._stop(side)
            return False
        if len(buf) > tlsmod.MAX_HANDSHAKE or (buf and not self.done[side] and _past_handshake(buf)):
            self._stop(side)
        return True

    def gap(self, from_orig: bool) -> None:
        self._stop(0 if from_orig else 1)

    def _stop(self, side: int) -> None:
        self.done[side] = True
        self.bufs[side] = bytearray()


def _past_handshake(buf: bytearray) -> bool:
    """True once the stream holds a record that is neither handshake nor ChangeCipherSpec."""
    pos = 0
    while pos + 5 <= len(buf):
        if buf[pos] not in (20, 22):
            return True
        pos += 5 + int.from_bytes(buf[pos + 3:pos + 5], "big")
    return False


class AppBuilder:
    def __init__(self, source_id: str, created: str, out: list[Event], counts: dict[str, int]) -> None:
        self.source_id = source_id
        self.created = created
        self.out = out
        self.counts = counts
        self.observer: dict[str, Any] = {}  # live capture: hostname and interface

    def _emit(self, event_id: str, dataset: str, doc: dict[str, Any]) -> None:
        if self.observer:
            doc["observer"].update(self.observer)
        self.out.append(Event(event_id, dataset, doc))
        self.counts[dataset] = self.counts.get(dataset, 0) + 1

    def flow_id(self, flow: Flow) -> str:
        if flow.flow_id is None:
            flow.flow_id = stable_id(flow.origin, "flow", flow.key, flow.first_index)
        return flow.flow_id

    def uid(self, flow: Flow) -> str:
        return "C" + self.flow_id(flow)[:17]

    def flow_event(self, flow: Flow, uid: str) -> None:
        if flow.proto in (ICMP, ICMP6):
            self._emit(stable_id(flow.origin, "icmp", flow.key, flow.first_index), "network.icmp",
                       ecs.icmp_doc(flow, uid, self.created))
        else:
            self._emit(self.flow_id(flow), "network.flow", ecs.flow_doc(flow, uid, self.created))

    def _app_doc(self, flow: Flow, dataset: str, ts: float, category: list[str], types: list[str]) -> dict[str, Any]:
        doc = ecs.base_event(dataset, ts, self.created, category, types)
        doc.update(ecs.endpoints(flow))
        doc["network"]["protocol"] = dataset.split(".", 1)[1] if dataset != "network.tls" else "tls"
        doc["zeek"] = {"session_id": self.uid(flow)}
        return doc

    # -- DNS -----------------------------------------------------------------------------

    def dns_event(self, flow: Flow, query: dnsmod.DnsMessage | None, reply: dnsmod.DnsMessage | None,
                  ts: float, reply_ts: float | None, index: int) -> None:
        msg = query or reply
        assert msg is not None
        doc = self._app_doc(flow, "network.dns", ts, ["network"], ["protocol"])
        name, qtype, qclass = msg.questions[0] if msg.questions else ("", 0, 0)
        dns: dict[str, Any] = {"id": str(msg.id), "type": "answer" if reply else "query",
                               "op_code": dnsmod.OPCODES.get(msg.opcode, str(msg.opcode))}
        if msg.questions:
            dns["question"] = {"name": name, "type": dnsmod.type_name(qtype),
                               "class": dnsmod.QCLASSES.get(qclass & 0x7FFF, str(qclass))}
        zeek_dns: dict[str, Any] = {"trans_id": msg.id, "qtype": qtype, "qclass": qclass,
                                    "RD": bool(msg.flags & 0x0100), "saw_query": query is not None,
                                    "saw_reply": reply is not None,
                                    "questions": [[q[0], q[1]] for q in msg.questions]}
        if query is not None:
            zeek_dns["query_index"] = index
            if reply is not None and reply.questions != query.questions:
                zeek_dns["reply_questions"] = [[q[0], q[1]] for q in reply.questions]
        if reply is not None:
            flags = reply.flags
            dns["header_flags"] = dnsmod.header_flags(flags)
            dns["response_code"] = dnsmod.RCODES.get(reply.rcode, str(reply.rcode))
            zeek_dns.update({"AA": bool(flags & 0x0400), "TC": bool(flags & 0x0200), "RA": bool(flags & 0x0080),
                             "Z": (flags >> 4) & 0x7, "rcode": reply.rcode, "rejected": reply.rcode == 5})
            if reply.answers:
                dns["answers"] = reply.answers
                resolved = [a["data"] for a in reply.answers if a["type"] in ("A", "AAAA")]
                if resolved:
                    dns["resolved_ip"] = resolved
                zeek_dns["answers"] = [a["data"] for a in reply.answers]
                zeek_dns["TTLs"] = [a["ttl"] for a in reply.answers]
            if reply_ts is not None and query is not None:
                doc["event"]["duration"] = max(0, int(round((reply_ts - ts) * 1e9)))
        elif query is not None:
            zeek_dns["Z"] = (query.flags >> 4) & 0x7
        doc["dns"] = dns
        doc["zeek"]["dns"] = zeek_dns
        self._emit(stable_id(flow.origin, "dns", flow.key, index, msg.id), "network.dns", doc)

    # -- HTTP ----------------------------------------------------------------------------

    def http_events(self, flow: Flow, transactions: list[Transaction]) -> None:
        for tx in transactions:
            ts = tx.ts if tx.index >= 0 else (tx.end_ts or flow.start)
            doc = self._app_doc(flow, "network.http", ts, ["network", "web"], ["access", "protocol"])
            http: dict[str, Any] = {"request": {}, "response": {}}
            zeek_http: dict[str, Any] = {"trans_depth": tx.depth}
            if tx.method:
                host = tx.headers.get("host", "")
                http["request"] = {"method": tx.method, "body": {"bytes": tx.request_body}}
                if tx.headers.get("referer"):
                    http["request"]["referrer"] = tx.headers["referer"]
                if tx.headers.get("content-type"):
                    http["request"]["mime_type"] = tx.headers["content-type"]
                if tx.version:
                    http["version"] = tx.version
                doc["url"] = _url(tx.uri, host)
                if host:
                    doc["destination"]["domain"] = doc["url"].get("domain", host)
                    zeek_http["host"] = host
                ua = tx.headers.get("user-agent")
                if ua:
                    doc["user_agent"] = {"original": ua}
                    zeek_http["user_agent"] = ua
                zeek_http["client_header_names"] = tx.header_names
                if tx.request_mime:
                    zeek_http["orig_mime_types"] = [tx.request_mime]
                zeek_http["uri"] = tx.uri
            if tx.status is not None:
                http["response"] = {"status_code": tx.status, "body": {"bytes": tx.response_body}}
                ctype = tx.response_headers.get("content-type")
                if ctype:
                    http["response"]["mime_type"] = ctype.split(";")[0].strip()
                zeek_http["status_msg"] = tx.reason
                if tx.response_mime:
                    zeek_http["resp_mime_types"] = [tx.response_mime]
                if tx.end_ts is not None and tx.index >= 0:
                    doc["event"]["duration"] = max(0, int(round((tx.end_ts - tx.ts) * 1e9)))
                doc["event"]["outcome"] = "success" if tx.status < 400 else "failure"
            http = {k: v for k, v in http.items() if v}
            doc["http"] = http
            doc["zeek"]["http"] = zeek_http
            position = tx.index if tx.index >= 0 else f"reply-{flow.first_index}-{tx.depth}"
            self._emit(stable_id(flow.origin, "http", flow.key, position), "network.http", doc)

    # -- TLS -----------------------------------------------------------------------------

    def tls_event(self, flow: Flow, state: TlsState) -> None:
        hello, server = state.client, state.server
        if hello is None and server is None:
            return
        doc = self._app_doc(flow, "network.tls", flow.start, ["network"], ["protocol"])
        tls: dict[str, Any] = {}
        zeek_ssl: dict[str, Any] = {}
        if hello is not None:
            ja3_text, ja3_hash = tlsmod.ja3(hello)
            client: dict[str, Any] = {"ja3": ja3_hash, "ja4": tlsmod.ja4(hello, state.transport),
                                      "supported_ciphers": [cipher_name(c) for c in hello.ciphers
                                                            if c not in tlsmod.GREASE]}
            offered = [v for v in hello.supported_versions if v not in tlsmod.GREASE] or [hello.version]
            client["offered_versions"] = [tlsmod.version_text(v) for v in offered]
            if len(state.hellos) > 1:
                client["hello_count"] = len(state.hellos)
                # a HelloRetryRequest makes the client say hello twice; keep both fingerprints
                zeek_ssl["client_hellos"] = [{"server_name": h.server_name, "ja3": tlsmod.ja3(h)[1],
                                              "ja4": tlsmod.ja4(h, state.transport)} for h in state.hellos]
            if hello.server_name is not None:
                client["server_name"] = hello.server_name
                doc["destination"]["domain"] = hello.server_name
                zeek_ssl["server_name"] = hello.server_name
            if hello.alpn:
                tls["next_protocol"] = hello.alpn[0]
            tls["client"] = client
            zeek_ssl["ja3_string"] = ja3_text
        if server is not None:
            chosen = server.selected_version or server.version
            tls["version"] = tlsmod.version_text(chosen)
            tls["version_protocol"] = "tls" if chosen < 0xFE00 else "dtls"
            tls["cipher"] = cipher_name(server.cipher)
            tls["server"] = {"ja3s": tlsmod.ja3s(server)[1]}
            zeek_ssl.update({"version": f"TLSv{tls['version'].replace('.', '')}" if chosen >= 0x0301 and chosen < 0xFE00
                             else tls["version"], "cipher": tls["cipher"]})
        tls["established"] = server is not None
        doc["tls"] = tls
        doc["zeek"]["ssl"] = zeek_ssl
        self._emit(stable_id(flow.origin, "tls", flow.key, flow.first_index), "network.tls", doc)

    # -- ARP -----------------------------------------------------------------------------

    def arp_event(self, pkt: Packet, index: int, previous_mac: bytes | None) -> None:
        assert pkt.arp is not None
        op, sha, spa, tha, tpa = pkt.arp
        action = {1: "arp-request", 2: "arp-reply"}.get(op, f"arp-op-{op}")
        doc = ecs.base_event("network.arp", pkt.ts, self.created, ["network"], ["info"])
        sender_ip, target_ip = ecs.ip_text(spa), ecs.ip_text(tpa)
        doc["source"] = {"ip": sender_ip, "mac": ecs.mac_text(sha)}
        doc["destination"] = {"ip": target_ip, "mac": ecs.mac_text(tha)}
        doc["network"] = {"protocol": "arp", "type": "ipv4"}
        doc["related"] = {"ip": sorted({sender_ip, target_ip})}
        if pkt.vlan is not None:
            doc["network"]["vlan"] = {"id": str(pkt.vlan)}
        doc["arp"] = {"operation": action.removeprefix("arp-"), "sender": {"ip": sender_ip, "mac": ecs.mac_text(sha)},
                      "target": {"ip": target_ip, "mac": ecs.mac_text(tha)}}
        doc["event"]["action"] = action
        kind = "arp"
        if previous_mac is not None:
            kind = "arp-moved"
            doc["event"]["action"] = "arp-ip-mac-changed"
            doc["event"]["type"] = ["change"]
            doc["arp"]["previous_mac"] = ecs.mac_text(previous_mac)
            doc["message"] = f"{sender_ip} moved from {ecs.mac_text(previous_mac)} to {ecs.mac_text(sha)}"
        self._emit(stable_id(self.source_id, kind, index), "network.arp", doc)


def _url(uri: str, host: str) -> dict[str, Any]:
    url: dict[str, Any] = {"original": uri}
    target = uri if "://" in uri else None
    try:
        parts = urlsplit(target if target else "http://" + (host or "localhost") + (uri if uri.startswith("/") else "/" + uri))
        domain = parts.hostname or ""
        port = parts.port
    except ValueError:
        return url
    if domain and (host or target):
        url["domain"] = domain
    if port:
        url["port"] = port
    url["path"] = parts.path
    if parts.query:
        url["query"] = parts.query
    last = parts.path.rsplit("/", 1)[-1]
    if "." in last:
        url["extension"] = last.rsplit(".", 1)[-1].lower()
    return url
