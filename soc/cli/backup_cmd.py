"""`soc backup` and `soc drill`: run backups and restore drills, read their history, prune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from core.auditing import Auditor
from core.i18n import t
from soc.cli.context import CliContext, json_option, pass_ctx, progress_enabled


def _auditor(ctx: CliContext) -> Auditor:
    # The audit module attaches its trail to the CLI context; until then records stay in memory.
    return ctx.auditor


def _bctx(ctx: CliContext) -> Any:
    from backup_orchestrator import service

    def show(stage: str, fraction: float | None, message: str) -> None:
        pct = f"{fraction * 100:3.0f}%" if fraction is not None else "    "
        click.echo(f"[{pct}] {stage}: {message}", err=True)

    live = progress_enabled() and not ctx.as_json
    return service.context(ctx.settings, ctx.store(), progress=show if live else service.no_progress)


def _fail_unless(ok: bool) -> None:
    if not ok:
        raise click.exceptions.Exit(1)


@click.group("backup")
def backup() -> None:
    """Backups of Elasticsearch indices, files and databases (plans in backup.plans_file)."""


@backup.command("plans")
@json_option
@pass_ctx
def plans_cmd(ctx: CliContext) -> None:
    """List the backup plans."""
    from backup_orchestrator import service

    plans = service.list_plans(ctx.settings, ctx.store(), ctx.actor)
    lines = [f"{p['id']}  [{p['source']}]  {', '.join(p['assets'])}  {p.get('description', '')}" for p in plans]
    example = Path(__file__).resolve().parents[2] / "backup_orchestrator" / "plans.example.yaml"
    ctx.emit(plans, "\n".join(lines) or t("backup.cli.no_plans", ctx.settings.language, example=example))


@backup.command("run")
@click.argument("plan_id")
@json_option
@pass_ctx
def run_cmd(ctx: CliContext, plan_id: str) -> None:
    """Back up PLAN now (snapshot, restic, manifest, offsite copy)."""
    from backup_orchestrator import service

    doc = service.run_backup(_bctx(ctx), ctx.actor, _auditor(ctx), plan_id)
    lang = ctx.settings.language
    human = t("backup.cli.run_done", lang, run=doc["run_id"], plan=plan_id, status=t(f"backup.status.{doc['status']}", lang),
              size=doc.get("size_bytes", 0), added=doc.get("added_bytes", 0), seconds=doc.get("duration_seconds"))
    if doc.get("error"):
        human += f"\n  ! {doc['error']}"
    if (doc.get("offsite") or {}).get("error"):
        human += f"\n  ! offsite: {doc['offsite']['error']}"
    ctx.emit(doc, human)
    _fail_unless(doc["status"] == "success")


@backup.command("list")
@click.option("--plan", "plan_id", default=None)
@click.option("--limit", default=20, show_default=True, type=int)
@json_option
@pass_ctx
def list_cmd(ctx: CliContext, plan_id: str | None, limit: int) -> None:
    """Recent backup runs (recovery points)."""
    from backup_orchestrator import service

    runs = service.list_runs(_bctx(ctx), ctx.actor, plan_id, limit=limit)
    lines = [f"{r['run_id']}  {r['status']}{' (pruned)' if r.get('pruned') else ''}  {r['started']}  "
             f"{r.get('size_bytes', 0)} B  offsite={(r.get('offsite') or {}).get('status', '-')}" for r in runs]
    ctx.emit(runs, "\n".join(lines) or "no runs yet")


@backup.command("show")
@click.argument("run_id")
@json_option
@pass_ctx
def show_cmd(ctx: CliContext, run_id: str) -> None:
    """One run with its manifest."""
    from backup_orchestrator import service

    ctx.emit(service.get_run(_bctx(ctx), ctx.actor, run_id))


@backup.command("prune")
@click.argument("plan_id")
@click.option("--dry-run/--apply", default=True, show_default=True, help="Preview (default) or really delete.")
@json_option
@pass_ctx
def prune_cmd(ctx: CliContext, plan_id: str, dry_run: bool) -> None:
    """Apply PLAN's retention policy (keep last/daily/weekly/monthly)."""
    from backup_orchestrator import service

    result = service.prune(_bctx(ctx), ctx.actor, _auditor(ctx), plan_id, dry_run=dry_run)
    lang = ctx.settings.language
    human = t("backup.cli.prune_preview", lang, plan=plan_id, keep=len(result["keep"]), remove=len(result["remove"]),
              dry=" (dry run)" if dry_run else "")
    human += "".join(f"\n  - {r}" for r in result["remove"])
    human += "".join(f"\n  ! {e['run_id']}: {e['error']}" for e in result["errors"])
    ctx.emit(result, human)
    _fail_unless(not result["errors"])


