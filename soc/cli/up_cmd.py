"""`soc up`: the whole platform in one command; `soc down`: stop a detached run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import click

from core.errors import Unavailable
from core.i18n import t
from core.node import ManagedNode
from soc.cli.context import CliContext, pass_ctx


def _pid_file(c: CliContext) -> Path:
    return c.settings.data_dir / "run" / "soc-up.pid"


@click.command("up")
@click.option("--demo/--no-demo", default=True, show_default=True, help="Load the demo data set and demo users.")
@click.option("--detach", is_flag=True, help="Run in the background; stop with `soc down`.")
@click.option("--credentials-file", type=click.Path(dir_okay=False, path_type=Path), hidden=True,
              help="(used by --detach) hand the initial admin password to the terminal through this 0600 file")
@pass_ctx
def up(c: CliContext, demo: bool, detach: bool, credentials_file: Path | None) -> None:
    """Start Elasticsearch (or use SOC_ES_URL), the API and console, the scheduler, and demo data."""
    if detach:
        _detach(c, demo)
        return
    from soc.serve import serve

    settings = c.settings.model_copy(update={"demo": demo}) if demo != c.settings.demo else c.settings
    serve(settings, log=lambda m: click.echo(m, err=True), credentials_file=credentials_file)


def _private_file(path: Path) -> int:
    """Open for appending, readable by the owner only (the log may name paths and users)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _detach(c: CliContext, demo: bool) -> None:
    pid_file = _pid_file(c)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    log_path = pid_file.parent / "soc-up.log"
    # The initial admin password goes to this terminal only, never into the log file.
    credentials = pid_file.parent / "initial-credentials"
    credentials.unlink(missing_ok=True)
    args = [sys.executable, "-m", "soc"]
    if c.config_file:
        args += ["--config", str(c.config_file)]
    args += ["up", "--demo" if demo else "--no-demo", "--credentials-file", str(credentials)]
    log_fd = _private_file(log_path)
    try:
        proc = subprocess.Popen(args, stdout=log_fd, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    finally:
        os.close(log_fd)
    pid_file.write_text(str(proc.pid))
    url = f"http://{c.settings.api.host}:{c.settings.api.port}"
    deadline = time.monotonic() + c.settings.es.start_timeout + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pid_file.unlink(missing_ok=True)
            tail = "\n".join(log_path.read_text("utf-8", "replace").splitlines()[-15:])
            raise Unavailable(f"`soc up` exited during start-up (exit {proc.returncode}). Last lines of "
                              f"{log_path}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            time.sleep(1)
    else:
        raise Unavailable(f"`soc up` did not answer on {url} in time; see {log_path}. Stop it with `soc down`.")
    click.echo(log_path.read_text("utf-8", "replace").strip().splitlines()[-1] if log_path.exists() else "")
    if credentials.exists():
        click.echo(credentials.read_text("utf-8").rstrip())
        credentials.unlink(missing_ok=True)
    click.echo(t("up.ready", c.settings.language, url=url) + f"  (pid {proc.pid}, log {log_path})")


@click.command("down")
@pass_ctx
def down(c: CliContext) -> None:
    """Stop a detached `soc up` and the managed Elasticsearch node it started."""
    pid_file = _pid_file(c)
    stopped = False
    if pid_file.exists():
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            for _ in range(600):
                os.kill(pid, 0)
                time.sleep(0.1)
        except (ProcessLookupError, ValueError):
            pass
        stopped = True
        pid_file.unlink(missing_ok=True)
    if c.settings.managed_es:
        node = ManagedNode(c.settings)
        if node.pid():
            node.stop()
            stopped = True
    click.echo("Stopped." if stopped else "Nothing was running.")


COMMANDS: list[click.Command] = [up, down]
