"""A drill's checks: each runs, passes or fails with its reason and duration, or is skipped
(after a failure upstream, or once the drill is cancelled)."""

from __future__ import annotations

import time
from collections.abc import Callable

from backup_orchestrator.models import CHECK_FAILED, CHECK_PASSED, CHECK_SKIPPED, Check
from core.errors import SocError


class Checks:
    def __init__(self, cancelled: Callable[[], bool] = lambda: False) -> None:
        self.items: list[Check] = []
        self._cancelled = cancelled
        self.was_cancelled = False

    def run(self, name: str, fn: Callable[[], str]) -> bool:
        # A cancelled drill skips what is left, except removing its scratch copies.
        if name != "cleanup" and self._cancelled():
            self.was_cancelled = True
            self.skip(name, "drill cancelled")
            return False
        t0 = time.monotonic()
        try:
            detail = fn()
            self.items.append(Check(name, CHECK_PASSED, detail, time.monotonic() - t0))
            return True
        except Exception as exc:  # noqa: BLE001 - a drill reports every failure as a failed check
            message = exc.message if isinstance(exc, SocError) else (str(exc) if isinstance(
                exc, (OSError, AssertionError)) else f"unexpected error: {exc!r}")
            self.items.append(Check(name, CHECK_FAILED, message, time.monotonic() - t0))
            return False

    def skip(self, name: str, why: str) -> None:
        self.items.append(Check(name, CHECK_SKIPPED, why))

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.items if c.status == CHECK_FAILED]


class CheckFailed(AssertionError):
    pass
