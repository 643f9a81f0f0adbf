"""Collector operations: one-shot imports (``ship_events`` and the file/EVTX imports built on
it), the daemon (``run_daemon``) and its status.

Every path goes through the durable spool and the bulk shipper (``collectors.shipper``):
deterministic ids and ``op_type=create`` make replays harmless, the spool cursor moves only
after Elasticsearch acknowledged.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from collectors.counters import Counters, pid_alive, read_status
from collectors.import_spool import drain_leftovers, imports_root, ship_loop
from collectors.models import Event
from collectors.organization import Organizer, fixed_org
from collectors.shipper import encode, ensure_indices, shipper_for
from collectors.spool import Spool
from core import scope as core_scope
from core.auditing import Actor, Auditor
from core.errors import InvalidInput, PermissionDenied, SocError, Unavailable
from core.es import Store
from core.permissions import requires
from core.pii.config import guard_from_settings
from core.scope import DISTRICT
from core.settings import Settings
from core.shard_budget import require_room

APPEND_CHUNK = 500


@dataclass(frozen=True)
class ShipSummary:
    """What a one-shot import did. ``failed`` events are neither stored nor dead-lettered:
    they stay in the import's spool and are sent by the next import or daemon start."""

    source: str
    read: int = 0
    shipped: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    failed: int = 0
    parse_failures: int = 0
    unassigned: int = 0
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def complete(self) -> bool:
        return self.failed == 0 and self.error is None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:48] or "import"


def ship_events(settings: Settings, store: Store, events: Iterable[Event], *, source: str,
                progress: Callable[[int], None] | None = None,
                give_up_after: float | None = None,
                parse_failures: Callable[[], int] | None = None,
                organization: str | None = None) -> ShipSummary:
    """Ship a finite stream of events through a spool of its own; block until acknowledged.

    ``progress(n)`` is called with the number of events just read (an increment, as for
    ``click.progressbar.update``). While Elasticsearch is unreachable the shipper retries with
    backoff for up to ``give_up_after`` seconds (default ``collect.give_up_seconds``); events
    not stored by then are reported as ``failed`` and kept in the spool for the next run.
    An exception from ``events`` stops reading, but what was read is shipped first and the
    error is reported in ``error``.

    ``organization`` (``--org``) is the department of every event; otherwise the collect
    settings' maps decide (``collectors.organization``), and events matching none belong to the
    district — or, for an import run inside a department's scope, to that department.
    """
    organization = fixed_org(organization)
    scope = core_scope.current()
    if organization is not None and scope is not None and not scope.allows(organization):
        raise PermissionDenied(f"--org {organization}: that department is outside your scope.")
    started = time.monotonic()
    prefix = settings.index_prefix
    give_up = float(give_up_after if give_up_after is not None else settings.collect.give_up_seconds)
    ensure_indices(store, prefix)
    # Refused before anything is read: an import never stops half-way on the shard limit.
    require_room(store, settings.events, 1, f"Importing {source} events")
    drain_leftovers(settings, store, give_up)
    guard = guard_from_settings(settings)
    inside = scope if scope is not None and scope.restricted else None
    organizer = Organizer.from_settings(settings.collect, fallback=inside.home if inside else DISTRICT,
                                        allowed=inside.allows if inside else None)
    counters = Counters()
    counters.declare(source, "import")
    spool_dir = imports_root(settings) / f"{_safe(source)}-{uuid.uuid4().hex[:12]}"
    spool = Spool(spool_dir, max_bytes=settings.collect.spool_max_bytes)
    shipper = shipper_for(settings, store, spool, counters)
    stop, done, gave_up = threading.Event(), threading.Event(), threading.Event()
    thread = threading.Thread(target=ship_loop, args=(shipper, spool, done, gave_up, stop, give_up),
                              name=f"ship-{source}", daemon=True)
    thread.start()
    read = 0
    error: str | None = None
    buf: list[bytes] = []

    def flush() -> bool:
        nonlocal buf
        if buf and not spool.append(buf, block=True, stop=gave_up):
            return False
        if progress is not None and buf:
            progress(len(buf))
        buf = []
        return True

    try:
        for event in events:
            buf.append(encode(source, prefix, event, guard, organizer=organizer, organization=organization,
                              counters=counters))
            read += 1
            if len(buf) >= APPEND_CHUNK and not flush():
                break
        flush()
    except SocError as exc:
        error = exc.message
        flush()
    except Exception as exc:  # a reader bug must not lose what was already read
        error = f"reading stopped: {exc!r}"
        flush()
    finally:
        done.set()
        thread.join()
        shipper.close()
        empty = spool.empty()
        spool.close()
        if empty:
            shutil.rmtree(spool_dir, ignore_errors=True)
    shipped = counters.get(source, "shipped")
    duplicates = counters.get(source, "duplicates")
    dead = counters.get(source, "dead_lettered")
    failed = max(0, read - shipped - duplicates - dead)
    if failed and error is None:
        error = (f"Elasticsearch did not accept {failed} events within {give_up:.0f}s ({shipper.last_error}); "
                 "they are kept and sent by the next import or `soc collect run`.")
    return ShipSummary(source=source, read=read, shipped=shipped, duplicates=duplicates, dead_lettered=dead,
                       failed=failed, parse_failures=parse_failures() if parse_failures else 0,
                       unassigned=counters.get(source, "unassigned"), seconds=round(time.monotonic() - started, 3), error=error)


