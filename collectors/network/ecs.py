"""ECS documents for network events, with the Zeek-derived fields that pySigma's
``ecs_zeek_beats`` pipeline maps Sigma's zeek conn/dns/http/ssl fields to (``zeek.connection.*``,
``zeek.dns.*``, ``zeek.ssl.*``, ``zeek.session_id``) plus Zeek's own ``id.orig_h``… which rules
use unmapped.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
from datetime import UTC, datetime
from typing import Any

from collectors.network.decode import ICMP, ICMP6, TCP, UDP
from collectors.network.flows import ICMP4_PAIRS, ICMP6_PAIRS, TRANSPORTS, Flow

# Which dataset a Sigma ``product: zeek`` service corresponds to (the pipeline adds an
# ``event.dataset: zeek.<service>`` condition; detections rewrite it with this table).
ZEEK_SERVICE_DATASETS = {"zeek.conn": "network.flow", "zeek.dns": "network.dns", "zeek.http": "network.http",
                         "zeek.ssl": "network.tls"}


# Zeek names the TLS service "ssl" (kept in zeek.connection.service); ECS says "tls".
ECS_PROTOCOL = {"ssl": "tls", "ssdp": "http"}


def ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def mac_text(raw: bytes | None) -> str | None:
    return raw.hex("-").upper() if raw else None


_last_second: list[Any] = [None, ""]


def iso_ts(ts: float) -> str:
    """``core.timeutil.iso`` for epoch seconds; the formatted second is reused (hot path)."""
    if not 0 <= ts < 253402300800:
        ts = 0.0
    second = int(ts)
    if _last_second[0] != second:
        _last_second[0] = second
        _last_second[1] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{_last_second[1]}{int((ts - second) * 1000):03d}Z"


def community_id(proto: int, saddr: bytes, daddr: bytes, sport: int, dport: int, seed: int = 0) -> str:
    """Community ID v1 (corelight/community-id-spec)."""
    one_way = False
    if proto in (ICMP, ICMP6):
        pairs = ICMP4_PAIRS if proto == ICMP else ICMP6_PAIRS
        if sport in pairs:
            dport = pairs[sport]
        else:
            one_way = True
    if not one_way and (saddr, sport) > (daddr, dport):
        saddr, daddr, sport, dport = daddr, saddr, dport, sport
    data = struct.pack("!H", seed) + saddr + daddr + struct.pack("!BB", proto, 0)
    if proto in (TCP, UDP, ICMP, ICMP6, 132):
        data += struct.pack("!HH", sport & 0xFFFF, dport & 0xFFFF)
    return "1:" + base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()


def endpoints(flow: Flow) -> dict[str, Any]:
    """source/destination/network/id fields shared by every event of a flow."""
    orig, resp = ip_text(flow.orig_h), ip_text(flow.resp_h)
    has_ports = flow.proto in (TCP, UDP, 132)
    source: dict[str, Any] = {"ip": orig, "address": orig}
    destination: dict[str, Any] = {"ip": resp, "address": resp}
    if has_ports:
        source["port"] = flow.orig_p
        destination["port"] = flow.resp_p
    if flow.orig_mac:
        source["mac"] = mac_text(flow.orig_mac)
    if flow.resp_mac:
        destination["mac"] = mac_text(flow.resp_mac)
    network: dict[str, Any] = {
        "transport": TRANSPORTS.get(flow.proto, str(flow.proto)),
        "type": f"ipv{flow.ipver}",
        "iana_number": str(flow.proto),
        "community_id": community_id(flow.proto, flow.orig_h, flow.resp_h, flow.orig_p, flow.resp_p),
    }
    if flow.vlan is not None:
        network["vlan"] = {"id": str(flow.vlan)}
    zid: dict[str, Any] = {"orig_h": orig, "resp_h": resp}
    if has_ports or flow.proto in (ICMP, ICMP6):
        zid["orig_p"] = flow.orig_p
        zid["resp_p"] = flow.resp_p
    return {"source": source, "destination": destination, "network": network, "id": zid,
            "related": {"ip": sorted({orig, resp})}}


def base_event(dataset: str, ts: float, created: str, category: list[str], kind_type: list[str]) -> dict[str, Any]:
    return {"@timestamp": iso_ts(ts),
            "event": {"kind": "event", "category": category, "type": kind_type, "dataset": dataset,
                      "module": "network", "created": created},
            "observer": {"type": "sensor", "vendor": "qinglang", "product": "qinglang-network"}}


def flow_doc(flow: Flow, uid: str, created: str) -> dict[str, Any]:
    doc = base_event("network.flow", flow.start, created, ["network"], ["connection", "end"])
    doc.update(endpoints(flow))
    duration_ns = max(0, int(round((flow.last - flow.start) * 1e9)))
    doc["event"].update({"start": iso_ts(flow.start), "end": iso_ts(flow.last), "duration": duration_ns,
                         "action": "network_flow"})
    doc["source"].update({"bytes": flow.orig_bytes, "packets": flow.orig_pkts})
    doc["destination"].update({"bytes": flow.resp_bytes, "packets": flow.resp_pkts})
    doc["network"].update({"bytes": flow.orig_ip_bytes + flow.resp_ip_bytes,
                           "packets": flow.orig_pkts + flow.resp_pkts})
    if flow.app and flow.app != "none":
        doc["network"]["protocol"] = ECS_PROTOCOL.get(flow.app, flow.app)
    missed = sum(s.missed for s in flow.streams) if flow.streams else 0
    connection: dict[str, Any] = {
        "conn_state": flow.conn_state(), "state": flow.conn_state(), "history": flow.full_history(),
        "missed_bytes": missed, "orig_ip_bytes": flow.orig_ip_bytes, "resp": {"ip_bytes": flow.resp_ip_bytes},
        "resp_ip_bytes": flow.resp_ip_bytes, "local_orig": None, "segment": flow.segment,
    }
    connection = {k: v for k, v in connection.items() if v is not None}
    if flow.icmp_type is not None:
        connection["icmp"] = {"type": flow.icmp_type, "code": flow.icmp_code}
    doc["zeek"] = {"session_id": uid, "connection": connection}
    if flow.app and flow.app != "none":
        doc["zeek"]["connection"]["service"] = flow.app
    return doc


def icmp_doc(flow: Flow, uid: str, created: str) -> dict[str, Any]:
    doc = flow_doc(flow, uid, created)
    doc["event"]["dataset"] = "network.icmp"
    doc["event"]["type"] = ["connection", "info"]
    doc["event"]["action"] = "icmp"
    doc["icmp"] = {"version": "4" if flow.proto == ICMP else "6", "type": flow.icmp_type, "code": flow.icmp_code}
    return doc
