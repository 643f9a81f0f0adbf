"""The collector daemon: inputs (threads) → spool → shipper (thread), plus the status file.

Spool full policy: inputs that can wait (files, journald) call ``emit(block=True)`` and pause
at their position; network inputs call ``emit(block=False)`` and count what they could not
spool as ``dropped`` (the sender does not wait for us, so that is the honest number).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from collectors.counters import Counters, write_status
from collectors.import_spool import drain_leftovers
from collectors.models import Event
from collectors.organization import Organizer
from collectors.registry import Input, InputContext, resolve
from collectors.shipper import encode, ensure_indices, shipper_for
from collectors.spool import Spool
from core.errors import SocError
from core.es import Store
from core.pii.config import guard_from_settings
from core.settings import Settings

DRAIN_ON_STOP_SECONDS = 5.0


class Daemon:
    def __init__(self, settings: Settings, store: Store, entries: Sequence[dict[str, Any]], *,
                 log: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.prefix = settings.index_prefix
        self.log = log or (lambda _m: None)
        self.counters = Counters()
        self.guard = guard_from_settings(settings)
        self.organizer = Organizer.from_settings(settings.collect)
        # An input's own department (``organization:`` in the inputs file) beats every map.
        self.input_orgs: dict[str, str] = {str(e["name"]): str(e["organization"]) for e in entries
                                           if e.get("organization")}
        self.stop = threading.Event()
        self.spool = Spool(Path(settings.spool_dir) / "daemon", max_bytes=settings.collect.spool_max_bytes,
                           fsync=settings.collect.spool_fsync)
        self.shipper = shipper_for(settings, store, self.spool, self.counters,
                                   linger=min(settings.collect.flush_seconds, 0.2), log=self.log)
        self.started = time.time()
        self.inputs: list[Input] = []
        state_root = Path(settings.data_dir) / "collect" / "state"
        try:
            for entry in entries:
                factory = resolve(str(entry["type"]))
                ctx = InputContext(name=str(entry["name"]), type=str(entry["type"]), settings=settings,
                                   state_dir=state_root / str(entry["name"]), counters=self.counters,
                                   emit_fn=self._emit, stop=self.stop)
                ctx.state_dir.mkdir(parents=True, exist_ok=True)
                self.counters.declare(ctx.name, ctx.type)
                # ``organization`` is the daemon's business, not the input type's (whose config
                # models refuse unknown keys).
                self.inputs.append(factory({k: v for k, v in entry.items() if k != "organization"}, ctx))
        except Exception:
            self.spool.close()
            raise

    def _emit(self, input_name: str, events: Sequence[Event], block: bool) -> bool:
        if not events:
            return True
        org = self.input_orgs.get(input_name)
        bodies = [encode(input_name, self.prefix, e, self.guard, organizer=self.organizer, organization=org,
                         counters=self.counters) for e in events]
        if self.spool.append(bodies, block=block, stop=self.stop):
            return True
        if not block:
            self.counters.add(input_name, "dropped", len(bodies))
        return False

    def _ship_loop(self, ship_stop: threading.Event) -> None:
        attempt = 0
        while not ship_stop.is_set():
            try:
                ensure_indices(self.store, self.prefix)
                break
            except SocError as exc:
                self.shipper.last_error = exc.message
                if attempt == 0:
                    self.log(f"Elasticsearch not ready, events wait in the spool: {exc.message}")
                ship_stop.wait(min(10.0, 0.5 * 2 ** min(attempt, 5)))
                attempt += 1
        self._drain_import_leftovers()
        while not ship_stop.is_set():
            self.shipper.ship_next(ship_stop, wait=0.5)
        self.shipper.close()

    def _drain_import_leftovers(self) -> None:
        """Events of one-shot imports that stopped before Elasticsearch took them all."""
        try:
            drain_leftovers(self.settings, self.store, 60.0)
        except SocError as exc:
            self.log(f"left-over import spool not drained yet: {exc.message}")

    def _status(self, state: str) -> None:
        try:
            write_status(self.settings, self.counters, spool_pending_bytes=self.spool.pending_bytes, state=state,
                         started=self.started,
                         extra={"last_error": self.shipper.last_error,
                                "es_unavailable": self.shipper.unavailable_since is not None})
        except OSError as exc:
            self.log(f"cannot write the status file: {exc}")

    def _run_input(self, inp: Input) -> None:
        try:
            inp.run(self.stop)
        except Exception as exc:  # one broken input must not stop the others
            self.log(f"input {inp.name} stopped: {exc!r}")
            self.counters.add(inp.name, "failed")

    def run(self, stop: threading.Event) -> None:
        ship_stop = threading.Event()
        shipper = threading.Thread(target=self._ship_loop, args=(ship_stop,), name="shipper", daemon=True)
        shipper.start()
        threads = [threading.Thread(target=self._run_input, args=(inp,), name=f"input-{inp.name}", daemon=True)
                   for inp in self.inputs]
        for thread in threads:
            thread.start()
        self.log(f"collecting with {len(self.inputs)} input(s); spool {self.spool.dir}")
        try:
            while not stop.is_set():
                self._status("running")
                stop.wait(self.settings.collect.status_seconds)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=10)
            # Give the shipper a moment to send what is spooled; the rest waits for the next start.
            self.spool.wait_empty(DRAIN_ON_STOP_SECONDS)
            ship_stop.set()
            shipper.join(timeout=30)
            self._status("stopped")
            self.spool.close()
