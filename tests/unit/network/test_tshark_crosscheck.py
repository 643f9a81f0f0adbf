"""Cross-check against tshark (the reference) over every capture under shared/pcaps.

DNS query names and types, HTTP method/host/URI, TLS server names and JA3 must agree on >= 99% of
the messages (multiset comparison, per field), TCP and UDP flow counts must be within 1% of
tshark's ``-z conv,tcp`` / ``-z conv,udp``.

Running tshark once per file costs ~0.4 s x 980 files, so the captures are concatenated with
Wireshark's own ``mergecap -a`` and tshark reads that one file; our engine reads the same file
with tshark's conversation semantics (no idle/active timeouts). Files tshark's tools refuse to
merge (corrupt records) and near-duplicates whose TCP connections (same 5-tuple and initial
sequence number) would be glued to another file's by a merge, are compared one by one.
Byte-identical files are compared once.
"""

from __future__ import annotations

import collections
import hashlib
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from collectors.network.decode import TCP, Decoder
from collectors.network.engine import FlowConfig
from collectors.network.flows import ACK, SYN, flow_key
from collectors.network.pcapfile import NotACapture, ReadStats, iter_records
from collectors.network.service import CaptureReader

AGG = "\x1f"
FIELDS = ["frame.number", "dns.qry.name", "dns.qry.type", "http.request.method", "http.host", "http.request.uri",
          "tls.handshake.extensions_server_name", "tls.handshake.ja3"]
TSHARK_LIKE = FlowConfig(tcp_idle=1e12, udp_idle=1e12, other_idle=1e12, active_timeout=1e12)


class Tally:
    def __init__(self) -> None:
        self.dns: collections.Counter[tuple[str, int]] = collections.Counter()
        self.http: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.sni: collections.Counter[str] = collections.Counter()
        self.ja3: collections.Counter[str] = collections.Counter()
        self.conv: collections.Counter[str] = collections.Counter()


def _tshark(path: Path, into: Tally) -> None:
    args = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=/t", "-E", "aggregator=" + AGG]
    for name in FIELDS:
        args += ["-e", name]
    args += ["-z", "conv,tcp", "-z", "conv,udp"]
    out = subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=600, check=False).stdout
    section = None
    udp_pairs: set[tuple[str, ...]] = set()
    for line in out.split("\n"):
        if line.endswith("Conversations"):
            section = line.split()[0].lower()
            continue
        if section is not None:
            if "<->" in line:
                left, _, right = line.partition("<->")
                pair = tuple(sorted((left.strip(), right.split()[0])))
                if section == "udp":
                    # Some dissectors (SNMP) open one conversation per direction; tshark never
                    # splits UDP conversations otherwise, so distinct endpoint pairs are the flows.
                    udp_pairs.add(pair)
                else:
                    into.conv[section] += 1
            continue
        f = line.split("\t")
        if len(f) < len(FIELDS):
            continue
        if f[1]:
            for name, qtype in zip(f[1].split(AGG), f[2].split(AGG), strict=False):
                into.dns[(name, int(qtype))] += 1
        if f[3]:
            methods, uris = f[3].split(AGG), f[5].split(AGG)
            hosts = f[4].split(AGG) if f[4] else []
            if len(hosts) != len(methods):
                hosts = [hosts[0] if hosts and len(methods) == 1 else ""] * len(methods)
            for method, host, uri in zip(methods, hosts, uris, strict=False):
                into.http[(method, host, uri)] += 1
        if f[6]:
            for name in f[6].split(AGG):
                into.sni[name] += 1
        if f[7]:
            for digest in f[7].split(AGG):
                into.ja3[digest] += 1
    into.conv["udp"] += len(udp_pairs)


def _ours(paths: Iterable[Path], into: Tally) -> None:
    reader = CaptureReader(TSHARK_LIKE)
    for event in reader.read([[p] for p in paths]):
        doc = event.doc
        if event.dataset == "network.dns":
            z = doc["zeek"]["dns"]
            messages = ([z["questions"]] if z["saw_query"] else []) + (
                [z.get("reply_questions", z["questions"])] if z["saw_reply"] else [])
            for questions in messages:
                for name, qtype in questions:
                    into.dns[(name, qtype)] += 1
        elif event.dataset == "network.http":
            request = doc.get("http", {}).get("request", {})
            if "method" in request:
                into.http[(request["method"], doc["zeek"]["http"].get("host", ""), doc["url"]["original"])] += 1
        elif event.dataset == "network.tls":
            client = doc["tls"].get("client", {})
            hellos = doc["zeek"]["ssl"].get("client_hellos") or ([client] if client else [])
            for hello in hellos:
                if hello.get("server_name") is not None:
                    into.sni[hello["server_name"]] += 1
                into.ja3[hello["ja3"]] += 1
        elif event.dataset == "network.flow" and doc["network"]["transport"] in ("tcp", "udp"):
            into.conv[doc["network"]["transport"]] += 1


