"""`soc rules` commands: import/lint Sigma rules, list, enable, suppression, exceptions, test, run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson

from core.errors import InvalidInput
from core.i18n import t
from core.ids import stable_id
from soc.cli.context import CliContext, json_option, pass_ctx

MAX_JSON_LINE = 16 * 1024 * 1024


def _auditor(ctx: CliContext) -> Any:
    from audit.trail import AuditTrail

    return AuditTrail(ctx.settings, ctx.store())


def _lint_text(report: dict[str, Any], verbose: bool, lang: str) -> str:
    s = report["summary"]
    lines = [t("detections.lint.summary", lang, total=s["total"], loaded=s["loaded"], rejected=s["rejected"])]
    for reason, n in s.get("rejected_by_reason", {}).items():
        label = t(f"detections.lint.category.{reason}", lang)
        lines.append("  " + t("detections.lint.rejected", lang, reason=label, count=n))
    if "stored" in s:
        lines.append(t("detections.lint.stored", lang, **s["stored"]))
    for e in report["entries"]:
        if e["status"] == "rejected":
            lines.append(f"REJECTED {e['source']} [{e['rule_id'] or '-'}] {e['category']}: {e['reason']}")
        elif verbose:
            lines.append(f"loaded   {e['source']} [{e['rule_id']}] {e['title']}")
            lines.extend(f"         warning: {w}" for w in e["warnings"])
    return "\n".join(lines)


@click.group("rules")
def rules() -> None:
    """Sigma detection rules: import, lint, enable, exceptions, test, run."""


@rules.command("import")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--pack", help="Import a rule pack instead (e.g. `default`: own rules + SigmaHQ rules for the "
                             "collected log sources).")
@click.option("--sigmahq", "sigmahq_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="SigmaHQ checkout the pack selects from (default: detect.sigmahq_dir).")
@click.option("--disabled", is_flag=True, help="Store the rules disabled.")
@click.option("--no-validate", is_flag=True, help="Skip validation of compiled queries on Elasticsearch.")
@click.option("-v", "--verbose", is_flag=True, help="List loaded rules and warnings too.")
@json_option
@pass_ctx
def import_cmd(ctx: CliContext, paths: tuple[Path, ...], pack: str | None, sigmahq_dir: Path | None,
               disabled: bool, no_validate: bool, verbose: bool) -> None:
    """Import rules from directories, .zip files or .yml files (or a --pack); prints the lint report."""
    from detections.service import import_pack, import_rules

    if bool(paths) == bool(pack):
        raise InvalidInput("Give rule paths or --pack NAME (not both).")
    if pack:
        report = import_pack(ctx.store(), ctx.settings.index_prefix, pack,
                             sigmahq_dir=sigmahq_dir or ctx.settings.detect.sigmahq_dir, actor=ctx.actor,
                             auditor=_auditor(ctx), enabled=not disabled)
        text = _lint_text(report, verbose, ctx.settings.language)
        if report["pack"]["sigmahq_missing"]:
            text += "\n" + t("detections.pack.no_sigmahq", ctx.settings.language)
        ctx.emit(report, text)
        return
    report = import_rules(ctx.store(), ctx.settings.index_prefix, list(paths), actor=ctx.actor,
                          auditor=_auditor(ctx), enabled=not disabled, validate=not no_validate)
    ctx.emit(report, _lint_text(report, verbose, ctx.settings.language))


@rules.command("lint")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-v", "--verbose", is_flag=True)
@json_option
@pass_ctx
def lint_cmd(ctx: CliContext, paths: tuple[Path, ...], verbose: bool) -> None:
    """Check rules without storing them (no Elasticsearch needed)."""
    from detections.service import lint

    rep = lint(list(paths))
    report = {"summary": rep.summary(), "entries": [e.to_dict() for e in rep.entries]}
    ctx.emit(report, _lint_text(report, verbose, ctx.settings.language))


@rules.command("list")
@click.option("--enabled/--disabled", "enabled", default=None, help="Only enabled / disabled rules.")
@click.option("--level", type=click.Choice(["informational", "low", "medium", "high", "critical"]))
@click.option("--search", "text", help="Substring of title or id.")
@click.option("--limit", type=click.IntRange(1, 10000), default=500)
@json_option
@pass_ctx
def list_cmd(ctx: CliContext, enabled: bool | None, level: str | None, text: str | None, limit: int) -> None:
    """List stored rules with their run statistics."""
    from detections.service import list_rules

    docs = list_rules(ctx.store(), ctx.settings.index_prefix, actor=ctx.actor, enabled=enabled, level=level,
                      text=text, limit=limit)
    lang = ctx.settings.language
    lines = [_rule_line(d, lang) for d in docs]
    state, rid, level, status, total, title = t("detections.list.columns", lang).split("|")
    header = f"{state:<5} {rid:<37} {level:<8} {status:<13} {total:<7} {title}"
    ctx.emit(docs, "\n".join([header, *lines]) if lines else "no rules")


def _rule_line(d: dict[str, Any], lang: str) -> str:
    st = d.get("stats") or {}
    status = st.get("status") or ("ok" if st.get("last_run") else "never_run")
    label = t(f"detections.status.{status}", lang)
    if status == "failing":
        label += f" x{st.get('failures', 0)}"
    line = (f"{'on' if d.get('enabled') else 'off':<5} {d['id']:<37} {d.get('level', ''):<8} {label:<13} "
            f"{st.get('total_alerts', 0):<7} {d.get('title', '')}")
    if status == "failing":
        line += f"\n      last error: {st.get('last_error')}; next retry {st.get('next_retry')}"
    if st.get("gap_seconds"):
        gap = st.get("last_gap") or {}
        line += f"\n      skipped {st['gap_seconds']} s of events (last gap {gap.get('from')} – {gap.get('to')})"
    return line


@rules.command("show")
@click.argument("rule_id")
@json_option
@pass_ctx
def show_cmd(ctx: CliContext, rule_id: str) -> None:
    """Show one rule: definition, compiled query, exceptions, statistics."""
    from detections.service import get_rule

    ctx.emit(get_rule(ctx.store(), ctx.settings.index_prefix, rule_id, actor=ctx.actor))


def _toggle(ctx: CliContext, ids: tuple[str, ...], enabled: bool) -> None:
    from detections.service import set_enabled

    results = set_enabled(ctx.store(), ctx.settings.index_prefix, list(ids), enabled, actor=ctx.actor,
                          auditor=_auditor(ctx))
    ctx.emit(results, "\n".join(f"{r['id']}: {'ok' if r['ok'] else r['error']}" for r in results))
    if not all(r["ok"] for r in results):
        raise InvalidInput("Some rules could not be changed (see above).")


@rules.command("enable")
@click.argument("rule_ids", nargs=-1, required=True)
@json_option
@pass_ctx
def enable_cmd(ctx: CliContext, rule_ids: tuple[str, ...]) -> None:
    """Enable rules."""
    _toggle(ctx, rule_ids, True)


@rules.command("disable")
@click.argument("rule_ids", nargs=-1, required=True)
@json_option
@pass_ctx
def disable_cmd(ctx: CliContext, rule_ids: tuple[str, ...]) -> None:
    """Disable rules."""
    _toggle(ctx, rule_ids, False)


@rules.command("suppress")
@click.argument("rule_id")
@click.option("--by", "fields", multiple=True, help="Entity field to group by (repeatable), e.g. source.ip.")
@click.option("--window", default="5m", show_default=True, help="Suppression window (30s, 10m, 1h).")
@click.option("--off", is_flag=True, help="Remove suppression.")
@json_option
@pass_ctx
def suppress_cmd(ctx: CliContext, rule_id: str, fields: tuple[str, ...], window: str, off: bool) -> None:
    """Group a rule's alerts by entity fields within a window."""
    from detections.service import set_suppression

    if not off and not fields:
        raise InvalidInput("Give at least one --by FIELD, or --off to remove suppression.")
    doc = set_suppression(ctx.store(), ctx.settings.index_prefix, rule_id, [] if off else list(fields), window,
                          actor=ctx.actor, auditor=_auditor(ctx))
    ctx.emit({"id": rule_id, "suppression": doc.get("suppression")}, f"{rule_id}: suppression {doc.get('suppression')}")


