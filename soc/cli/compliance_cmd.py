"""`soc compliance` commands: run assessments, read runs and results, record manual results, reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from core.auditing import Auditor
from core.i18n import t
from soc.cli import compliance_systems_cmd
from soc.cli.context import CliContext, json_option, pass_ctx, progress_enabled
from soc.cli.table import render


def _auditor(ctx: CliContext) -> Auditor:
    return ctx.auditor


@click.group("compliance")
def compliance() -> None:
    """MLPS 2.0 (等级保护) compliance: runs, results, manual assessments and reports."""


@compliance.command("run")
@click.option("--level", type=click.IntRange(2, 3), default=None, help="MLPS level (default: compliance.level).")
@click.option("--catalog", "catalog_id", default=None, help="Catalog id instead of a level (e.g. an ISO mapping).")
@click.option("--target", "targets", multiple=True,
              help="local, root:/path/to/tree or ssh://user@host[:port]; repeat for several.")
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False), help="SSH private key.")
@click.option("--known-hosts", type=click.Path(exists=True, dir_okay=False), help="known_hosts file for SSH targets.")
@click.option("--no-platform", is_flag=True, help="Skip the checks of the platform's own data.")
@click.option("--system", "system_id", default=None,
              help="Graded system (定级对象): its level picks the catalog, its hosts are the targets.")
@json_option
@pass_ctx
def run_cmd(ctx: CliContext, level: int | None, catalog_id: str | None, targets: tuple[str, ...],
            key_file: str | None, known_hosts: str | None, no_platform: bool, system_id: str | None) -> None:
    """Run every automated check of the catalog and score the result."""
    from compliance.service import run_assessment

    progress = (lambda m: click.echo(m, err=True)) if progress_enabled() and not ctx.as_json else None
    run = run_assessment(ctx.store(), ctx.settings, _auditor(ctx), ctx.actor, level=level, catalog_id=catalog_id,
                         targets=list(targets) or None, platform=not no_platform, key_file=key_file,
                         known_hosts=known_hosts, progress=progress, system_id=system_id)
    risks = run["score"]["risks"]
    ctx.emit(run, t("compliance.cli.run_done", ctx.settings.language, run=run["id"], score=run["overall"],
                    band=run["band"], high=risks["high"], medium=risks["medium"], low=risks["low"],
                    pending=run["score"]["pending"]) + ("".join(f"\n  ! {e}" for e in run["errors"])))


@compliance.command("run-scheduled")
@json_option
@pass_ctx
def run_scheduled_cmd(ctx: CliContext) -> None:
    """Run the scheduled job once (configured level and targets)."""
    from compliance.jobs import scheduled_run

    run = scheduled_run(ctx.store(), ctx.settings, _auditor(ctx))
    ctx.emit(run, f"{run['id']}: {run['overall']} ({run['band']})")


@compliance.command("runs")
@click.option("--limit", default=20, show_default=True, type=int)
@click.option("--system", default=None, help="Only this graded system's runs.")
@json_option
@pass_ctx
def runs_cmd(ctx: CliContext, limit: int, system: str | None) -> None:
    """List recent runs."""
    from compliance.service import list_runs

    runs = list_runs(ctx.store(), ctx.settings, ctx.actor, limit=limit, system=system)
    lines = [f"{r['id']}  {r.get('catalog')}  {r.get('status')}  {r.get('overall', '—')}  {r.get('band', '')}  "
             f"{','.join(r.get('targets') or [])}" for r in runs]
    ctx.emit(runs, "\n".join(lines) or "no runs yet")


@compliance.command("results")
@click.argument("run_id")
@click.option("--family", default=None, help="Family code, e.g. CES.")
@click.option("--result", default=None, help="Only this result (符合, 不符合, … or compliant, non_compliant, …).")
@click.option("--checks", "kind", flag_value="check", default="item", help="Show check results instead of items.")
@json_option
@pass_ctx
def results_cmd(ctx: CliContext, run_id: str, family: str | None, result: str | None, kind: str) -> None:
    """Results of one run, per item and asset (or per check with --checks)."""
    from compliance.service import get_results

    rows = get_results(ctx.store(), ctx.settings, ctx.actor, run_id, kind=kind, family=family, result=result)
    lines = [f"{r.get('item_id') or r.get('check_id')}  {r['asset']}  {r['result']}  {str(r.get('detail', ''))[:90]}"
             for r in rows]
    ctx.emit(rows, "\n".join(lines) or "no results")


@compliance.command("assess")
@click.argument("run_id")
@click.argument("item_id")
@click.option("--result", required=True, help="符合, 部分符合, 不符合, 不适用 (or compliant, partial, non_compliant, not_applicable).")
@click.option("--asset", default="system", show_default=True)
@click.option("--note", default="", help="What the assessor saw.")
@click.option("--evidence", "files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Evidence file to attach; repeat for several.")
@json_option
@pass_ctx
def assess_cmd(ctx: CliContext, run_id: str, item_id: str, result: str, asset: str, note: str,
               files: tuple[str, ...]) -> None:
    """Record a manual assessment of one item, with evidence."""
    from compliance.service import record_manual

    attachments = [(Path(f).name, Path(f).read_bytes()) for f in files]
    out = record_manual(ctx.store(), ctx.settings, _auditor(ctx), ctx.actor, run_id, item_id, result, note=note,
                        asset=asset, attachments=attachments)
    ctx.emit(out, t("compliance.cli.assessed", ctx.settings.language, run=run_id, item=item_id,
                    result=out["item"]["result"], score=out["score"]["overall"], band=out["score"]["band"]))


@compliance.command("report")
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["pdf", "html", "json", "csv"]), default="pdf", show_default=True)
@click.option("--lang", type=click.Choice(["zh-CN", "en"]), default=None, help="Default: the configured language.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (default: compliance-<run>.<format>; '-' for standard output).")
@pass_ctx
def report_cmd(ctx: CliContext, run_id: str, fmt: str, lang: str | None, output: str | None) -> None:
    """Write the report of one run."""
    from compliance.reporting import build_report

    body, _media, name = build_report(ctx.store(), ctx.settings, ctx.actor, run_id, fmt, lang)
    if output == "-":
        sys.stdout.buffer.write(body)
        return
    path = Path(output or name)
    path.write_bytes(body)
    ctx.emit({"path": str(path), "bytes": len(body)},
             t("compliance.cli.report_written", ctx.settings.language, path=path, size=len(body)))


@compliance.command("catalogs")
@json_option
@pass_ctx
def catalogs_cmd(ctx: CliContext) -> None:
    """Installed catalogs with item counts per family."""
    from compliance.service import load_definitions

    cats, _checks = load_definitions(ctx.settings)
    data: list[dict[str, Any]] = []
    for cat in cats.values():
        per = {f.code: sum(1 for i in cat.items if i.family == f.code) for f in cat.families}
        data.append({"id": cat.id, "framework": cat.framework, "level": cat.level, "items": len(cat.items),
                     "families": per})
    lang = ctx.settings.language
    zh = lang == "zh-CN"
    blocks = []
    for cat in cats.values():
        rows = [(f.code, f.name.zh if zh else f.name.en, sum(1 for i in cat.items if i.family == f.code))
                for f in cat.families]
        rows.append(("", t("compliance.cli.catalog_total", lang), len(cat.items)))
        title = t("compliance.cli.catalog_title", lang, id=cat.id, framework=cat.framework, level=cat.level)
        blocks.append(title + "\n" + render([t("compliance.cli.col.family", lang), t("compliance.cli.col.name", lang),
                                             t("compliance.cli.col.items", lang)], rows))
    ctx.emit(data, "\n\n".join(blocks))


@compliance.command("checks")
@json_option
@pass_ctx
def checks_cmd(ctx: CliContext) -> None:
    """Installed checks and the items they map to."""
    from compliance.service import load_definitions

    _cats, checks = load_definitions(ctx.settings)
    data = [{"id": c.id, "kind": c.kind, "title": c.title.get(ctx.settings.language), "items": list(c.items)}
            for c in checks.values()]
    ctx.emit(data, "\n".join(f"{d['id']:28} {d['kind']:8} {' '.join(d['items'])}" for d in data))


compliance.add_command(compliance_systems_cmd.systems)
compliance.add_command(compliance_systems_cmd.rollup_cmd)

COMMANDS: list[click.Command] = [compliance]
