"""`soc up` / `soc down` (written below)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
