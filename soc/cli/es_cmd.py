"""`soc es install|start|stop|status|migrate|logs`: the managed Elasticsearch node and the event layout."""

from __future__ import annotations

import click

from core.errors import InvalidInput
from core.event_migrate import daily_indices, migrate, storage_status
from core.i18n import t
from core.node import ManagedNode
from core.schema import install_templates
from soc.cli.context import CliContext, json_option, pass_ctx


def _node(c: CliContext) -> ManagedNode:
    if not c.settings.managed_es:
        raise InvalidInput(
            f"SOC_ES_URL is set ({c.settings.es_url_display}): the platform uses that cluster and manages no node. "
            "Unset SOC_ES_URL to use the managed node."
        )
    return ManagedNode(c.settings)


def _say(c: CliContext):  # type: ignore[no-untyped-def]
    return (lambda _m: None) if c.as_json else (lambda m: click.echo(m, err=True))


@click.group("es")
def es() -> None:
    """The managed Elasticsearch node (or the cluster named by SOC_ES_URL)."""


@es.command("install")
@json_option
@pass_ctx
def install(c: CliContext) -> None:
    """Fetch the distribution through Maven, verify and unpack it (idempotent)."""
    node = _node(c)
    home = node.install(log=_say(c))
    c.emit({"installed": True, "home": str(home), "version": node.version}, f"Elasticsearch {node.version}: {home}")


@es.command("start")
@json_option
@pass_ctx
def start(c: CliContext) -> None:
    """Start the node in the background, wait until it answers, install templates, migrate
    per-day event indices of the old layout (as `soc es migrate`)."""
    node = _node(c)
    st = node.start(log=_say(c))
    install_templates(c.store(), c.settings.index_prefix)
    if daily_indices(c.store(), c.settings.index_prefix):
        migrate(c.store(), c.settings, log=_say(c))
    c.emit(st.__dict__, f"Elasticsearch is running at {st.url} (pid {st.pid}).")


@es.command("stop")
@json_option
@pass_ctx
def stop(c: CliContext) -> None:
    """Stop the node gracefully (SIGTERM through the pid file)."""
    stopped = _node(c).stop()
    c.emit({"stopped": stopped}, "Elasticsearch stopped." if stopped else "Elasticsearch was not running.")


@es.command("status")
@json_option
@pass_ctx
def status(c: CliContext) -> None:
    """Report whether Elasticsearch answers (managed node or SOC_ES_URL)."""
    if c.settings.managed_es:
        st = _node(c).status()
        data = {"managed": True, **st.__dict__}
        human = f"{st.url}: {st.detail}" + (f" (pid {st.pid})" if st.pid else "")
        running = bool(st.pid)
    else:
        info = c.store().check()
        data = {"managed": False, "url": c.settings.es_url_display, **info.__dict__}
        human = f"{c.settings.es_url_display}: Elasticsearch {info.version}, cluster {info.cluster_name}, {info.status}"
        running = True
    if running:
        shards = storage_status(c.store(), c.settings)
        data["shards"] = shards["shards"]
        data["events"] = shards["events"]
        human += "\n" + t("es.shards", c.settings.language, **shards["shards"])
        if shards["daily_indices"]:
            human += "\n" + t("es.daily_left", c.settings.language, count=shards["daily_indices"])
    c.emit(data, human)


@es.command("migrate")
@json_option
@pass_ctx
def migrate_cmd(c: CliContext) -> None:
    """Move per-day event indices into the ingest-time layout (checked by counts and ids)."""
    store = c.store()
    install_templates(store, c.settings.index_prefix)
    reports = migrate(store, c.settings, log=_say(c))
    lang = c.settings.language
    lines = [t("es.migrate.dataset", lang, alias=r.alias, events=r.events, indices=len(r.old_indices), moved=r.moved,
               already_present=r.already_present, removed=len(r.removed), status=r.status)
             + (f"\n  {r.error}" if r.error else "") for r in reports]
    c.emit({"datasets": [r.as_dict() for r in reports], "ok": all(r.status == "ok" for r in reports)},
           "\n".join(lines) or t("es.migrate.none", lang))
    if any(r.status != "ok" for r in reports):
        raise click.exceptions.Exit(1)


@es.command("logs")
@click.option("-n", "--lines", default=50, show_default=True)
@pass_ctx
def logs(c: CliContext, lines: int) -> None:
    """Print the last lines of the managed node's log."""
    click.echo(_node(c).log_tail(lines))


COMMANDS: list[click.Command] = [es]
