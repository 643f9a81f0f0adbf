"""Network collector operations: read captures into ECS events, import them into Elasticsearch.

``soc collect pcap PATH...``: each file is its own capture; a directory is a set of rotated
captures read in name order as one continuous capture (flows carry over between files).
Events go through ``collectors.service.ship_events`` (spool + bulk shipper, op_type=create).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from collectors.models import Event
from collectors.network.engine import Engine, FlowConfig
from collectors.network.models import CaptureSummary, PcapImportSummary
from collectors.network.pcapfile import NotACapture, ReadStats, iter_records
from core.errors import InvalidInput
from core.es import Store
from core.ids import file_digest
from core.settings import Settings
from core.timeutil import iso, utcnow

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".dmp")  # also gzipped: trace.pcap.gz
GZIP_MAGIC = b"\x1f\x8b"
PROGRESS_EVERY = 2048


@dataclass
class CaptureReader:
    """Reads captures into events; keeps running totals for the summary."""

    config: FlowConfig = field(default_factory=FlowConfig)
    progress: Callable[[int], None] | None = None  # called with bytes read since last call
    packets: int = 0
    bytes: int = 0
    flows: int = 0
    parse_errors: int = 0
    evicted: int = 0
    unsupported: int = 0
    events: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    last_file: str = ""

    def read(self, groups: Sequence[Sequence[Path]]) -> Iterator[Event]:
        """Each group is one continuous capture (one file, or a directory's rotated files)."""
        for group in groups:
            engine = Engine("", iso(utcnow()), self.config)
            for path in group:
                yield from self._read_file(engine, path)
            for events in engine.finish_iter():
                # Flows still open at the end of a capture set belong to its last file.
                yield from _named(events, self.last_file)
            self._absorb(engine)

    def _read_file(self, engine: Engine, path: Path) -> Iterator[Event]:
        self.files.append(str(path))
        try:
            engine.set_source(f"pcap:{file_digest(str(path))}")
            raw = open(path, "rb", buffering=1 << 20)  # noqa: SIM115  (closed in finally; generator)
        except OSError as exc:
            self.file_errors.append(f"{path}: {exc.strerror or exc}")
            return
        # tcpdump/dumpcap rotations are often gzipped: read them as they are, progress in
        # compressed bytes (what the bar's total counts).
        fh: BinaryIO = cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb")) if _is_gzip(raw) else raw
        file_path = str(path.resolve())
        stats = ReadStats()
        out = engine.out
        packet = engine.packet
        last_pos = 0
        try:
            for index, (ts, linktype, data, _orig) in enumerate(iter_records(fh, stats), start=1):
                packet(ts, linktype, data, index)
                if out:
                    yield from _named(out, file_path)
                    out.clear()
                if self.progress is not None and index % PROGRESS_EVERY == 0:
                    pos = raw.tell()
                    self.progress(pos - last_pos)
                    last_pos = pos
        except NotACapture as exc:
            self.file_errors.append(f"{path}: {exc}")
        except (OSError, EOFError, zlib.error) as exc:
            # A corrupt or cut gzip stream: what was decoded so far is kept, like a truncated pcap.
            stats.truncated += 1
            self.file_errors.append(f"{path}: {exc}")
        finally:
            if self.progress is not None:
                try:
                    self.progress(max(0, path.stat().st_size - last_pos))
                except OSError:
                    pass
            fh.close()
            raw.close()
            self.last_file = file_path
            self.packets += stats.packets
            self.bytes += stats.bytes
            for reason, n in (("truncated_file", stats.truncated), ("bad_record", stats.bad_records),
                              ("snaplen_cut", stats.snaplen_cut)):
                if n:
                    self.reasons[reason] = self.reasons.get(reason, 0) + n
            self.parse_errors += stats.truncated + stats.bad_records

    def _absorb(self, engine: Engine) -> None:
        self.flows += engine.stats.flows
        self.evicted += engine.stats.evicted
        self.parse_errors += engine.decoder.stats.malformed + engine.stats.app_errors
        self.unsupported += engine.decoder.stats.unsupported
        for reason, n in engine.decoder.stats.by_reason.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n
        if engine.stats.app_errors:
            self.reasons["application"] = self.reasons.get("application", 0) + engine.stats.app_errors
        for dataset, n in engine.stats.events.items():
            self.events[dataset] = self.events.get(dataset, 0) + n

    def summary(self) -> CaptureSummary:
        return CaptureSummary(files=list(self.files), packets=self.packets, bytes=self.bytes, flows=self.flows,
                              events=dict(self.events), parse_errors=self.parse_errors,
                              errors_by_reason=dict(self.reasons), evicted_flows=self.evicted,
                              unsupported=self.unsupported, file_errors=list(self.file_errors))


def _is_gzip(fh: BinaryIO) -> bool:
    magic = fh.peek(2)[:2] if hasattr(fh, "peek") else b""
    return magic == GZIP_MAGIC


def _named(events: Iterable[Event], file_path: str) -> Iterator[Event]:
    """Every network event names the capture file it was read from (``log.file.path``)."""
    for event in events:
        log = event.doc.setdefault("log", {})
        log.setdefault("file", {}).setdefault("path", file_path)
        yield event


def capture_groups(paths: Sequence[Path]) -> list[list[Path]]:
    """Files stand alone; a directory is one rotated capture set (its capture files by name)."""
    groups: list[list[Path]] = []
    missing = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and _is_capture_name(p.name))
            if not files:
                raise InvalidInput(f"No capture files (*.pcap, *.pcapng, *.cap, also .gz) in {path}. Check the directory.")
            groups.append(files)
        elif path.is_file():
            groups.append([path])
        else:
            missing.append(str(path))
    if missing:
        raise InvalidInput(f"Not a readable file or directory: {', '.join(missing)}. Check the paths.")
    return groups


