"""`soc config show`: the effective settings with secrets masked."""

from __future__ import annotations

import click

from core import yamlio
from core.pii.config import policy_from_settings
from soc.cli.context import CliContext, json_option, pass_ctx


@click.group("config")
def config() -> None:
    """Inspect the effective settings."""


@config.command("show")
@json_option
@pass_ctx
def show(c: CliContext) -> None:
    """Print the effective settings (environment, file, defaults) with secrets masked."""
    data = c.settings.masked()
    # the personal-information policy in force, defaults included (first matching rule wins)
    data["pii"]["effective_policy"] = policy_from_settings(c.settings).to_dict()["rules"]
    c.emit(data, yamlio.dumps(data).rstrip())


COMMANDS: list[click.Command] = [config]
