"""`soc collect pcap PATH...` (owned by the network collector; added to the `collect` group)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