@rules.group("exceptions")
def exceptions() -> None:
    """Per-rule allow-list conditions (versioned)."""


@exceptions.command("add")
@click.argument("rule_id")
@click.option("--field", required=True, help="ECS field, e.g. user.name.")
@click.option("--op", type=click.Choice(["equals", "contains", "startswith", "endswith", "cidr", "regex"]),
              default="equals", show_default=True)
@click.option("--value", "values", multiple=True, required=True, help="Value (repeatable: any of them).")
@click.option("--comment", default="")
@json_option
@pass_ctx
def exc_add(ctx: CliContext, rule_id: str, field: str, op: str, values: tuple[str, ...], comment: str) -> None:
    """Add an exception: events matching it raise no alert for this rule."""
    from detections.service import add_exception

    out = add_exception(ctx.store(), ctx.settings.index_prefix, rule_id, field, op, list(values), actor=ctx.actor,
                        auditor=_auditor(ctx), comment=comment)
    ctx.emit(out, f"added exception {out['exception']['id']} (version {out['exceptions_version']})")


@exceptions.command("list")
@click.argument("rule_id")
@json_option
@pass_ctx
def exc_list(ctx: CliContext, rule_id: str) -> None:
    """List a rule's exceptions."""
    from detections.service import list_exceptions

    out = list_exceptions(ctx.store(), ctx.settings.index_prefix, rule_id, actor=ctx.actor)
    lines = [f"version {out['exceptions_version']}"] + [
        f"{e['id']}  {e['field']} {e['op']} {', '.join(e['values'])}  {e.get('comment', '')}" for e in out["exceptions"]]
    ctx.emit(out, "\n".join(lines))


