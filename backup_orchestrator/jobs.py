"""Scheduled functions for ``soc up``; each is also runnable once (``soc backup due --run``).

How the lead schedules them (one APScheduler interval job, e.g. every minute)::

    from backup_orchestrator import jobs
    scheduler.add_job(jobs.tick, "interval", minutes=1, args=[settings, store, auditor],
                      max_instances=1, coalesce=True)

``tick`` runs the due backups, then the due drills, prunes plans that just backed up, and
raises an alert for every plan whose newest recovery point is older than its RPO. Plan locks
keep a tick from overlapping with a manual run of the same plan.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from backup_orchestrator import service
from backup_orchestrator.models import Plan
from core.auditing import Actor, Auditor
from core.errors import Conflict, SocError
from core.es import Store
from core.settings import Settings
from core.timeutil import parse_iso, utcnow

SYSTEM = Actor.system("backup")


def _next_due(plan_every: int | None, cron: str | None, last: datetime | None, now: datetime) -> datetime | None:
    if plan_every is None and cron is None:
        return None
    if last is None:
        return now
    if cron:
        from apscheduler.triggers.cron import CronTrigger

        trigger = CronTrigger.from_crontab(cron, timezone="UTC")
        return trigger.get_next_fire_time(None, last + timedelta(seconds=1))
    assert plan_every is not None
    return last + timedelta(seconds=plan_every)


def _last_started(rows: list[dict[str, Any]]) -> datetime | None:
    times = [parse_iso(r["started"]) for r in rows if r.get("started")]
    return max(times) if times else None


def due_backups(settings: Settings, store: Store, now: datetime | None = None) -> list[str]:
    now = now or utcnow()
    ctx = service.context(settings, store)
    due = []
    for plan in service.load_plans(settings, store).values():
        nxt = _next_due(plan.schedule.every_seconds, plan.schedule.cron, _last_started(ctx.catalog.runs(plan.id, limit=1)),
                        now)
        if nxt is not None and nxt <= now:
            due.append(plan.id)
    return due


def due_drills(settings: Settings, store: Store, now: datetime | None = None) -> list[str]:
    now = now or utcnow()
    ctx = service.context(settings, store)
    due = []
    for plan in service.load_plans(settings, store).values():
        if not plan.drill.every_seconds or not ctx.catalog.has_success(plan.id):
            continue
        nxt = _next_due(plan.drill.every_seconds, None, _last_started(ctx.catalog.drills(plan.id, limit=1)), now)
        if nxt is not None and nxt <= now:
            due.append(plan.id)
    return due


def _each(plan_ids: list[str], fn: Any) -> list[dict[str, Any]]:
    results = []
    for plan_id in plan_ids:
        try:
            doc = fn(plan_id)
            results.append({"plan_id": plan_id, "status": doc.get("status"), "id": doc.get("run_id") or doc.get("drill_id")})
        except Conflict as exc:
            results.append({"plan_id": plan_id, "status": "skipped", "error": exc.message})
        except SocError as exc:
            results.append({"plan_id": plan_id, "status": "error", "error": exc.message})
    return results


def run_due_backups(settings: Settings, store: Store, auditor: Auditor, now: datetime | None = None) -> list[dict[str, Any]]:
    ctx = service.context(settings, store)
    return _each(due_backups(settings, store, now),
                 lambda pid: service.run_backup(ctx, SYSTEM, auditor, pid, trigger="schedule"))


def run_due_drills(settings: Settings, store: Store, auditor: Auditor, now: datetime | None = None) -> list[dict[str, Any]]:
    ctx = service.context(settings, store)
    return _each(due_drills(settings, store, now),
                 lambda pid: service.run_drill(ctx, SYSTEM, auditor, pid, trigger="schedule"))


def prune_plans(settings: Settings, store: Store, auditor: Auditor, plan_ids: list[str],
                now: datetime | None = None) -> list[dict[str, Any]]:
    ctx = service.context(settings, store, clock=(lambda: now) if now else utcnow)
    plans: dict[str, Plan] = service.load_plans(settings, store)
    ids = [p for p in plan_ids if p in plans and not plans[p].retention.empty]
    return _each(ids, lambda pid: {"status": "pruned", **service.prune(ctx, SYSTEM, auditor, pid, dry_run=False)})


def check_rpo(settings: Settings, store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """Alert for each plan whose newest successful recovery point is older than its RPO."""
    now = now or utcnow()
    ctx = service.context(settings, store)
    breaches = []
    for plan in service.load_plans(settings, store).values():
        points = ctx.catalog.runs(plan.id, status="success", include_pruned=False, limit=1)
        age = (now - parse_iso(points[0]["recovery_point_time"])).total_seconds() if points else None
        if age is None or age > plan.objectives.rpo_seconds:
            breaches.append({"plan_id": plan.id, "age_seconds": age, "rpo_seconds": plan.objectives.rpo_seconds})
            ctx.alert("backup.rpo_breach", "Backup RPO objective breached",
                      f"Plan {plan.id}: newest recovery point is {'missing' if age is None else f'{age:.0f}s old'} "
                      f"(objective {plan.objectives.rpo_seconds}s).", f"{plan.id}:{now:%Y-%m-%d}", plan_id=plan.id)
        else:
            ctx.clear("backup.rpo_breach", plan.id, "a recovery point within the RPO exists")
    return breaches


def tick(settings: Settings, store: Store, auditor: Auditor, now: datetime | None = None) -> dict[str, Any]:
    backups = run_due_backups(settings, store, auditor, now)
    drills = run_due_drills(settings, store, auditor, now)
    pruned = prune_plans(settings, store, auditor, [b["plan_id"] for b in backups if b["status"] == "success"], now)
    return {"backups": backups, "drills": drills, "pruned": pruned, "rpo_breaches": check_rpo(settings, store, now)}
