"""Audit operations for the composition root (API routes, CLI, jobs): open the trail, search,
verify, purge. Permissions are enforced on ``AuditTrail``'s methods."""

from __future__ import annotations

from typing import Any

from audit.trail import AuditTrail
from core.auditing import Actor
from core.es import Store
from core.settings import Settings


def open_trail(settings: Settings, store: Store) -> AuditTrail:
    return AuditTrail(settings, store)


def verify(trail: AuditTrail, actor: Actor) -> dict[str, Any]:
    """Both copies, each against the other and against the head sealed outside them."""
    return trail.verify(actor=actor)


def search(trail: AuditTrail, actor: Actor, **filters: Any) -> dict[str, Any]:
    return trail.search(actor=actor, **filters)


def purge(trail: AuditTrail, actor: Actor, before: str) -> dict[str, Any]:
    return trail.purge(before, actor=actor)
