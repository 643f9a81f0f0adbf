"""`soc collect run|file|evtx|status` (plus the network collector's commands)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from collectors import service
from core.auditing import Auditor, MemoryAuditor
from core.i18n import t
from soc.cli import collect_pcap_cmd
from soc.cli.collect_pcap_cmd import org_option
from soc.cli.context import CliContext, counting_progress, json_option, pass_ctx


@click.group("collect")
def collect() -> None:
    """Collect logs into Elasticsearch: daemon, one-shot imports, status."""


def _auditor(c: CliContext) -> Auditor:
    # The CLI context may carry the platform auditor (wired by the lead); otherwise keep a local one.
    return getattr(c, "auditor", None) or MemoryAuditor()


def _emit_summary(c: CliContext, summary: service.ShipSummary) -> None:
    lang = c.settings.language
    human = t("collect.summary", lang, read=summary.read, shipped=summary.shipped,
              duplicates=summary.duplicates, dead_lettered=summary.dead_lettered, failed=summary.failed,
              parse_failures=summary.parse_failures, seconds=summary.seconds)
    if summary.unassigned:
        human += "\n" + t("collect.unassigned", lang, n=summary.unassigned)
    for warning in summary.warnings:
        human += "\n  " + warning
    if summary.error:
        human += "\n" + t("collect.summary_error", lang, error=summary.error)
    c.emit(summary.to_dict(), human)
    if not summary.complete:
        raise click.exceptions.Exit(1)


@collect.command("file")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--parser", default="auto", show_default=True,
              help="auto, system.auth, system.syslog, auditd.log, nginx.access, nginx.error, apache.access, "
                   "apache.error, iptables.log, plain")
@click.option("--encoding", default="utf-8", show_default=True, help="utf-8, gbk, gb18030, …")
@click.option("--timezone", default="UTC", show_default=True,
              help="zone for timestamps that carry none (IANA name, 'local' or ±HH:MM)")
@click.option("--host", default=None, help="host.name of every event (files whose lines name no host, "
                                             "e.g. RHEL's secure log); default: the host each line names")
@org_option
@json_option
@pass_ctx
def file_cmd(c: CliContext, paths: tuple[Path, ...], parser: str, encoding: str, timezone: str,
             host: str | None, org: str | None) -> None:
    """Import log files once (progress bar, then a summary).

    A file the parser cannot read at all (a JSON export, a binary) is refused before anything is
    stored; --parser plain stores each line as it is."""
    store = c.store()
    with counting_progress(t("collect.importing", c.settings.language), enabled=not c.as_json) as progress:
        summary = service.import_files(c.settings, store, list(paths), actor=c.actor, auditor=_auditor(c),
                                       parser=parser, encoding=encoding, timezone=timezone, progress=progress,
                                       host=host, organization=org)
    _emit_summary(c, summary)


@collect.command("evtx")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@org_option
@json_option
@pass_ctx
def evtx_cmd(c: CliContext, paths: tuple[Path, ...], org: str | None) -> None:
    """Import Windows EVTX files once (progress bar, then a summary).

    A directory is searched recursively for *.evtx (e.g. a collected C:\\Windows\\System32\\winevt\\Logs)."""
    store = c.store()
    with counting_progress(t("collect.importing", c.settings.language), enabled=not c.as_json) as progress:
        summary = service.import_evtx(c.settings, store, list(paths), actor=c.actor, auditor=_auditor(c),
                                      progress=progress, organization=org)
    _emit_summary(c, summary)


@collect.command("run")
@click.option("--inputs", "inputs_file", type=click.Path(path_type=Path), default=None,
              help="YAML inputs file (default: collect.inputs_file / SOC_COLLECT_INPUTS_FILE).")
@pass_ctx
def run_cmd(c: CliContext, inputs_file: Path | None) -> None:
    """Run the collector daemon until SIGTERM or Ctrl-C.

    \b
    inputs:
      - {name: auth, type: file, paths: [/var/log/auth.log*], parser: system.auth}
      - {name: messages, type: file, paths: [/var/log/messages*], encoding: gb18030}
      - {name: net, type: syslog, protocol: tcp, port: 5514}
      - {name: journal, type: journald}
    """
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.run_daemon(c.settings, c.store(), inputs_file, actor=c.actor, auditor=_auditor(c), stop=stop,
                       log=lambda m: click.echo(m, err=True))


@collect.command("status")
@json_option
@pass_ctx
def status_cmd(c: CliContext) -> None:
    """Per-input counters of the collector daemon and its spool level."""
    status = service.collector_status(c.settings)
    lang = c.settings.language
    lines = [t("collect.status_running" if status["running"] else "collect.status_stopped", lang,
               state=status.get("state", "?"), pid=status.get("pid", "-"),
               pending=status.get("spool_pending_bytes", 0))]
    for name, row in sorted((status.get("inputs") or {}).items()):
        lines.append(f"  {name} ({row.get('type', '?')}): " + ", ".join(
            f"{k}={row.get(k, 0)}" for k in ("read", "parsed", "parse_failures", "shipped", "duplicates",
                                              "dead_lettered", "dropped", "failed", "unassigned")))
    unassigned = sum(int(row.get("unassigned", 0) or 0) for row in (status.get("inputs") or {}).values())
    if unassigned:
        lines.append(t("collect.status_unassigned", lang, n=unassigned))
    c.emit(status, "\n".join(lines))


for _command in collect_pcap_cmd.COMMANDS:
    collect.add_command(_command)

COMMANDS: list[click.Command] = [collect]
