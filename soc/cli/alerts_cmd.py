"""`soc alerts` commands: list, show and work alerts from the terminal."""

from __future__ import annotations

import click

from core.alerting import CLOSE_REASONS, LEVELS, STATUSES
from detections.triage import alerts as svc
from soc.cli.context import CliContext, json_option, pass_ctx


@click.group("alerts")
def alerts() -> None:
    """Alert triage: new → acknowledged → in_progress → closed."""


@alerts.command("list")
@click.option("--status", type=click.Choice(STATUSES), multiple=True)
@click.option("--level", type=click.Choice(LEVELS), multiple=True)
@click.option("--host", multiple=True)
@click.option("--rule", multiple=True, help="rule id or name")
@click.option("--since", "start", help="ISO 8601 or now-24h")
@click.option("--text", help="free text")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
@pass_ctx
def list_alerts(ctx: CliContext, status: tuple[str, ...], level: tuple[str, ...], host: tuple[str, ...],
                rule: tuple[str, ...], start: str | None, text: str | None, limit: int) -> None:
    page = svc.list_alerts(ctx.store(), ctx.settings, actor=ctx.actor, status=list(status), level=list(level),
                           host=list(host), rule=list(rule), start=start, text=text, size=limit)
    lines = [f"{a['@timestamp']} {a['alert']['id'][:12]} {a['alert']['level']:<8} {a['alert']['status']:<12} "
             f"{a.get('host', {}).get('name', '-'):<16} {a['rule']['name']}" for a in page["items"]]
    ctx.emit(page, "\n".join(lines + [f"({len(lines)} of {page['total']})"]))


@alerts.command("show")
@click.argument("alert_id")
@json_option
@pass_ctx
def show(ctx: CliContext, alert_id: str) -> None:
    out = svc.get_alert(ctx.store(), ctx.settings, alert_id, actor=ctx.actor)
    ctx.emit(out)


@alerts.command("status")
@click.argument("alert_id")
@click.argument("status", type=click.Choice(STATUSES))
@click.option("--reason", type=click.Choice(CLOSE_REASONS), help="required to close")
@json_option
@pass_ctx
def set_status(ctx: CliContext, alert_id: str, status: str, reason: str | None) -> None:
    store = ctx.store()
    out = svc.set_status(store, ctx.settings, ctx.auditor, alert_id, status, actor=ctx.actor,
                         close_reason=reason)
    ctx.emit(out, f"{alert_id}: {out['alert']['status']}")


@alerts.command("assign")
@click.argument("alert_id")
@click.argument("assignee", required=False)
@json_option
@pass_ctx
def assign(ctx: CliContext, alert_id: str, assignee: str | None) -> None:
    """Assign (or, without ASSIGNEE, unassign) an alert."""
    store = ctx.store()
    out = svc.assign(store, ctx.settings, ctx.auditor, alert_id, assignee, actor=ctx.actor)
    ctx.emit(out, f"{alert_id}: assigned to {out['alert'].get('assignee') or 'nobody'}")


@alerts.command("comment")
@click.argument("alert_id")
@click.argument("text")
@json_option
@pass_ctx
def comment(ctx: CliContext, alert_id: str, text: str) -> None:
    store = ctx.store()
    out = svc.add_comment(store, ctx.settings, ctx.auditor, alert_id, text, actor=ctx.actor)
    ctx.emit(out, f"{alert_id}: {len(out['alert'].get('comments') or [])} comments")


COMMANDS: list[click.Command] = [alerts]
