"""Input types for ``soc collect run``, resolved by name.

An inputs file lists inputs as mappings with at least ``name`` and ``type``::

    inputs:
      - {name: auth, type: file, paths: [/var/log/auth.log*], parser: system.auth}
      - {name: net, type: syslog, protocol: tcp, port: 5514}
      - {name: wire, type: pcap_live, interface: eth0}      # provided by collectors.network

``type`` is looked up in ``BUILTIN`` (``"module:function"`` strings, imported only when an input
of that type is configured) or in types added with ``register_input``. A factory is called as
``factory(config: dict, ctx: InputContext) -> Input`` and validates ``config`` itself (raise
``core.errors.InvalidInput`` with the input name on bad values). An ``Input`` has ``name``,
``type`` and ``run(stop: threading.Event) -> None``; it returns when ``stop`` is set. It sends
events with ``ctx.emit(events, block=...)`` and counts what it read and parsed on ``ctx``
(``ctx.count("read", n)``, ``"parsed"``, ``"parse_failures"``, ``"dropped"``). ``block=True``
(files, journald) waits while the spool is full; ``block=False`` (network) returns False and the
caller counts the events as dropped. ``ctx.state_dir`` is the input's own directory for
checkpoints.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from collectors.counters import Counters
from collectors.models import Event
from core.errors import InvalidInput
from core.settings import Settings


class Input(Protocol):
    name: str
    type: str

    def run(self, stop: threading.Event) -> None: ...


@dataclass
class InputContext:
    name: str
    type: str
    settings: Settings
    state_dir: Path
    counters: Counters
    emit_fn: Callable[[str, Sequence[Event], bool], bool]
    stop: threading.Event = field(default_factory=threading.Event)

    def emit(self, events: Sequence[Event], *, block: bool = True) -> bool:
        """Append to the spool (durable when this returns True)."""
        return self.emit_fn(self.name, events, block)

    def count(self, counter: str, n: int = 1) -> None:
        self.counters.add(self.name, counter, n)


InputFactory = Callable[[dict[str, Any], InputContext], Input]

BUILTIN: dict[str, str] = {
    "file": "collectors.inputs.files:create_input",
    "syslog": "collectors.inputs.syslog_server:create_input",
    "journald": "collectors.inputs.journald:create_input",
    "pcap_live": "collectors.network.live:create_input",
}

_registered: dict[str, InputFactory] = {}


def register_input(type_name: str, factory: InputFactory) -> None:
    _registered[type_name] = factory


def known_types() -> list[str]:
    return sorted({*BUILTIN, *_registered})


def resolve(type_name: str) -> InputFactory:
    if type_name in _registered:
        return _registered[type_name]
    target = BUILTIN.get(type_name)
    if target is None:
        raise InvalidInput(f"Unknown input type {type_name!r}; use one of: {', '.join(known_types())}.")
    module_name, func = target.split(":")
    try:
        module = importlib.import_module(module_name)
        factory: InputFactory = getattr(module, func)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(
            f"Input type {type_name!r} is not available in this installation ({exc}). Remove it from the "
            "inputs file or install the missing part."
        ) from exc
    return factory
