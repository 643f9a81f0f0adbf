"""Scheduled audit work: a periodic verification, so a shortened or edited trail is noticed
without waiting for an auditor to ask (also runnable once: ``soc audit verify``)."""

from __future__ import annotations

from typing import Any

from audit.trail import AuditTrail
from core.alerting import build_alert, raise_alert
from core.auditing import Actor
from core.es import Store
from core.settings import Settings
from core.timeutil import utcnow

VERIFY_EVERY_SECONDS = 3600


def verify_once(settings: Settings, store: Store) -> dict[str, Any]:
    """Verify as the scheduler; a broken trail raises a high platform alert for the auditor."""
    trail = AuditTrail(settings, store)
    result = trail.verify(actor=Actor.system("audit"))
    if not result["ok"]:
        problem = result["first_problem"]
        _id, doc = build_alert(rule_id="platform.audit.verify", rule_name="Audit trail verification failed",
                               level="high", reason=f"[{problem['source']}] {problem['message']}",
                               key=f"{utcnow():%Y-%m-%dT%H}", source="audit", tags=["platform", "audit"])
        raise_alert(store, settings.index_prefix, _id, doc)
    return result


def schedule(scheduler: Any, settings: Settings, store: Store) -> None:
    scheduler.add_job(verify_once, "interval", seconds=VERIFY_EVERY_SECONDS, args=[settings, store],
                      id="audit.verify", replace_existing=True, max_instances=1, coalesce=True)
