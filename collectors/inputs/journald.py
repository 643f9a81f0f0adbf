"""journald: ``journalctl -o json --follow`` with a persisted cursor.

The cursor of the last entry in the durable spool is saved in ``<state_dir>/cursor`` after each
spool append; a restart continues with ``--after-cursor``. Entries are identified by their
cursor, so a replay is answered by Elasticsearch with 409s. When the spool is full, reading
pauses (journalctl blocks on its pipe; the journal keeps the entries).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import threading
import time
from typing import Any

from collectors.config import JournaldInputConfig, validate_input
from collectors.inputs.lines import build_event
from collectors.models import Event
from collectors.parsers import get_parser
from collectors.registry import InputContext
from core.errors import Unavailable
from core.ids import stable_id
from core.timeutil import iso, utcnow

BATCH = 500
FLUSH_SECONDS = 0.5


class JournaldInput:
    type = "journald"

    def __init__(self, config: JournaldInputConfig, ctx: InputContext) -> None:
        self.cfg = config
        self.ctx = ctx
        self.name = config.name
        self.cursor_path = ctx.state_dir / "cursor"
        self.parser = get_parser("journald", config.timezone)

    def _cursor(self) -> str | None:
        try:
            return self.cursor_path.read_text().strip() or None
        except OSError:
            return None

    def _save_cursor(self, cursor: str) -> None:
        tmp = self.cursor_path.with_suffix(".tmp")
        tmp.write_text(cursor)
        os.replace(tmp, self.cursor_path)

    def command(self) -> list[str]:
        cmd = list(self.cfg.command)
        cursor = self._cursor()
        if cursor:
            cmd.append(f"--after-cursor={cursor}")
        return cmd

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._follow(stop)
            except Unavailable as exc:
                self.ctx.count("failed")
                stop.wait(10)
                if stop.is_set():
                    return
                del exc

    def _follow(self, stop: threading.Event) -> None:
        try:
            proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,  # noqa: S603
                                    stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise Unavailable(f"journalctl could not start ({exc}); install systemd or remove the input.") from exc
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        pending: list[Event] = []
        last_cursor: str | None = None
        last_flush = time.monotonic()
        buf = b""
        try:
            while not stop.is_set():
                ready = sel.select(timeout=FLUSH_SECONDS)
                if ready:
                    data = os.read(proc.stdout.fileno(), 1 << 20)
                    if not data:
                        break
                    buf += data
                    *lines, buf = buf.split(b"\n")
                    created = iso(utcnow())
                    for raw in lines:
                        if not raw.strip():
                            continue
                        self.ctx.count("read")
                        text = raw.decode("utf-8", "replace")
                        event, ok = build_event(self.parser, [text], created=created,
                                                event_id=stable_id("journald-line", text))
                        self.ctx.count("parsed" if ok else "parse_failures")
                        pending.append(event)
                        cursor = (event.doc.get("journald") or {}).get("cursor")
                        if cursor:
                            last_cursor = cursor
                if pending and (len(pending) >= BATCH or time.monotonic() - last_flush >= FLUSH_SECONDS):
                    if not self.ctx.emit(pending, block=True):
                        return
                    if last_cursor:
                        self._save_cursor(last_cursor)
                    pending = []
                    last_flush = time.monotonic()
            if pending and self.ctx.emit(pending, block=True) and last_cursor:
                self._save_cursor(last_cursor)
        finally:
            with contextlib.suppress(Exception):
                proc.terminate()
                proc.wait(timeout=5)


def create_input(config: dict[str, Any], ctx: InputContext) -> JournaldInput:
    return JournaldInput(validate_input(JournaldInputConfig, config), ctx)