@exceptions.command("remove")
@click.argument("rule_id")
@click.argument("exception_id")
@json_option
@pass_ctx
def exc_remove(ctx: CliContext, rule_id: str, exception_id: str) -> None:
    """Remove an exception by id."""
    from detections.service import remove_exception

    out = remove_exception(ctx.store(), ctx.settings.index_prefix, rule_id, exception_id, actor=ctx.actor,
                           auditor=_auditor(ctx))
    ctx.emit(out, f"removed {exception_id} (version {out['exceptions_version']})")


def read_event_files(paths: list[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Sample events for `rules test`: EVTX, JSON lines (ECS documents) or log files (collectors)."""
    from collectors.evtx import iter_evtx_events

    for path in paths:
        suffix = path.suffix.lower()
        if suffix == ".evtx":
            for ev in iter_evtx_events(path):
                yield ev.id, ev.doc
        elif suffix in (".json", ".jsonl", ".ndjson"):
            with path.open("rb") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    if len(line) > MAX_JSON_LINE:
                        raise InvalidInput(f"{path}:{lineno}: line longer than {MAX_JSON_LINE} bytes.")
                    try:
                        doc = orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        raise InvalidInput(f"{path}:{lineno}: not JSON ({exc}). Give one ECS document per line.") from exc
                    if not isinstance(doc, dict):
                        raise InvalidInput(f"{path}:{lineno}: expected a JSON object.")
                    yield stable_id("jsonl", str(path.resolve()), lineno), doc
        else:
            from collectors.inputs.filereader import iter_file_events

            for ev in iter_file_events(path):
                yield ev.id, ev.doc


@rules.command("test")
@click.argument("rule")
@click.option("--events", "event_files", multiple=True, required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="EVTX, JSON lines or log file (repeatable).")
@click.option("--max-matches", type=click.IntRange(0, 10000), default=1000)
@json_option
@pass_ctx
def test_cmd(ctx: CliContext, rule: str, event_files: tuple[Path, ...], max_matches: int) -> None:
    """Run RULE (a Sigma file or a loaded rule id) against sample events; show the matches."""
    from detections.service import test_rule

    out = test_rule(ctx.store(), ctx.settings.index_prefix, rule, read_event_files(list(event_files)),
                    actor=ctx.actor, max_matches=max_matches)
    human = [t("detections.test.summary", ctx.settings.language, title=out["rule"]["title"],
               matches=out["match_count"], events=out["events"])]
    for m in out["matches"][:20]:
        human.append(f"  {m.get('@timestamp')}  {orjson.dumps(m).decode()[:200]}")
    ctx.emit(out, "\n".join(human))


@rules.command("run-once")
@click.option("--force", is_flag=True, help="Run every rule now, ignoring intervals.")
@json_option
@pass_ctx
def run_once_cmd(ctx: CliContext, force: bool) -> None:
    """Run one detection cycle (what the scheduler does every tick)."""
    from detections.jobs import detection_cycle

    result = detection_cycle(ctx.settings, ctx.store(), _auditor(ctx), force=force)
    out = result.to_dict() | {"results": [r.__dict__ for r in result.results
                                          if r.error or r.alerts_created or r.grouped]}
    lang = ctx.settings.language
    lines = [t("detections.cycle.summary", lang, rules=result.rules_run, ms=result.took_ms,
               alerts=result.alerts_created, errors=result.errors)]
    grouped = [r for r in result.results if r.grouped]
    if grouped:
        lines.append(t("detections.cycle.grouped", lang, rules=len(grouped), events=sum(r.grouped for r in grouped),
                       alerts=sum(r.alerts_created for r in grouped)))
        lines += ["  " + t("detections.cycle.grouped_rule", lang, rule=r.rule_id, events=r.grouped)
                  for r in sorted(grouped, key=lambda r: -r.grouped)[:10]]
    failed = [r for r in result.results if r.error]
    lines += ["  " + t("detections.cycle.failed", lang, rule=r.rule_id, error=r.error) for r in failed[:20]]
    if len(failed) > 20:
        lines.append(f"  … {len(failed) - 20} more (--json lists all)")
    ctx.emit(out, "\n".join(lines))


COMMANDS: list[click.Command] = [rules]
