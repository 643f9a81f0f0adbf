"""`soc departments` commands: the department tree (部门) whose data the platform keeps apart."""

from __future__ import annotations

import click

from core import departments as service
from core.departments import Departments
from core.i18n import t
from soc.cli.context import CliContext, json_option, pass_ctx
from soc.cli.table import render

COLUMNS = ("id", "name_zh", "name_en", "parent")


def _repo(ctx: CliContext) -> Departments:
    return Departments(ctx.settings, ctx.store())


@click.group("departments")
def departments() -> None:
    """Departments (部门): list, add, show, change (district administrators)."""


@departments.command("list")
@json_option
@pass_ctx
def list_departments(ctx: CliContext) -> None:
    """The departments you may see (all of them for a district operator)."""
    rows = service.list_departments(_repo(ctx), ctx.acting_for)
    lang = ctx.settings.language
    table = render([t(f"cli.departments.col.{c}", lang) for c in COLUMNS],
                   [tuple(r[c] for c in COLUMNS) for r in rows])
    ctx.emit(rows, table)


@departments.command("show")
@click.argument("dept_id")
@json_option
@pass_ctx
def show(ctx: CliContext, dept_id: str) -> None:
    """One department and its sub-departments."""
    out = service.show_department(_repo(ctx), dept_id, ctx.acting_for)
    subtree = out["sub_departments"]
    lang = ctx.settings.language
    human = "\n".join(f"{t(f'cli.departments.col.{c}', lang)}: {out[c] or '-'}" for c in COLUMNS)
    human += f"\n{t('cli.departments.sub', lang)}: {', '.join(subtree) or '-'}"
    ctx.emit(out, human)


@departments.command("add")
@click.argument("dept_id")
@click.option("--zh", "name_zh", required=True, help="Chinese name, e.g. 教委")
@click.option("--en", "name_en", required=True, help="English name, e.g. Education Commission")
@click.option("--parent", default=None, help="parent department (default: district)")
@json_option
@pass_ctx
def add(ctx: CliContext, dept_id: str, name_zh: str, name_en: str, parent: str | None) -> None:
    """Add a department under the district (or under --parent)."""
    out = service.create_department(_repo(ctx), ctx.auditor, dept_id, name_zh, name_en, parent, actor=ctx.actor)
    ctx.emit(out, t("cli.departments.added", ctx.settings.language, id=out["id"], parent=out["parent"]))


@departments.command("set")
@click.argument("dept_id")
@click.option("--zh", "name_zh", default=None)
@click.option("--en", "name_en", default=None)
@click.option("--parent", default=None)
@json_option
@pass_ctx
def set_department(ctx: CliContext, dept_id: str, name_zh: str | None, name_en: str | None,
                   parent: str | None) -> None:
    """Rename a department or move it under another parent."""
    out = service.update_department(_repo(ctx), ctx.auditor, dept_id, actor=ctx.actor, name_zh=name_zh,
                                    name_en=name_en, parent=parent)
    ctx.emit(out, t("cli.departments.changed", ctx.settings.language, id=out["id"], parent=out["parent"]))


COMMANDS: list[click.Command] = [departments]
