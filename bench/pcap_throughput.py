"""pcap → ECS events throughput and memory, against tshark in the same run.

Builds a large capture in a temporary directory by concatenating the Ethernet samples under
shared/pcaps (timestamps shifted so the result is one monotonic capture), then measures:

* ours: ``collectors.network`` reading the file into ECS events, each serialised to JSON as the
  spool would (no Elasticsearch), in a child process so its peak RSS is its own;
* tshark: ``tshark -r FILE -T fields`` for the same fields (addresses, ports, DNS name/type,
  HTTP host/method/URI, TLS SNI) written to /dev/null.

Prints packets/s and MB/s for both, the ratio (goal >= 1.0) and peak RSS (goal <= 200 MB).

    .venv/bin/python bench/pcap_throughput.py            # ~300 MB capture
    .venv/bin/python bench/pcap_throughput.py --quick    # ~60 MB
    .venv/bin/python bench/pcap_throughput.py --size-mb 1000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TSHARK_FIELDS = ["frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
                 "udp.srcport", "udp.dstport", "dns.qry.name", "dns.qry.type", "http.host", "http.request.method",
                 "http.request.uri", "tls.handshake.extensions_server_name"]


def build_capture(shared: Path, out: Path, target_bytes: int) -> tuple[int, int]:
    """Concatenate Ethernet records of every sample until ``target_bytes``; (packets, bytes)."""
    from collectors.network.pcapfile import NotACapture, ReadStats, iter_records

    samples = sorted(p for p in (shared / "pcaps").rglob("*") if p.is_file() and ".pcap" in p.name)
    packets = 0
    clock = 1_700_000_000.0
    with open(out, "wb", buffering=1 << 20) as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        written = 24
        while written < target_bytes:
            for sample in samples:
                stats = ReadStats()
                first: float | None = None
                last = clock
                try:
                    with open(sample, "rb") as src:
                        for ts, linktype, data, orig in iter_records(src, stats):
                            if linktype != 1:
                                break
                            if first is None:
                                first = ts
                            last = clock + max(0.0, ts - first)
                            sec = int(last)
                            fh.write(struct.pack("<IIII", sec, int((last - sec) * 1e6), len(data), max(orig, len(data))))
                            fh.write(data)
                            written += 16 + len(data)
                            packets += 1
                except NotACapture:
                    continue
                clock = last + 1.0
                if written >= target_bytes:
                    break
    return packets, written


def worker(path: str) -> None:
    """Child process: read the capture into events, serialise them, report counts as JSON."""
    import orjson

    from collectors.network.service import CaptureReader

    reader = CaptureReader()
    started = time.perf_counter()
    events = 0
    encoded = 0
    for event in reader.read([[Path(path)]]):
        encoded += len(orjson.dumps(event.doc))
        events += 1
    seconds = time.perf_counter() - started
    summary = reader.summary()
    print(json.dumps({"seconds": seconds, "packets": summary.packets, "events": events, "json_bytes": encoded,
                      "flows": summary.flows, "evicted": summary.evicted_flows, "by_dataset": summary.events}))


def _run(cmd: list[str], stdout: int | None) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS (bytes) of the child, its stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read() if proc.stdout is not None else b""
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss * 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="a ~60 MB capture")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    if not shutil.which("tshark"):
        raise SystemExit("tshark not found: install it (scripts/bootstrap.sh)")
    size = 60 if args.quick else args.size_mb
    with tempfile.TemporaryDirectory(prefix="pcap-bench-") as tmp:
        capture = Path(tmp) / "big.pcap"
        packets, nbytes = build_capture(args.shared, capture, size * 1024 * 1024)
        mb = nbytes / 1e6
        print(f"capture: {capture.name} {mb:.1f} MB, {packets} packets (samples concatenated)")

        ours_s, ours_rss, out = _run([sys.executable, __file__, "--worker", str(capture)], None)
        ours = json.loads(out)
        fields: list[str] = []
        for name in TSHARK_FIELDS:
            fields += ["-e", name]
        with open(os.devnull, "wb") as devnull:
            tshark_s, tshark_rss, _ = _run(["tshark", "-n", "-r", str(capture), "-T", "fields", *fields],
                                           devnull.fileno())

    ours_pps, tshark_pps = packets / ours_s, packets / tshark_s
    print(f"ours  : {ours_s:7.2f} s  {ours_pps:9.0f} packets/s  {mb / ours_s:7.1f} MB/s  peak RSS "
          f"{ours_rss / 2**20:6.1f} MB  ({ours['events']} events, {ours['flows']} flows, "
          f"{ours['json_bytes'] / 1e6:.0f} MB of JSON)")
    print(f"tshark: {tshark_s:7.2f} s  {tshark_pps:9.0f} packets/s  {mb / tshark_s:7.1f} MB/s  peak RSS "
          f"{tshark_rss / 2**20:6.1f} MB  (-T fields, {len(TSHARK_FIELDS)} fields)")
    ratio = ours_pps / tshark_pps
    print(f"ratio ours/tshark: {ratio:.2f}  (goal >= 1.0: {'met' if ratio >= 1.0 else 'NOT met'}); "
          f"peak RSS {ours_rss / 2**20:.0f} MB (goal <= 200 MB: {'met' if ours_rss <= 200 * 2**20 else 'NOT met'})")
    print("events by dataset:", ours["by_dataset"])


if __name__ == "__main__":
    main()