@backup.command("offsite")
@click.argument("plan_id")
@json_option
@pass_ctx
def offsite_cmd(ctx: CliContext, plan_id: str) -> None:
    """Measure how far PLAN's offsite copy trails the primary."""
    from backup_orchestrator import service

    status = service.offsite_status(_bctx(ctx), ctx.actor, plan_id)
    ctx.emit(status, f"{plan_id}: offsite lag {status.get('lag_seconds')} s")


@backup.command("due")
@click.option("--run", "run_now", is_flag=True, help="Also run what is due (one scheduler tick).")
@json_option
@pass_ctx
def due_cmd(ctx: CliContext, run_now: bool) -> None:
    """Show (or run) the scheduled backups, drills, pruning and RPO checks that are due."""
    from backup_orchestrator import jobs

    store = ctx.store()
    if run_now:
        result = jobs.tick(ctx.settings, store, _auditor(ctx))
    else:
        result = {"backups": jobs.due_backups(ctx.settings, store), "drills": jobs.due_drills(ctx.settings, store)}
    ctx.emit(result)


@backup.command("restore")
@click.argument("plan_id")
@click.option("--point", default="newest", show_default=True, help="newest or a run id (`soc backup list`).")
@click.option("--from", "source", type=click.Choice(["primary", "offsite"]), default="primary", show_default=True)
@click.option("--indices/--no-indices", default=True, show_default=True,
              help="Restore the indices under new names and switch them in by alias.")
@click.option("--target-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Restore the files into this directory (absolute paths are recreated below it).")
@click.option("--database", default=None, help="Restore the pg_dump into this new PostgreSQL database.")
@click.option("--keep-current/--drop-current", default=True, show_default=True,
              help="Keep a live index that the restore replaces as replaced-<stamp>-<name>.")
@click.option("--dry-run", is_flag=True, help="Only list what would change.")
@click.option("--yes", is_flag=True, help="Do not ask to type the plan id.")
@json_option
@pass_ctx
def restore_cmd(ctx: CliContext, plan_id: str, point: str, source: str, indices: bool, target_dir: Path | None,
                database: str | None, keep_current: bool, dry_run: bool, yes: bool) -> None:
    """Restore a recovery point of PLAN for real (indices, files, database); --dry-run lists the changes."""
    from backup_orchestrator import restore, service

    req = restore.Request(point=point, source=source, indices=indices, database=database, keep_current=keep_current,
                          target_dir=target_dir.resolve() if target_dir else None)
    lang = ctx.settings.language
    bctx = _bctx(ctx)
    preview = service.run_restore(bctx, ctx.actor, _auditor(ctx), plan_id, req, dry_run=True)
    if dry_run:
        ctx.emit(preview, _restore_preview(ctx, preview))
        return
    if not yes:
        if ctx.as_json:
            raise click.UsageError("--json without --dry-run needs --yes (no interactive confirmation).")
        click.echo(_restore_preview(ctx, preview), err=True)
        typed = click.prompt(t("backup.cli.restore_confirm", lang, plan=plan_id), default="", show_default=False)
        if typed.strip() != plan_id:
            click.echo(t("backup.cli.restore_confirm_mismatch", lang), err=True)
            raise click.exceptions.Exit(2)
    doc = service.run_restore(bctx, ctx.actor, _auditor(ctx), plan_id, req, dry_run=False, confirm=plan_id)
    text = t("backup.cli.restore_done", lang, restore=doc["restore_id"], plan=plan_id, run=doc["run_id"],
             status=t(f"backup.status.{doc['status']}", lang), rto=doc.get("rto_seconds"), rpo=doc.get("rpo_seconds"))
    for c in doc.get("checks", []):
        mark = "!" if c["status"] == "failed" else "-"
        text += f"\n  {mark} {c['name']}: {c['detail']}"
    ctx.emit(doc, text)
    _fail_unless(doc["status"] == "success")


def _restore_preview(ctx: CliContext, doc: dict[str, Any]) -> str:
    lang = ctx.settings.language
    ch = doc["changes"]
    lines = [t("backup.cli.restore_preview", lang, run=doc["run_id"], plan=doc["plan_id"],
               time=doc["recovery_point_time"])]
    for c in ch.get("indices", []):
        if c.get("set_aside_as"):
            lines.append("  - " + t("backup.cli.restore_aside", lang, name=c["name"], docs=c.get("current_docs"),
                                    aside=c["set_aside_as"]))
        now = c["now"] + (f" → {', '.join(c['members'])}" if c["members"] else "")
        lines.append("  - " + t("backup.cli.restore_index", lang, index=c["snapshot_index"], target=c["restore_as"],
                                name=c["name"], now=now))
        for a in c["aliases"]:
            now = a["now"] + (f" → {', '.join(a['members'])}" if a["members"] else "")
            lines.append("  - " + t("backup.cli.restore_alias", lang, alias=a["alias"], now=now, target=c["restore_as"],
                                    write=" (write index)" if a["is_write_index"] else ""))
    if "files" in ch:
        f = ch["files"]
        lines.append("  - " + t("backup.cli.restore_files", lang, files=f["files"], bytes=f["bytes"],
                                dir=f["target_dir"], overwrite=f["would_overwrite"]))
    if "database" in ch:
        d = ch["database"]
        key = "backup.cli.restore_db_exists" if d["exists"] else "backup.cli.restore_db"
        lines.append("  - " + t(key, lang, name=d["name"], dump=d["dump"]))
    return "\n".join(lines)