# -- one-shot imports ------------------------------------------------------------------------

@requires("collectors.manage")
def import_files(settings: Settings, store: Store, paths: Sequence[Path], *, actor: Actor, auditor: Auditor | None = None,
                 parser: str = "auto", encoding: str = "utf-8", timezone: str = "UTC",
                 progress: Callable[[int], None] | None = None, host: str | None = None,
                 organization: str | None = None) -> ShipSummary:
    """Read whole log files once (ids as the tailer's, so a later tail or re-import adds nothing).

    A file the parser cannot read at all is refused before anything is shipped (``--parser
    plain`` stores any text). ``host`` names the host of files whose lines carry none (and
    overrides the lines' own); otherwise ``host.name`` is the line's host name, as in Filebeat.
    """
    from collectors.config import check_encoding
    from collectors.inputs.filereader import iter_file_events
    from collectors.probe import check_host, check_parsable

    try:
        encoding = check_encoding(encoding)
    except ValueError as exc:
        raise InvalidInput(f"{exc}.") from exc
    host = check_host(host)
    organization = fixed_org(organization)
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise InvalidInput(f"Not a readable file: {', '.join(missing)}. Check the paths.")
    check_parsable([Path(p) for p in paths], parser=parser, encoding=encoding, timezone=timezone)
    counters = Counters()

    def events() -> Iterator[Event]:
        for path in paths:
            for event in iter_file_events(Path(path), parser=parser, encoding=encoding, timezone=timezone,
                                          counters=counters, input_name="file"):
                _name_host(event.doc, host)
                yield event

    summary = ship_events(settings, store, events(), source="file", progress=progress,
                          parse_failures=lambda: counters.get("file", "parse_failures"), organization=organization)
    summary = ShipSummary(**{**summary.to_dict(), "files": [str(p) for p in paths]})
    _audit(auditor, actor, "collect.import_files", summary)
    return summary


def _name_host(doc: dict[str, Any], host: str | None) -> None:
    current = doc.get("host")
    found = current if isinstance(current, dict) else {}
    name = host or found.get("name") or found.get("hostname")
    if name:
        doc["host"] = {**found, "name": name}


