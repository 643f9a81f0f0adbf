"""Spools of one-shot imports: where they live, the loop that ships one, and the drain of those an
earlier import left behind. Shared by the imports (``collectors.service``) and the daemon, which
drains left-overs when it starts.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from collectors.counters import Counters
from collectors.shipper import Shipper, shipper_for
from collectors.spool import Spool
from core.errors import Conflict, Unavailable
from core.es import Store
from core.settings import Settings


def imports_root(settings: Settings) -> Path:
    return Path(settings.spool_dir) / "imports"


def ship_loop(shipper: Shipper, spool: Spool, done: threading.Event, gave_up: threading.Event,
               stop: threading.Event, give_up_after: float) -> None:
    while not stop.is_set():
        acked = shipper.ship_next(stop, wait=0.2, give_up_after=give_up_after)
        if acked:
            continue
        if shipper.unavailable_since is not None and \
                time.monotonic() - shipper.unavailable_since > give_up_after:
            gave_up.set()
            return
        if done.is_set() and spool.empty():
            return


def drain_leftovers(settings: Settings, store: Store, give_up_after: float) -> None:
    """Spools of earlier imports that stopped before everything was acknowledged."""
    root = imports_root(settings)
    if not root.is_dir():
        return
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            spool = Spool(directory, max_bytes=settings.collect.spool_max_bytes)
        except Conflict:
            continue  # another import is using it right now
        try:
            shipper = shipper_for(settings, store, spool, Counters())
            stop, done, gave_up = threading.Event(), threading.Event(), threading.Event()
            done.set()
            ship_loop(shipper, spool, done, gave_up, stop, give_up_after)
            shipper.close()
            drained = spool.empty()
        finally:
            spool.close()
        if drained:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            raise Unavailable(
                f"An earlier import left events in {directory} that Elasticsearch did not accept in time "
                f"({shipper.last_error}). Check `soc es status` and run the import again."
            )
