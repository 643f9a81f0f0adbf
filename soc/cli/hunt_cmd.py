"""`soc hunt` commands: search stored events from the terminal (query string, time range, fields)
and the top values of a field — the console's hunt page for a shell."""

from __future__ import annotations

import click

from core.i18n import t
from core.schema import field_text
from detections.triage import hunt as svc
from detections.triage.common import MAX_PAGE
from soc.cli import hunt_evtx_cmd
from soc.cli.context import CliContext, json_option, pass_ctx
from soc.cli.table import render


@click.group("hunt")
def hunt() -> None:
    """Hunt in stored events."""


@hunt.command("events")
@click.argument("query", required=False, default="*")
@click.option("--since", "start", help="ISO 8601 or relative (now-24h); default: the last 24 hours")
@click.option("--until", "end", help="ISO 8601 or relative; default: now")
@click.option("--dataset", help="only this event.dataset (e.g. system.auth)")
@click.option("--field", "fields", multiple=True, help="columns to show (repeatable), e.g. --field source.ip")
@click.option("--limit", type=click.IntRange(1, MAX_PAGE), default=50, show_default=True)
@click.option("--oldest-first", is_flag=True)
@json_option
@pass_ctx
def events(ctx: CliContext, query: str, start: str | None, end: str | None, dataset: str | None,
           fields: tuple[str, ...], limit: int, oldest_first: bool) -> None:
    """Events matching QUERY (Lucene query string, e.g. 'event.outcome:failure AND source.ip:203.0.113.50')."""
    page = svc.search_events(ctx.store(), ctx.settings, actor=ctx.actor, query=query, start=start, end=end,
                             size=limit, order="asc" if oldest_first else "desc", dataset=dataset)
    lang = ctx.settings.language
    if fields:
        headers = [t("cli.hunt.col.time", lang), *fields]
        rows = [(field_text(e, "@timestamp"), *(field_text(e, f) for f in fields)) for e in page["items"]]
    else:
        headers = [t(f"cli.hunt.col.{c}", lang) for c in ("time", "dataset", "host", "message")]
        rows = [(field_text(e, "@timestamp"), field_text(e, "event.dataset"), field_text(e, "host.name"),
                 (field_text(e, "message") or field_text(e, "event.original") or field_text(e, "event.action"))[:200])
                for e in page["items"]]
    page.pop("next", None)  # a cursor is for the API; the CLI shows one page
    ctx.emit(page, render(headers, rows) + "\n" + t("cli.hunt.shown", lang, shown=len(rows), total=page["total"],
                                                      start=page["start"], end=page["end"]))


@hunt.command("top")
@click.argument("field")
@click.argument("query", required=False, default="*")
@click.option("--since", "start")
@click.option("--until", "end")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@json_option
@pass_ctx
def top(ctx: CliContext, field: str, query: str, start: str | None, end: str | None, limit: int) -> None:
    """The most frequent values of FIELD among events matching QUERY."""
    out = svc.top_values(ctx.store(), ctx.settings, field, actor=ctx.actor, query=query, start=start, end=end,
                         size=limit)
    lang = ctx.settings.language
    table = render([t("cli.hunt.col.value", lang), t("cli.hunt.col.count", lang)],
                   [(v["value"], v["count"]) for v in out["values"]])
    ctx.emit(out, table + "\n" + t("cli.hunt.top", lang, field=field, distinct=out["distinct"],
                                   total=out["total"], other=out["other"]))


COMMANDS: list[click.Command] = [hunt]

for _command in hunt_evtx_cmd.COMMANDS:
    hunt.add_command(_command)