def _is_capture_name(name: str) -> bool:
    # rotated names: trace.pcap, trace.pcap1, trace.pcap.2, trace-0001.pcapng
    lowered = name.lower()
    return any(s in lowered for s in CAPTURE_SUFFIXES)


def capture_size(groups: Sequence[Sequence[Path]]) -> int:
    return sum(p.stat().st_size for group in groups for p in group)


def read_captures(paths: Sequence[Path], *, config: FlowConfig | None = None) -> tuple[list[Event], CaptureSummary]:
    """All events of small captures in memory (tests, tools); use ``import_pcaps`` for real imports."""
    reader = CaptureReader(config or FlowConfig())
    events = list(reader.read(capture_groups(paths)))
    return events, reader.summary()


def iter_capture_events(paths: Sequence[Path], reader: CaptureReader) -> Iterator[Event]:
    return reader.read(capture_groups(paths))


def import_pcaps(settings: Settings, store: Store, paths: Sequence[Path], *, config: FlowConfig | None = None,
                 progress: Callable[[int], None] | None = None, organization: str | None = None
                 ) -> PcapImportSummary:
    """Read pcap/pcapng files (or rotated-capture directories) and ship their events.

    ``progress(n)`` receives bytes of capture read since the previous call; ``organization``
    (``--org``) is the department of every event (else the collect settings' maps decide).
    """
    from collectors.organization import fixed_org
    from collectors.service import ship_events

    organization = fixed_org(organization)
    groups = capture_groups(paths)
    reader = CaptureReader(config or FlowConfig(), progress=progress)
    shipped = ship_events(settings, store, reader.read(groups), source="pcap",
                          parse_failures=lambda: reader.parse_errors, organization=organization)
    return PcapImportSummary(capture=reader.summary(), shipped=shipped.shipped, duplicates=shipped.duplicates,
                             dead_lettered=shipped.dead_lettered, failed=shipped.failed, seconds=shipped.seconds,
                             error=shipped.error, unassigned=shipped.unassigned)
