"""`soc compliance systems …` (graded systems, 定级对象) and `soc compliance rollup`."""

from __future__ import annotations

from typing import Any

import click

from core.i18n import t
from soc.cli.context import CliContext, json_option, pass_ctx
from soc.cli.table import render


def _name(doc: dict[str, Any], lang: str) -> str:
    names = doc.get("name") or {}
    return str(names.get("en" if lang == "en" else "zh") or doc.get("id"))


@click.group("systems")
def systems() -> None:
    """Graded systems (定级对象): each department's systems, their level and hosts."""


@systems.command("list")
@click.option("--org", "organization", default=None, help="Only this department's systems.")
@json_option
@pass_ctx
def list_cmd(ctx: CliContext, organization: str | None) -> None:
    """Registered systems you may see."""
    from compliance.systems import list_systems

    rows = list_systems(ctx.store(), ctx.settings, ctx.actor, organization=organization)
    lang = ctx.settings.language
    cols = [t(f"compliance.systems.col.{c}", lang) for c in ("department", "id", "name", "level", "hosts")]
    table = render(cols, [(r["organization"]["id"], r["id"], _name(r, lang), r["level"], ", ".join(r.get("hosts") or []))
                          for r in rows])
    ctx.emit(rows, table if rows else t("compliance.systems.cli.none", lang))


@systems.command("add")
@click.argument("system_id")
@click.option("--name", default=None, help="The system's name (Chinese, or the only one); required for a new system.")
@click.option("--name-en", default=None, help="English name (default: the same as --name).")
@click.option("--level", type=click.IntRange(2, 3), default=None,
              help="MLPS level the system is graded at; required for a new system.")
@click.option("--host", "hosts", multiple=True,
              help="A target of the system: local, root:/path or ssh://user@host[:port]; repeat for several.")
@click.option("--org", "organization", default=None, help="Owning department id (default: district).")
@click.option("--description", default=None)
@click.option("--contact", default=None, help="Who answers for the system.")
@click.option("--update", is_flag=True, help="Change an existing system instead (only the options given).")
@json_option
@pass_ctx
def add_cmd(ctx: CliContext, system_id: str, name: str | None, name_en: str | None, level: int | None,
            hosts: tuple[str, ...],
            organization: str | None, description: str | None, contact: str | None, update: bool) -> None:
    """Register a graded system (or change one with --update)."""
    from compliance.systems import register_system, update_system

    data: dict[str, Any] = {}
    for key, value in (("name", name), ("level", level), ("name_en", name_en), ("organization", organization), ("description", description),
                       ("contact", contact)):
        if value is not None:
            data[key] = value
    if hosts:
        data["hosts"] = list(hosts)
    lang = ctx.settings.language
    if update:
        doc = update_system(ctx.store(), ctx.settings, ctx.auditor, ctx.actor, system_id, data)
        ctx.emit(doc, t("compliance.systems.cli.updated", lang, id=system_id))
        return
    doc = register_system(ctx.store(), ctx.settings, ctx.auditor, ctx.actor, {"id": system_id, **data})
    ctx.emit(doc, t("compliance.systems.cli.registered", lang, id=doc["id"], name=_name(doc, lang), level=doc["level"],
                    hosts=len(doc["hosts"]), org=doc["organization"]["id"]))


@systems.command("show")
@click.argument("system_id")
@json_option
@pass_ctx
def show_cmd(ctx: CliContext, system_id: str) -> None:
    """One system, with its latest runs."""
    from compliance.service import list_runs
    from compliance.systems import get_system

    doc = get_system(ctx.store(), ctx.settings, ctx.actor, system_id)
    runs = list_runs(ctx.store(), ctx.settings, ctx.actor, limit=5, system=system_id)
    lang = ctx.settings.language
    lines = [f"{doc['id']}  {_name(doc, lang)}  L{doc['level']}  {doc['organization']['id']}",
             *(f"  host {h}" for h in doc.get("hosts") or []),
             *(f"  {line}" for line in (doc.get("description"), doc.get("contact")) if line),
             *(f"  run {r['id']}  {r.get('status')}  {r.get('overall', '—')}  {r.get('band', '')}" for r in runs)]
    ctx.emit({**doc, "runs": runs}, "\n".join(lines))


@systems.command("remove")
@click.argument("system_id")
@json_option
@pass_ctx
def remove_cmd(ctx: CliContext, system_id: str) -> None:
    """Remove a registration (its runs and reports stay)."""
    from compliance.systems import remove_system

    doc = remove_system(ctx.store(), ctx.settings, ctx.auditor, ctx.actor, system_id)
    ctx.emit(doc, t("compliance.systems.cli.removed", ctx.settings.language, id=system_id))


@systems.command("run-all")
@json_option
@pass_ctx
def run_all_cmd(ctx: CliContext) -> None:
    """Run every registered system once (what the schedule does after its own run)."""
    from compliance.jobs import scheduled_system_runs

    out = scheduled_system_runs(ctx.store(), ctx.settings, ctx.auditor)
    lines = [f"{r['system']}  {r['run_id'] or '-'}  {r['status']}  {r.get('overall', '—')}  {r.get('band') or ''}"
             + "".join(f"\n  ! {e}" for e in r["errors"]) for r in out]
    ctx.emit(out, "\n".join(lines) or t("compliance.systems.cli.none", ctx.settings.language))


@click.command("rollup")
@json_option
@pass_ctx
def rollup_cmd(ctx: CliContext) -> None:
    """Every graded system's latest score and open high risks, and a summary per department."""
    from compliance.rollup import rollup

    lang = ctx.settings.language
    data = rollup(ctx.store(), ctx.settings, ctx.actor, lang=lang)
    never = t("compliance.systems.rollup.never", lang)
    col = lambda *keys: [t(f"compliance.systems.col.{k}", lang) for k in keys]  # noqa: E731
    rows = [(r["organization"]["name"], r["system"]["id"], r["system"]["name"], r["system"]["level"],
             (r["latest_run_at"] or never)[:19].replace("T", " "), "—" if r["score"] is None else r["score"],
             r["band_label"] or "—", "—" if r["high_risks"] is None else r["high_risks"]) for r in data["rows"]]
    summary = [(d["organization"]["name"], d["systems"], d["assessed"],
                "—" if d["average_score"] is None else d["average_score"],
                "—" if d["lowest_score"] is None else d["lowest_score"], d["worst_band_label"] or "—", d["high_risks"])
               for d in data["departments"]]
    text = (t("compliance.systems.rollup.title", lang) + "\n"
            + render(col("department", "id", "name", "level", "latest", "score", "band", "high"), rows) + "\n\n"
            + t("compliance.systems.rollup.departments", lang) + "\n"
            + render(col("department", "systems", "assessed", "average", "lowest", "worst", "high"), summary))
    ctx.emit(data, text if data["rows"] else t("compliance.systems.cli.none", lang))
