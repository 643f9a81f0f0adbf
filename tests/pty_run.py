"""Run a ``soc`` command the way a user at a terminal does: stdin, stdout and stderr on a real
pseudo-terminal, so ``isatty()`` is true and progress bars are drawn (CliRunner and pipes never
draw them, which is how a crashing bar went unnoticed)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class PtyResult:
    returncode: int
    output: str


def run_in_pty(args: list[str], env: dict[str, str], timeout: float = 120.0) -> PtyResult:
    master, slave = pty.openpty()
    full_env = {**os.environ, **env, "TERM": "xterm", "COLUMNS": "120", "LINES": "40"}
    proc = subprocess.Popen([sys.executable, "-m", "soc", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=full_env, close_fds=True, start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its side of the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(f"soc {' '.join(args)} did not finish in {timeout}s:\n"
                                 + b"".join(chunks).decode("utf-8", "replace"))
        returncode = proc.wait(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return PtyResult(returncode, b"".join(chunks).decode("utf-8", "replace"))
