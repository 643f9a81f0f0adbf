"""`soc collect pcap PATH...` (owned by the network collector; added to the `collect` group)."""

from __future__ import annotations

from pathlib import Path

import click

from core.i18n import t
from soc.cli.context import CliContext, counting_progress, json_option, pass_ctx

org_option = click.option(
    "--org", default=None, metavar="DEPT",
    help="Department (organization.id) of every imported event, e.g. jiaowei; default: the collect "
         "settings' host/subnet maps, else the district.")



@click.command("pcap")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--max-flows", type=click.IntRange(min=16), default=None,
              help="Flow table cap (oldest idle flow evicted first). Default 100000.")
@org_option
@json_option
@pass_ctx
def pcap_cmd(c: CliContext, paths: tuple[Path, ...], max_flows: int | None, org: str | None) -> None:
    """Import pcap/pcapng files (also gzipped: .pcap.gz) into network events (flow, DNS, HTTP, TLS,
    ICMP, ARP); each event names its capture file in log.file.path.

    A directory is read as one set of rotated captures (flows continue across its files).
    """
    from collectors.network import service
    from collectors.network.engine import FlowConfig

    lang = c.settings.language
    groups = service.capture_groups(list(paths))
    config = FlowConfig(max_flows=max_flows) if max_flows else FlowConfig()
    store = c.store()
    with counting_progress(t("network.importing", lang), enabled=not c.as_json,
                           total=service.capture_size(groups)) as progress:
        summary = service.import_pcaps(c.settings, store, list(paths), config=config, progress=progress,
                                       organization=org)
    cap = summary.capture
    lines = [t("network.summary", lang, files=len(cap.files), packets=cap.packets, flows=cap.flows,
               events=cap.total_events, parse_errors=cap.parse_errors, evicted=cap.evicted_flows,
               shipped=summary.shipped, duplicates=summary.duplicates, failed=summary.failed,
               seconds=summary.seconds)]
    if cap.events:
        lines.append("  " + ", ".join(f"{k}={v}" for k, v in sorted(cap.events.items())))
    for problem in cap.file_errors:
        lines.append(t("network.file_error", lang, error=problem))
    if summary.unassigned:
        lines.append(t("collect.unassigned", lang, n=summary.unassigned))
    if summary.error:
        lines.append(t("network.ship_error", lang, error=summary.error))
    c.emit(summary.to_dict(), "\n".join(lines))
    if summary.failed or summary.error or cap.file_errors:
        # SystemExit, not click's Exit: soc.cli.main runs click with standalone_mode=False,
        # where click returns Exit's code instead of exiting and main() drops it.
        raise SystemExit(1)


COMMANDS: list[click.Command] = [pcap_cmd]
