"""`soc audit` commands: verify the hash chain, list records, purge past retention."""

from __future__ import annotations

import click

from audit import service
from audit.trail import AuditTrail
from core.i18n import t
from soc.cli.context import CliContext, json_option, pass_ctx


def _trail(ctx: CliContext) -> AuditTrail:
    return service.open_trail(ctx.settings, ctx.store())


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@json_option
@pass_ctx
def verify(ctx: CliContext) -> None:
    """Check Elasticsearch and the local mirror; exit 1 naming the first broken record."""
    result = service.verify(_trail(ctx), ctx.actor)
    counts = result["records"]
    lang = ctx.settings.language
    if result["ok"]:
        human = t("audit.verify.ok", lang, count=counts["elasticsearch"])
    else:
        human = "\n".join([t("audit.verify.broken", lang, **result["first_problem"])]
                          + [f"  [{p['source']}] {p['kind']}: {p['message']}" for p in result["problems"]])
    ctx.emit(result, human)
    if not result["ok"]:
        raise click.exceptions.Exit(1)


@audit.command("list")
@click.option("--action", help="e.g. auth.login, alerts.status")
@click.option("--user", help="actor name")
@click.option("--outcome", type=click.Choice(["success", "failure", "denied"]))
@click.option("--since", "start", help="ISO 8601 time")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
@pass_ctx
def list_records(ctx: CliContext, action: str | None, user: str | None, outcome: str | None, start: str | None,
                 limit: int) -> None:
    page = service.search(_trail(ctx), ctx.actor, action=action, user=user, outcome=outcome, start=start, size=limit)
    human = "\n".join(f"{r['seq']:>7} {r['time']} {r['actor']:<16} {r['role']:<9} {r['action']:<22} "
                      f"{r['target']} {r['outcome']}" for r in page["items"])
    ctx.emit(page, human or "no records")


@audit.command("purge")
@click.option("--before", required=True, help="ISO 8601 cutoff; must be at least the retention (185 days) ago")
@json_option
@pass_ctx
def purge(ctx: CliContext, before: str) -> None:
    """Delete records older than the cutoff; refuses anything inside the retention period."""
    out = service.purge(_trail(ctx), ctx.actor, before)
    ctx.emit(out, f"deleted {out['deleted']} records older than {out['before']}")


COMMANDS: list[click.Command] = [audit]
