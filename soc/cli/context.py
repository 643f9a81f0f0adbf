"""What every CLI command gets: lazily built settings and store, output helpers."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from core import scope as scoping
from core.auditing import Actor, Auditor
from core.errors import InvalidInput, PermissionDenied
from core.es import Store
from core.settings import PLACEHOLDER_SECRET, Settings, load_settings


@dataclass
class CliContext:
    config_file: Path | None = None
    as_json: bool = False
    org: str | None = None  # ``--org``: narrow to one department, like the console's X-Organization
    _settings: Settings | None = None
    _store: Store | None = None
    _auditor: Auditor | None = None
    _closers: list[Any] = field(default_factory=list)
    _scope: ExitStack = field(default_factory=ExitStack)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from soc.runtime import resolve_secrets

            self._settings = resolve_secrets(load_settings(self.config_file))
        return self._settings

    @property
    def auditor(self) -> Auditor:
        """The platform's audit trail: CLI actions are recorded like the API's."""
        if self._auditor is None:
            from audit.trail import AuditTrail

            if self.settings.audit.secret_key.get_secret_value() == PLACEHOLDER_SECRET:
                raise InvalidInput(
                    "This command records to the audit trail, whose key is not set: set SOC_AUDIT_SECRET_KEY "
                    "(the same value the server uses), or run `soc up` once in demo mode to generate one."
                )
            self._auditor = AuditTrail(self.settings, self.store())
        return self._auditor

    def store(self, *, check: bool = True) -> Store:
        """The Elasticsearch connection; for the managed node, it must be running. From here on
        the command runs inside the operator's department scope (``department_scope``)."""
        if self._store is None:
            store = Store.connect(self.settings)
            if check:
                store.check()
            self._store = store
            self._scope.enter_context(scoping.acting(self.department_scope(store)))
        return self._store

    def _mapping(self) -> tuple[str, str | None]:
        """The OS user's ``api.cli_roles`` entry: (role, department or None); ``cli`` when unmapped."""
        value = self.settings.api.cli_roles.get(os_user())
        if value is None:
            return "cli", None
        role, _, dept = value.partition("@")
        return role, dept or None

    @property
    def acting_for(self) -> str:
        """The department the command acts for: ``--org``, else the mapped one, else the district."""
        _role, dept = self._mapping()
        return self.org or dept or scoping.DISTRICT

    @property
    def actor(self) -> Actor:
        """The acting OS user (the one behind sudo, not root) with the role mapped to it in
        ``api.cli_roles`` (``role`` or ``role@department``); a mapped user is held to that role's
        permissions and department like in the console."""
        role, _dept = self._mapping()
        return Actor(name=f"cli:{os_user()}", role=role, address="local", organization=self.acting_for)

    def department_scope(self, store: Store) -> scoping.Scope | None:
        """``role@department``: that department's subtree; a district operator (mapped without a
        department, or unmapped) is unrestricted unless ``--org`` narrows to one department."""
        from core.departments import Departments

        _role, home = self._mapping()
        if home is None and self.org in (None, scoping.DISTRICT):
            return None
        departments = Departments(self.settings, store)
        target = self.org or home or scoping.DISTRICT
        if home is not None and target not in departments.descendants(home):
            raise PermissionDenied(f"--org {target!r} is outside your department {home!r}: you may narrow to one of "
                                   "its sub-departments, not widen.")
        if not departments.exists(target):
            raise InvalidInput(f"--org names no department {target!r}; list them with `soc departments list`.")
        return scoping.Scope(organizations=departments.descendants(target), home=target, user=f"cli:{os_user()}")

    def emit(self, data: Any, human: str | None = None) -> None:
        """Print ``data`` as JSON with ``--json``, otherwise the human text (or pretty data)."""
        if self.as_json:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        elif human is not None:
            click.echo(human)
        else:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))

    def close(self) -> None:
        self._scope.close()
        if self._store is not None:
            self._store.close()


def os_user() -> str:
    import getpass
    import os

    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user and os.geteuid() == 0:
        return sudo_user
    return getpass.getuser()


pass_ctx = click.make_pass_decorator(CliContext)


def json_option(f: Any) -> Any:
    """``--json`` on a subcommand (also accepted before the noun: ``soc --json rules list``)."""

    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.find_object(CliContext).as_json = True  # type: ignore[union-attr]

    return click.option("--json", "as_json_flag", is_flag=True, expose_value=False, callback=callback,
                        help="Print machine-readable JSON.")(f)


def progress_enabled() -> bool:
    return sys.stderr.isatty()


@contextmanager
def counting_progress(label: str, *, enabled: bool = True,
                      total: int | None = None) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal; yields ``update(n)`` or None.

    With no ``total`` the bar counts (position only): click's bar needs an iterable or a
    length, and an endless counter gives it one whose length is unknown.
    """
    if not (enabled and progress_enabled()):
        yield None
        return
    bar: Any
    if total is None:
        bar = click.progressbar(itertools.count(), label=label, file=sys.stderr, show_pos=True)
    else:
        bar = click.progressbar(length=total, label=label, file=sys.stderr, show_percent=True, show_eta=True)
    with bar:
        yield bar.update


class PhaseBars:
    """``progress(phase, n, total)`` for a service that goes through phases (import, then rules):
    one bar per phase, each closed when the next starts; nothing unless stderr is a terminal."""

    def __init__(self, labels: dict[str, str], *, enabled: bool = True) -> None:
        self.labels = labels
        self.enabled = enabled and progress_enabled()
        self.phase: str | None = None
        self.bar: Any = None

    def __call__(self, phase: str, n: int, total: int | None) -> None:
        if not self.enabled:
            return
        if phase != self.phase:
            self.close()
            self.phase = phase
            label = self.labels.get(phase, phase)
            self.bar = (click.progressbar(length=total, label=label, file=sys.stderr, show_percent=True)
                        if total else click.progressbar(itertools.count(), label=label, file=sys.stderr,
                                                        show_pos=True))
            self.bar.__enter__()
        if n:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None

    def __enter__(self) -> PhaseBars:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