@requires("collectors.manage")
def import_evtx(settings: Settings, store: Store, paths: Sequence[Path], *, actor: Actor, auditor: Auditor | None = None,
                progress: Callable[[int], None] | None = None, ids: list[str] | None = None,
                organization: str | None = None) -> ShipSummary:
    """Windows EVTX files through the EVTX→ECS parser (``collectors.evtx.iter_evtx_events``).

    A directory is searched recursively for ``*.evtx`` (as Hayabusa/Chainsaw do). Unreadable
    records and files are counted as parse failures; the first reasons are in ``error``.
    ``ids`` (if given) receives the id of every event read, stored now or before: what a
    hunt over exactly this import searches."""
    try:
        from collectors import evtx
    except ImportError as exc:
        raise Unavailable(f"The EVTX parser is not available in this installation ({exc}).") from exc
    organization = fixed_org(organization)
    files = evtx_files(paths)
    stats = [evtx.EvtxStats(str(p)) for p in files]

    def events() -> Iterator[Event]:
        for path, st in zip(files, stats, strict=True):
            for event in evtx.iter_evtx_events(path, st):
                if ids is not None:
                    ids.append(event.id)
                yield event

    summary = ship_events(settings, store, events(), source="evtx", progress=progress,
                          parse_failures=lambda: sum(st.errors for st in stats), organization=organization)
    samples = [f"{st.path}: {reason}" for st in stats for reason in st.error_samples][:10]
    summary = ShipSummary(**{**summary.to_dict(), "files": [str(p) for p in files], "warnings": samples})
    _audit(auditor, actor, "collect.import_evtx", summary)
    return summary


def evtx_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given, directories expanded to their ``*.evtx`` files (recursively, by name)."""
    files: list[Path] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".evtx" and p.is_file())
            if not found:
                raise InvalidInput(f"No *.evtx files in {path} (searched recursively). Check the directory.")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            missing.append(str(path))
    if missing:
        raise InvalidInput(f"Not a readable file or directory: {', '.join(missing)}. Check the paths.")
    return files


def _audit(auditor: Auditor | None, actor: Actor, action: str, summary: ShipSummary) -> None:
    if auditor is None:
        return
    detail = {k: v for k, v in summary.to_dict().items() if k not in ("warnings",)}
    auditor.record(actor, action, ", ".join(summary.files)[:1000], "success" if summary.complete else "failure",
                   detail)


# -- daemon ----------------------------------------------------------------------------------

@requires("collectors.manage")
def run_daemon(settings: Settings, store: Store, inputs_file: Path | None = None, *, actor: Actor,
               auditor: Auditor | None = None, stop: threading.Event | None = None,
               log: Callable[[str], None] | None = None) -> None:
    """Run the inputs of the inputs file until ``stop`` is set (or SIGTERM/SIGINT in the CLI)."""
    from collectors.config import load_inputs
    from collectors.daemon import Daemon

    path = inputs_file or settings.collect.inputs_file
    if path is None:
        raise InvalidInput("No inputs file: pass `soc collect run --inputs FILE` or set SOC_COLLECT_INPUTS_FILE.")
    entries = load_inputs(Path(path))
    daemon = Daemon(settings, store, entries, log=log)
    if auditor is not None:
        auditor.record(actor, "collect.run", str(path), "success", {"inputs": [e["name"] for e in entries]})
    daemon.run(stop or threading.Event())


def unassigned_events(store: Store, settings: Settings) -> int:
    """Stored events that matched no department map (tagged at ingest; the district's)."""
    from collectors.organization import UNASSIGNED_TAG
    from core.schema import events_pattern

    return store.count(events_pattern(settings.index_prefix), {"term": {"tags": UNASSIGNED_TAG}})


def collector_status(settings: Settings) -> dict[str, Any]:
    """The daemon's last status file, with whether its process is alive."""
    status = read_status(settings)
    if status is None:
        return {"running": False, "state": "never started", "inputs": {}, "spool_pending_bytes": 0}
    running = pid_alive(status.get("pid")) and status.get("state") == "running"
    with contextlib.suppress(TypeError, ValueError):
        status["age_seconds"] = round(time.time() - float(status.get("updated", 0)), 1)
    status["running"] = running
    return status
