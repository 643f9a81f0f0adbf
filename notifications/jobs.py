"""Scheduled function for ``soc up``: send new alerts to the notification channels."""

from __future__ import annotations

from typing import Any

from core.auditing import Auditor
from core.es import Store
from core.settings import Settings
from notifications import service


def tick(settings: Settings, store: Store, auditor: Auditor) -> dict[str, Any]:
    return service.dispatch(store, settings, auditor)