def _tcp_starts(path: Path) -> set[tuple[object, ...]] | None:
    """(flow key, ISN) of every SYN, or None when the file has damaged records."""
    stats = ReadStats()
    decoder = Decoder()
    starts: set[tuple[object, ...]] = set()
    try:
        with open(path, "rb") as fh:
            for ts, linktype, data, _orig in iter_records(fh, stats):
                pkt = decoder.decode(ts, linktype, data)
                if pkt is not None and pkt.proto == TCP and pkt.flags & (SYN | ACK) == SYN:
                    starts.add((flow_key(pkt), pkt.seq))
    except NotACapture:
        return None
    return None if stats.truncated or stats.bad_records else starts


def _agreement(ours: collections.Counter, theirs: collections.Counter) -> float:  # type: ignore[type-arg]
    denominator = max(sum(ours.values()), sum(theirs.values()))
    return sum((ours & theirs).values()) / denominator if denominator else 1.0


@pytest.fixture(scope="module")
def corpus(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], int]:
    assert shutil.which("tshark") and shutil.which("mergecap"), "tshark/mergecap missing: run scripts/bootstrap.sh"
    files = sorted(p for p in (shared_dir / "pcaps").rglob("*") if p.is_file() and ".pcap" in p.name)
    assert len(files) > 900
    unique: dict[str, Path] = {}
    for path in files:
        unique.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    mergeable: list[Path] = []
    singles: list[Path] = []
    seen_starts: set[tuple[object, ...]] = set()
    for path in unique.values():
        starts = _tcp_starts(path)
        if starts is None or starts & seen_starts:
            singles.append(path)
        else:
            mergeable.append(path)
            seen_starts |= starts
    merged = tmp_path_factory.mktemp("merged") / "all.pcapng"
    for _ in range(20):  # mergecap names the first file it refuses; compare that one alone
        done = subprocess.run(["mergecap", "-a", "-F", "pcapng", "-w", str(merged), *map(str, mergeable)],
                              capture_output=True, text=True, check=False)
        refused = [p for p in mergeable if f'"{p}"' in done.stderr]
        if not refused:
            break
        mergeable.remove(refused[0])
        singles.append(refused[0])
    assert merged.stat().st_size > 10_000_000
    return merged, singles, len(unique)


def test_agreement_with_tshark(corpus: tuple[Path, list[Path], int]) -> None:
    merged, singles, unique_count = corpus
    theirs, ours = Tally(), Tally()
    _tshark(merged, theirs)
    _ours([merged], ours)
    for path in singles:
        _tshark(path, theirs)
        _ours([path], ours)
    print(f"\n{unique_count} distinct captures: merged + {len(singles)} compared one by one")
    rates = {}
    for field, mine, ref in (("dns.question (name, type)", ours.dns, theirs.dns),
                             ("http.request (method, host, uri)", ours.http, theirs.http),
                             ("tls.client.server_name", ours.sni, theirs.sni),
                             ("tls.client.ja3", ours.ja3, theirs.ja3)):
        rates[field] = _agreement(mine, ref)
        print(f"{field:34s} ours={sum(mine.values()):5d} tshark={sum(ref.values()):5d} "
              f"agreement={rates[field]:.2%}  only-ours={sum((mine - ref).values())} "
              f"only-tshark={sum((ref - mine).values())}")
    for transport in ("tcp", "udp"):
        diff = abs(ours.conv[transport] - theirs.conv[transport]) / max(1, theirs.conv[transport])
        print(f"{transport} flows: ours={ours.conv[transport]} tshark conv={theirs.conv[transport]} diff={diff:.2%}")
        assert diff <= 0.01, transport
    assert sum(theirs.dns.values()) > 1000 and sum(theirs.http.values()) > 700 and sum(theirs.sni.values()) > 70
    for field, rate in rates.items():
        assert rate >= 0.99, field
