"""The ``soc`` command: ``soc <noun> <verb>``. Commands parse input, call one service function
and shape the output; errors are ``SocError`` and become one paragraph and a non-zero exit."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from core.errors import SocError
from soc.cli import (
    alerts_cmd,
    audit_cmd,
    backup_cmd,
    cases_cmd,
    collect_cmd,
    compliance_cmd,
    config_cmd,
    departments_cmd,
    es_cmd,
    hunt_cmd,
    privacy_cmd,
    rules_cmd,
    up_cmd,
    users_cmd,
)
from soc.cli.context import CliContext

EXIT_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--config", "config_file", type=click.Path(path_type=Path), envvar="SOC_CONFIG",
              help="YAML settings file (sections es:, api:, collect:, …).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("--org", "org", metavar="DEPT", help="Act for one department (a district operator narrows, a "
              "department operator may pick a sub-department); see `soc departments list`.")
@click.version_option("0.1.0", prog_name="soc")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, as_json: bool, org: str | None) -> None:
    """Qinglang (清朗) security operations and compliance platform."""
    obj = CliContext(config_file=config_file, as_json=as_json, org=(org or "").strip() or None)
    ctx.obj = obj
    ctx.call_on_close(obj.close)


for module in (es_cmd, config_cmd, up_cmd, collect_cmd, rules_cmd, alerts_cmd, cases_cmd, hunt_cmd, audit_cmd,
               compliance_cmd, backup_cmd, users_cmd, departments_cmd, privacy_cmd):
    for command in module.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    try:
        # Without standalone mode click returns ``ctx.exit(code)``'s code instead of exiting.
        rv = cli.main(args=argv, prog_name="soc", standalone_mode=False)
        if isinstance(rv, int) and not isinstance(rv, bool):
            return rv
    except SocError as exc:
        click.echo(f"error: {exc.message}", err=True)
        return EXIT_ERROR
    except click.exceptions.Abort:
        # Ctrl-C: everything has been stopped by then; 130 is the shell's convention.
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


def entrypoint() -> None:
    sys.exit(main())
