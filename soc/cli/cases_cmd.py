"""`soc cases` commands: list, show, create, add alerts, note and close cases from the terminal; share
a case with users of another department, list and revoke its grants."""

from __future__ import annotations

import json

import click

from core.i18n import t
from detections.triage import cases as svc
from detections.triage import sharing
from detections.triage.cases import CASE_STATUSES, SEVERITIES
from soc.cli.context import CliContext, json_option, pass_ctx
from soc.cli.table import render


@click.group("cases")
def cases() -> None:
    """Cases: group alerts, track status and notes."""


@cases.command("list")
@click.option("--status", type=click.Choice(CASE_STATUSES), multiple=True)
@click.option("--severity", type=click.Choice(SEVERITIES), multiple=True)
@click.option("--assignee")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
@pass_ctx
def list_cases(ctx: CliContext, status: tuple[str, ...], severity: tuple[str, ...], assignee: str | None,
               limit: int) -> None:
    page = svc.list_cases(ctx.store(), ctx.settings, actor=ctx.actor, status=list(status),
                          severity=list(severity), assignee=assignee, size=limit)
    lang = ctx.settings.language
    cols = ("id", "updated", "status", "severity", "assignee", "alerts", "title")
    rows = [(c["case_id"], str(c.get("updated", ""))[:19].replace("T", " "), c.get("status"), c.get("severity"),
             c.get("assignee"), len(c.get("alert_ids") or []), c.get("title")) for c in page["items"]]
    ctx.emit(page, render([t(f"cli.cases.col.{c}", lang) for c in cols], rows) + "\n"
             + t("cli.cases.shown", lang, shown=len(rows), total=page["total"]))


@cases.command("show")
@click.argument("case_id")
@json_option
@pass_ctx
def show(ctx: CliContext, case_id: str) -> None:
    case = svc.get_case(ctx.store(), ctx.settings, case_id, actor=ctx.actor)
    lines = [f"{case['case_id']}  {case.get('title')}  [{case.get('severity')}]  {case.get('status')}",
             f"  {t('cli.cases.col.assignee', ctx.settings.language)}: {case.get('assignee') or '-'}",
             f"  {t('cli.cases.col.alerts', ctx.settings.language)}: {', '.join(case.get('alert_ids') or []) or '-'}"]
    if case.get("description"):
        lines.append(f"  {case['description']}")
    for n in case.get("notes") or []:
        lines.append(f"  ✎ {n.get('time')}  {n.get('author') or n.get('actor')}: {n.get('text')}")
    for e in case.get("timeline") or []:
        extra = {k: v for k, v in e.items() if k not in ("time", "actor", "action")}
        lines.append(f"  {e.get('time')}  {e.get('actor')}  {e.get('action')}  "
                     f"{json.dumps(extra, ensure_ascii=False) if extra else ''}".rstrip())
    ctx.emit(case, "\n".join(lines))


@cases.command("create")
@click.argument("title")
@click.option("--alert", "alert_ids", multiple=True, help="alert id or unique prefix (repeatable)")
@click.option("--severity", type=click.Choice(SEVERITIES), default="medium", show_default=True)
@click.option("--description", default="")
@json_option
@pass_ctx
def create(ctx: CliContext, title: str, alert_ids: tuple[str, ...], severity: str, description: str) -> None:
    out = svc.create_case(ctx.store(), ctx.settings, ctx.auditor, title, actor=ctx.actor,
                          alert_ids=list(alert_ids), severity=severity, description=description)
    ctx.emit(out, t("cli.cases.created", ctx.settings.language, case=out["case"]["case_id"],
                    alerts=len(out["case"]["alert_ids"])))


@cases.command("add")
@click.argument("case_id")
@click.argument("alert_ids", nargs=-1, required=True)
@json_option
@pass_ctx
def add(ctx: CliContext, case_id: str, alert_ids: tuple[str, ...]) -> None:
    """Add alerts (ids or unique prefixes) to a case."""
    out = svc.add_alerts(ctx.store(), ctx.settings, ctx.auditor, case_id, list(alert_ids), actor=ctx.actor)
    results = out.get("results") or []
    ok = sum(1 for r in results if r.get("ok"))
    text = t("cli.cases.alerts_added", ctx.settings.language, case=case_id, ok=ok, failed=len(results) - ok)
    text += "".join(f"\n  {r['id']}: {r['error']}" for r in results if not r.get("ok"))
    ctx.emit(out, text)


@cases.command("note")
@click.argument("case_id")
@click.argument("text")
@json_option
@pass_ctx
def note(ctx: CliContext, case_id: str, text: str) -> None:
    out = svc.add_note(ctx.store(), ctx.settings, ctx.auditor, case_id, text, actor=ctx.actor)
    ctx.emit(out, t("cli.cases.noted", ctx.settings.language, case=case_id))


@cases.command("status")
@click.argument("case_id")
@click.argument("status", type=click.Choice(("open", "in_progress", "closed")))
@json_option
@pass_ctx
def set_status(ctx: CliContext, case_id: str, status: str) -> None:
    out = svc.update_case(ctx.store(), ctx.settings, ctx.auditor, case_id, actor=ctx.actor, status=status)
    ctx.emit(out, t("cli.cases.updated", ctx.settings.language, case=case_id, status=status))


@cases.command("share")
@click.argument("case_id")
@click.option("--to", "grantees", multiple=True, required=True, help="user name of another department (repeatable)")
@click.option("--expires", required=True, help="ISO 8601 time or a duration (12h, 7d); at most 30 days")
@click.option("--reason", default="")
@json_option
@pass_ctx
def share(ctx: CliContext, case_id: str, grantees: tuple[str, ...], expires: str, reason: str) -> None:
    """Share a case, its alerts and the events they cite with users of another department."""
    out = sharing.share_case(ctx.store(), ctx.settings, ctx.auditor, case_id, actor=ctx.actor,
                             grantees=list(grantees), expires=expires, reason=reason)
    lang = ctx.settings.language
    text = t("cli.cases.shared", lang, case=case_id, grantees=", ".join(out["grantees"]), expires=out["expires"],
             share=out["share_id"], documents=out["covered"])
    if out.get("truncated"):
        text += "\n" + t("cli.cases.share_truncated", lang, documents=out["covered"])
    ctx.emit(out, text)


@cases.command("shares")
@click.argument("case_id")
@json_option
@pass_ctx
def shares(ctx: CliContext, case_id: str) -> None:
    """The case's share grants (active, expired, revoked)."""
    out = sharing.list_shares(ctx.store(), ctx.settings, case_id, actor=ctx.actor)
    lang = ctx.settings.language
    if not out["items"]:
        ctx.emit(out, t("cli.cases.no_shares", lang, case=case_id))
        return
    cols = ("share", "grantees", "expires", "state", "by")
    rows = [(s["share_id"], ", ".join(s.get("grantees") or []), str(s.get("expires", ""))[:19].replace("T", " "),
             s["state"], s.get("created_by")) for s in out["items"]]
    ctx.emit(out, render([t(f"cli.cases.col.{c}", lang) for c in cols], rows))


@cases.command("revoke")
@click.argument("case_id")
@click.argument("share_id")
@json_option
@pass_ctx
def revoke(ctx: CliContext, case_id: str, share_id: str) -> None:
    """End a share grant now."""
    out = sharing.revoke_share(ctx.store(), ctx.settings, ctx.auditor, case_id, share_id, actor=ctx.actor)
    ctx.emit(out, t("cli.cases.revoked", ctx.settings.language, case=case_id, share=share_id))


COMMANDS: list[click.Command] = [cases]
