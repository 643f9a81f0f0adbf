"""`soc alerts` commands: list, show and work alerts from the terminal."""

from __future__ import annotations

from typing import Any

import click

from core.alerting import CLOSE_REASONS, LEVELS, STATUSES
from core.i18n import t
from core.schema import field_text
from detections.triage import alerts as svc
from soc.cli.context import CliContext, json_option, pass_ctx
from soc.cli.table import render

# Ids are shown shortened; every command accepts any unique prefix of at least 6 characters.
ID_SHOWN = 16
COLUMNS = ("id", "time", "level", "status", "host", "source", "user", "rule")


def _source_of(alert: dict[str, Any]) -> str:
    return field_text(alert, "source.ip") or field_text(alert, "source.address") or field_text(alert, "group.key")


def format_alert(out: dict[str, Any], lang: str) -> str:
    """One alert as the console's detail panel shows it: summary, rule, entities, events, history."""
    a = out["alert"]
    al = a.get("alert", {})
    rule = a.get("rule", {})
    lines = [f"{rule.get('name', '-')}  [{al.get('level', '-')}]  {al.get('status', '-')}",
             f"  {t('cli.alerts.col.id', lang)}: {al.get('id')}"]
    fields = [("detected", a.get("@timestamp")), ("event_time", field_text(a, "alert.first_seen") or field_text(a, "event.start")),
              ("rule_id", rule.get("id")), ("tags", ", ".join(rule.get("tags") or [])),
              ("host", field_text(a, "host.name")), ("user", field_text(a, "user.name")), ("source", _source_of(a)),
              ("assignee", al.get("assignee")), ("case", al.get("case_id")), ("reason", al.get("reason"))]
    lines.extend(f"  {t('cli.alerts.field.' + k, lang)}: {v}" for k, v in fields if v)
    events = out.get("events") or []
    if events:
        lines.append(t("cli.alerts.events", lang, count=len(events)))
        for ev in events[:20]:
            text = field_text(ev, "message") or field_text(ev, "event.original") or field_text(ev, "event.action")
            lines.append(f"  {field_text(ev, '@timestamp')}  {field_text(ev, 'event.dataset')}  {text[:160]}")
    history = out.get("history") or []
    if history:
        lines.append(t("cli.alerts.history", lang))
        lines.extend(f"  {h.get('time')}  {h.get('actor')}  {h.get('action')}  {h.get('from')} → {h.get('to')}"
                     for h in history)
    for c in out.get("comments") or []:
        lines.append(f"  💬 {c.get('time')}  {c.get('author') or c.get('actor')}: {c.get('text')}")
    return "\n".join(lines)


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
    lang = ctx.settings.language
    rows = [(a["alert"]["id"][:ID_SHOWN], a["@timestamp"][:19].replace("T", " "), a["alert"]["level"],
             a["alert"]["status"], field_text(a, "host.name"), _source_of(a), field_text(a, "user.name"), a["rule"]["name"])
            for a in page["items"]]
    table = render([t(f"cli.alerts.col.{c}", lang) for c in COLUMNS], rows)
    ctx.emit(page, table + "\n" + t("cli.alerts.shown", lang, shown=len(rows), total=page["total"]))


@alerts.command("show")
@click.argument("alert_id")
@json_option
@pass_ctx
def show(ctx: CliContext, alert_id: str) -> None:
    out = svc.get_alert(ctx.store(), ctx.settings, alert_id, actor=ctx.actor)
    ctx.emit(out, format_alert(out, ctx.settings.language))


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
