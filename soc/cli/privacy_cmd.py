"""`soc privacy`: where personal information is processed (inventory), the policy in force, and
time-limited unmasking for the security administrator."""

from __future__ import annotations

import click

from core.i18n import t
from privacy import service as svc
from soc.cli.context import CliContext, json_option, pass_ctx
from soc.cli.table import render


@click.group("privacy")
def privacy() -> None:
    """Personal information (个人信息保护): inventory, policy, unmasking."""


@privacy.command("inventory")
@click.option("--since", help="only events since this ISO 8601 time")
@click.option("--csv", "as_csv", is_flag=True, help="print CSV (for a spreadsheet or an auditor)")
@json_option
@pass_ctx
def inventory(ctx: CliContext, since: str | None, as_csv: bool) -> None:
    """Which datasets, fields, hosts and endpoints carry which kinds of personal information."""
    report = svc.inventory(ctx.store(), ctx.settings, actor=ctx.actor, since=since)
    if as_csv and not ctx.as_json:
        click.echo(svc.inventory_csv(report), nl=False)
        return
    lang = ctx.settings.language
    cols = ("dataset", "field", "type", "events", "first_seen", "last_seen", "action", "hosts")
    rows = [[", ".join(r[c]) if isinstance(r[c], list) else r[c] for c in cols] for r in report["rows"]]
    human = render([t(f"cli.privacy.col.{c}", lang) for c in cols], rows)
    human += "\n" + t("cli.privacy.totals", lang, rows=len(rows),
                      totals=", ".join(f"{k} {v}" for k, v in sorted(report["totals"].items())) or "-")
    ctx.emit(report, human)


@privacy.command("policy")
@json_option
@pass_ctx
def policy(ctx: CliContext) -> None:
    """The masking policy in force (first matching rule wins)."""
    view = svc.policy_view(ctx.settings, actor=ctx.actor)
    lang = ctx.settings.language
    rows = [(r["dataset"], r["field"], r["type"], r["action"]) for r in view["rules"]]
    human = render([t(f"cli.privacy.col.{c}", lang) for c in ("dataset", "field", "type", "action")], rows)
    if view["forbidden_datasets"]:
        human += "\n" + t("cli.privacy.forbidden", lang, datasets=", ".join(view["forbidden_datasets"]))
    ctx.emit(view, human)


COMMANDS: list[click.Command] = [privacy]
