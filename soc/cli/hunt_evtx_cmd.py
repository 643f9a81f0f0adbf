"""`soc hunt evtx PATH... [--rules PATH]`: import EVTX files and run rules over exactly those
events, with a table of hits by rule and level (as Hayabusa, Zircolite and Chainsaw print)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import click

from core.i18n import t
from soc.cli.collect_pcap_cmd import org_option
from soc.cli.context import CliContext, PhaseBars, json_option, pass_ctx
from soc.cli.table import render

CSV_FIELDS = ("level", "hits", "rule_id", "title", "first_seen", "last_seen", "hosts")


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for row in rows:
        writer.writerow([row["level"], row["hits"], row["rule_id"], row["title"], row["first_seen"] or "",
                         row["last_seen"] or "", ";".join(row["hosts"])])
    return out.getvalue().rstrip("\n")


def _human(result: dict[str, Any], lang: str) -> str:
    def short(ts: str | None) -> str:
        return (ts or "")[:19].replace("T", " ")

    lines = []
    rows = result["hits"]
    if rows:
        lines.append(render(
            [t(f"forensic.col.{c}", lang) for c in ("level", "hits", "first", "last", "hosts", "rule")],
            [(t(f"alerts.level.{r['level']}", lang), r["hits"], short(r["first_seen"]), short(r["last_seen"]),
              ", ".join(r["hosts"]), r["title"]) for r in rows]))
        lines.append("")
        levels = [(lvl, v) for lvl, v in result["by_level"].items() if v["rules"]]
        lines.append(render([t("forensic.col.level", lang), t("forensic.col.rules", lang), t("forensic.col.hits", lang)],
                            [(t(f"alerts.level.{lvl}", lang), v["rules"], v["hits"]) for lvl, v in levels]))
    else:
        lines.append(t("forensic.no_hits", lang))
    imp = result["import"]
    source = t("forensic.source_files" if result["rules"]["source"] == "files" else "forensic.source_loaded", lang)
    lines.append(t("forensic.summary", lang, events=result["events"], files=len(imp["files"]), stored=imp["shipped"],
                   rules=result["rules_run"], loaded=source, matched=result["rules_matched"],
                   hits=result["hits_total"], skipped=result["rules_skipped"]))
    if result["errors"]:
        lines.append(t("forensic.errors", lang, count=len(result["errors"])))
        lines.extend(f"  {e['rule_id']} {e['title']}: {e['error']}" for e in result["errors"][:20])
    if imp.get("error"):
        lines.append(t("forensic.import_incomplete", lang, error=imp["error"]))
    return "\n".join(lines)


@click.command("evtx")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--rules", "rule_paths", multiple=True, type=click.Path(path_type=Path),
              help="Sigma rule files or directories to run (repeatable; linted, not stored). "
                   "Default: the enabled loaded rules.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the hits as CSV (one row per rule).")
@org_option
@json_option
@pass_ctx
def evtx_cmd(c: CliContext, paths: tuple[Path, ...], rule_paths: tuple[Path, ...], as_csv: bool,
             org: str | None) -> None:
    """Import EVTX files (directories recursively) and run rules over exactly their events.

    Prints the rules that matched by level with their hit counts, first/last event time and hosts;
    --json for everything (with sample events per rule), --csv for the table."""
    from soc.forensic import hunt_evtx

    lang = c.settings.language
    if as_csv and c.as_json:
        raise click.UsageError(t("forensic.json_csv", lang))
    labels = {"import": t("forensic.importing", lang), "rules": t("forensic.running", lang)}
    with PhaseBars(labels, enabled=not (c.as_json or as_csv)) as bars:
        result = hunt_evtx(c.settings, c.store(), list(paths), actor=c.actor, auditor=c.auditor,
                           rule_paths=list(rule_paths), progress=bars, organization=org)
    if as_csv:
        click.echo(_csv(result["hits"]))
    else:
        c.emit(result, _human(result, lang))
    if result["import"].get("failed") or result["import"].get("error"):
        raise SystemExit(1)


COMMANDS: list[click.Command] = [evtx_cmd]
