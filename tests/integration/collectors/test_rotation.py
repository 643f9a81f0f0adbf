"""Tailing through log rotation, by rename and by copytruncate: every line exactly once."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from collectors import service
from core.auditing import Actor
from core.es import Store
from core.settings import Settings
from tests.integration.collectors.helpers import Writer, assert_exactly, count, wait_for, write_inputs

N = 30_000


@contextmanager
def daemon(settings: Settings, store: Store, inputs: Path) -> Iterator[None]:
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            service.run_daemon(settings, store, inputs, actor=Actor("cli:test", "cli"), stop=stop)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(60)
    assert not errors, errors


def test_rotation_by_rename(settings: Settings, store: Store, prefix: str, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.touch()
    # Only the live name is watched: the renamed file must still be read to its end.
    inputs = write_inputs(tmp_path / "inputs.yaml", [
        {"name": "app", "type": "file", "paths": [str(log)], "parser": "system.syslog", "poll_seconds": 0.1}])
    writer = Writer(log, 1, N, per_second=6000)
    with daemon(settings, store, inputs):
        writer.start()
        for generation in (1, 2):
            wait_for(lambda g=generation: writer.next > g * N // 3, 60, "the writer to progress")
            with writer.lock:  # between two writes, as a logger reopening its file would
                log.rename(tmp_path / f"app.log.{generation}")
                log.touch()
        writer.join(60)
        wait_for(lambda: count(store, prefix) >= N, 120, f"{N} documents")
        time.sleep(2)
    assert_exactly(store, prefix, N)


def test_rotation_by_copytruncate(settings: Settings, store: Store, prefix: str, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.touch()
    inputs = write_inputs(tmp_path / "inputs.yaml", [
        {"name": "app", "type": "file", "paths": [str(tmp_path / "app.log*")], "parser": "system.syslog",
         "poll_seconds": 0.1}])
    writer = Writer(log, 1, N, per_second=6000)
    with daemon(settings, store, inputs):
        writer.start()
        for generation in (1, 2):
            wait_for(lambda g=generation: writer.next > g * N // 3, 60, "the writer to progress")
            # copytruncate loses what is written between the copy and the truncation, for every
            # tailer; the writer pauses there so the test checks our part only.
            writer.pause()
            shutil.copyfile(log, tmp_path / f"app.log.{generation}")
            with log.open("r+") as fh:
                fh.truncate(0)
            writer.resume()
        writer.join(60)
        wait_for(lambda: count(store, prefix) >= N, 120, f"{N} documents")
        time.sleep(2)
    assert_exactly(store, prefix, N)