@backup.command("restores")
@click.option("--plan", "plan_id", default=None)
@click.option("--limit", default=20, show_default=True, type=int)
@json_option
@pass_ctx
def restores_cmd(ctx: CliContext, plan_id: str | None, limit: int) -> None:
    """Past restores with their RPO/RTO."""
    from backup_orchestrator import service

    rows = service.list_restores(_bctx(ctx), ctx.actor, plan_id, limit=limit)
    lines = [f"{r['restore_id']}  {r['plan_id']}  {r['status']}  {r['started']}  from {r['run_id']}  "
             f"RTO {r.get('rto_seconds')}s  RPO {r.get('rpo_seconds')}s  {r.get('failed_check') or ''}" for r in rows]
    ctx.emit(rows, "\n".join(lines) or "no restores yet")


@click.group("drill")
def drill() -> None:
    """Restore drills: restore, verify against the manifest, measure RPO/RTO."""


@drill.command("run")
@click.argument("plan_id")
@click.option("--point", default="newest", show_default=True, help="newest, random or a run id.")
@click.option("--from", "source", type=click.Choice(["primary", "offsite"]), default="primary", show_default=True)
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the HTML report here.")
@json_option
@pass_ctx
def drill_run_cmd(ctx: CliContext, plan_id: str, point: str, source: str, html_path: Path | None) -> None:
    """Restore a recovery point of PLAN into scratch indices/directories and verify it."""
    from backup_orchestrator import report, service

    doc = service.run_drill(_bctx(ctx), ctx.actor, _auditor(ctx), plan_id, point=point, source=source)
    if html_path is not None:
        html_path.write_text(report.to_html(doc, ctx.settings.language), encoding="utf-8")
    ctx.emit(doc, _drill_text(ctx, doc))
    _fail_unless(doc["status"] == "passed")


def _drill_text(ctx: CliContext, doc: dict[str, Any]) -> str:
    lang = ctx.settings.language
    rto = doc.get("rto") or {}
    text = t("backup.cli.drill_done", lang, drill=doc["drill_id"], plan=doc["plan_id"],
             status=t(f"backup.status.{doc['status']}", lang), rto=doc.get("rto_seconds"),
             fetch=rto.get("fetch_seconds"), restore=rto.get("restore_seconds"), verify=rto.get("verify_seconds"),
             rpo=doc.get("rpo_seconds"))
    for c in doc.get("checks", []):
        if c["status"] == "failed":
            text += "\n  ! " + t("backup.cli.failed_check", lang, check=c["name"], detail=c["detail"])
    return text


@drill.command("list")
@click.option("--plan", "plan_id", default=None)
@click.option("--limit", default=20, show_default=True, type=int)
@json_option
@pass_ctx
def drill_list_cmd(ctx: CliContext, plan_id: str | None, limit: int) -> None:
    """Recent drills."""
    from backup_orchestrator import service

    rows = service.list_drills(_bctx(ctx), ctx.actor, plan_id, limit=limit)
    lines = [f"{d['drill_id']}  {d['plan_id']}  {d['status']}  {d['started']}  RTO {d.get('rto_seconds')}s  "
             f"RPO {d.get('rpo_seconds')}s  {d.get('failed_check') or ''}" for d in rows]
    ctx.emit(rows, "\n".join(lines) or "no drills yet")


@drill.command("report")
@click.argument("drill_id")
@click.option("--format", "fmt", type=click.Choice(["html", "json"]), default="html", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_ctx
def drill_report_cmd(ctx: CliContext, drill_id: str, fmt: str, output: Path | None) -> None:
    """Render a drill's report (HTML or JSON)."""
    from backup_orchestrator import report, service

    doc = service.get_drill(_bctx(ctx), ctx.actor, drill_id)
    text = report.to_html(doc, ctx.settings.language) if fmt == "html" else report.to_json(doc)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(str(output))


COMMANDS: list[click.Command] = [backup, drill]
