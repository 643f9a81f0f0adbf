"""The backup orchestrator's operations, as the CLI, the API and the scheduler call them.

User-triggered functions are permission-checked (``@requires``) and audited through the
``Auditor`` passed in. A run or drill holds its plan's lock, so two never overlap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from backup_orchestrator import backup, defaults, drills, es_snapshots, plans, restore, retention
from backup_orchestrator.context import BackupContext, Progress, never_cancelled, no_progress
from backup_orchestrator.locks import PlanLock
from backup_orchestrator.models import Plan
from core import scope as scoping
from core.auditing import Actor, Auditor
from core.errors import Conflict, InvalidInput, NotFound, SocError
from core.es import Store
from core.jobs import JobHandle, JobRunner
from core.permissions import requires
from core.settings import Settings
from core.timeutil import Clock, iso, parse_iso, utcnow


def context(settings: Settings, store: Store, *, clock: Clock = utcnow, progress: Progress = no_progress,
            cancelled: Callable[[], bool] = never_cancelled) -> BackupContext:
    return BackupContext(settings=settings, store=store, clock=clock, progress=progress, cancelled=cancelled)


# -- plans ----------------------------------------------------------------------------------------

def load_plans(settings: Settings, store: Store | None = None) -> dict[str, Plan]:
    """The default plan, those declared through the API, and the plans file's (read on every
    call, so an edited file applies at the scheduler's next tick); the file wins on a clash."""
    found: dict[str, Plan] = {}
    if settings.backup.default_plan:
        found[defaults.PLAN_ID] = defaults.plan(settings)
    if store is not None:
        for row in BackupContext(settings=settings, store=store).catalog.stored_plans():
            with contextlib.suppress(InvalidInput):
                found[row["plan_id"]] = plans.parse_plan(row["plan"], source="api")
    path = defaults.plans_path(settings)
    if settings.backup.plans_file or path.is_file():
        found.update(plans.load_plans_file(path))
    # File and default plans are not in the store, so the caller's department scope is applied
    # here: another department's plan is unknown to it, like its stored documents.
    scope = scoping.current()
    return {k: p for k, p in found.items() if scope is None or scope.allows(p.organization)}


def get_plan(settings: Settings, store: Store | None, plan_id: str) -> Plan:
    found = load_plans(settings, store)
    if plan_id not in found:
        known = ", ".join(sorted(found)) or "none"
        raise NotFound(f"No backup plan {plan_id!r} (known: {known}). Declare it in backup.plans_file or through "
                       "the API.")
    return found[plan_id]


@requires("backups.read")
def list_plans(settings: Settings, store: Store, actor: Actor) -> list[dict[str, Any]]:
    return [{**plans.plan_to_dict(p), "source": p.source} for p in load_plans(settings, store).values()]


@requires("backups.run")
def save_plan(settings: Settings, store: Store, actor: Actor, auditor: Auditor, data: dict[str, Any]) -> dict[str, Any]:
    if "organization" not in data and actor.organization:
        data = {**data, "organization": actor.organization}
    plan = plans.parse_plan(data, source="api")
    scope = scoping.current()
    if scope is not None and scope.restricted:
        # Another department's plan of the same id is invisible here, and must not be replaced.
        with scoping.system():
            taken = load_plans(settings, store).get(plan.id)
        if taken is not None and not scope.allows(taken.organization):
            raise Conflict(f"Plan id {plan.id} is taken; choose another id.")
    path = defaults.plans_path(settings)
    if (settings.backup.plans_file or path.is_file()) and plan.id in plans.load_plans_file(path):
        raise Conflict(f"Plan {plan.id} is declared in {path}; edit it there.")
    ctx = BackupContext(settings=settings, store=store)
    ctx.catalog.put_plan(plan.id, {"plan_id": plan.id, "updated": iso(utcnow()), "actor": actor.name,
                                   "plan": plans.plan_to_dict(plan), "organization": plan.owner()})
    auditor.record(actor, "backups.plan.save", f"backup-plan:{plan.id}")
    return plans.plan_to_dict(plan)


@requires("backups.run")
def delete_plan(settings: Settings, store: Store, actor: Actor, auditor: Auditor, plan_id: str) -> bool:
    deleted = BackupContext(settings=settings, store=store).catalog.delete_plan(plan_id)
    if not deleted:
        raise NotFound(f"No API-declared backup plan {plan_id!r}.")
    auditor.record(actor, "backups.plan.delete", f"backup-plan:{plan_id}")
    return True


# -- runs -----------------------------------------------------------------------------------------

@contextlib.contextmanager
def _locked(ctx: BackupContext, plan: Plan, purpose: str) -> Iterator[PlanLock]:
    lock = PlanLock(ctx.lock_dir(), plan.id, stale_seconds=ctx.settings.backup.lock_stale_seconds, purpose=purpose)
    with lock.held():
        yield lock


def _run_backup(ctx: BackupContext, plan: Plan, trigger: str, actor_name: str) -> dict[str, Any]:
    with _locked(ctx, plan, "backup") as lock:
        doc = backup.run(ctx, plan, trigger=trigger, actor=actor_name)
        if lock.cleared:
            doc["stale_lock_cleared"] = lock.cleared
        return doc


@requires("backups.run")
def run_backup(ctx: BackupContext, actor: Actor, auditor: Auditor, plan_id: str, *,
               trigger: str = "manual") -> dict[str, Any]:
    plan = get_plan(ctx.settings, ctx.store, plan_id)
    try:
        doc = _run_backup(ctx, plan, trigger, actor.name)
    except SocError as exc:
        auditor.record(actor, "backups.run", f"backup-plan:{plan_id}", "failure", {"error": exc.message})
        raise
    auditor.record(actor, "backups.run", f"backup-plan:{plan_id}", "success" if doc["status"] == "success" else
                   "failure", {"run_id": doc["run_id"], "status": doc["status"]})
    return doc


@requires("backups.read")
def list_runs(ctx: BackupContext, actor: Actor, plan_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    return ctx.catalog.runs(plan_id, limit=limit)


@requires("backups.read")
def get_run(ctx: BackupContext, actor: Actor, run_id: str) -> dict[str, Any]:
    doc = ctx.catalog.get_run(run_id)
    if doc is None:
        raise NotFound(f"No backup run {run_id!r}; list them with `soc backup list`.")
    return doc


@requires("backups.run")
def prune(ctx: BackupContext, actor: Actor, auditor: Auditor, plan_id: str, *, dry_run: bool = True) -> dict[str, Any]:
    plan = get_plan(ctx.settings, ctx.store, plan_id)
    if dry_run:
        return _prune(ctx, plan, dry_run=True)
    with _locked(ctx, plan, "prune"):
        result = _prune(ctx, plan, dry_run=False)
    auditor.record(actor, "backups.prune", f"backup-plan:{plan_id}", "success",
                   {"removed": result["remove"], "errors": result["errors"]})
    return result


def _prune(ctx: BackupContext, plan: Plan, *, dry_run: bool) -> dict[str, Any]:
    points = ctx.catalog.recovery_points(plan.id)
    decision = retention.decide([(p["run_id"], parse_iso(p["recovery_point_time"])) for p in points],
                                plan.retention, ctx.clock())
    out: dict[str, Any] = {"plan_id": plan.id, "dry_run": dry_run, **decision.to_dict(), "errors": []}
    if dry_run or not decision.remove:
        return out
    by_id = {p["run_id"]: p for p in points}
    restic_primary = ctx.restic(plan, "primary") if plan.has_files else None
    restic_offsite = ctx.restic(plan, "offsite") if plan.has_files and plan.offsite else None
    forget_primary, forget_offsite = [], []
    for run_id in decision.remove:
        p = by_id[run_id]
        try:
            if p.get("es"):
                es_snapshots.delete_snapshot(ctx.store, p["es"]["repository"], p["es"]["snapshot"])
            if p.get("restic", {}).get("snapshot_id"):
                forget_primary.append(p["restic"]["snapshot_id"])
            off = (p.get("offsite") or {}).get("restic") or {}
            if off.get("snapshot_id"):
                forget_offsite.append(off["snapshot_id"])
            ctx.catalog.update_run(run_id, {"pruned": True, "pruned_at": iso(ctx.clock())}, refresh=True)
        except SocError as exc:
            out["errors"].append({"run_id": run_id, "error": exc.message})
    try:
        if restic_primary is not None and forget_primary:
            restic_primary.forget(forget_primary)
        if restic_offsite is not None and forget_offsite and restic_offsite.exists():
            restic_offsite.forget(forget_offsite)
        if plan.has_es and plan.offsite is not None:
            backup._offsite_es(ctx, plan, create=False)
    except SocError as exc:
        out["errors"].append({"run_id": None, "error": exc.message})
    return out


@requires("backups.read")
def offsite_status(ctx: BackupContext, actor: Actor, plan_id: str) -> dict[str, Any]:
    plan = get_plan(ctx.settings, ctx.store, plan_id)
    if plan.offsite is None:
        raise InvalidInput(f"Plan {plan_id} has no offsite repository.")
    return {"plan_id": plan_id, **backup.measure_lag(ctx, plan)}


# -- drills ---------------------------------------------------------------------------------------

@requires("drills.run")
def run_drill(ctx: BackupContext, actor: Actor, auditor: Auditor, plan_id: str, *, point: str = "newest",
              source: str = "primary", trigger: str = "manual") -> dict[str, Any]:
    plan = get_plan(ctx.settings, ctx.store, plan_id)
    try:
        with _locked(ctx, plan, "drill"):
            doc = drills.run(ctx, plan, point=point, source=source, trigger=trigger, actor=actor.name)
    except SocError as exc:
        auditor.record(actor, "drills.run", f"backup-plan:{plan_id}", "failure", {"error": exc.message})
        raise
    auditor.record(actor, "drills.run", f"backup-plan:{plan_id}", "success" if doc["status"] == "passed" else
                   "failure", {"drill_id": doc["drill_id"], "status": doc["status"],
                               "failed_check": doc.get("failed_check")})
    return doc


@requires("backups.read")
def list_drills(ctx: BackupContext, actor: Actor, plan_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    return ctx.catalog.drills(plan_id, limit=limit)


@requires("backups.read")
def get_drill(ctx: BackupContext, actor: Actor, drill_id: str) -> dict[str, Any]:
    doc = ctx.catalog.get_drill(drill_id)
    if doc is None:
        raise NotFound(f"No drill {drill_id!r}; list them with `soc drill list`.")
    return doc


# -- restores -------------------------------------------------------------------------------------

@requires("backups.restore")
def run_restore(ctx: BackupContext, actor: Actor, auditor: Auditor, plan_id: str, req: restore.Request, *,
                dry_run: bool = True, confirm: str | None = None) -> dict[str, Any]:
    """Restore PLAN's recovery point for real (or list what would change). Audited either way.

    A real restore replaces live data, so it needs ``confirm`` to be the plan id, typed."""
    plan = get_plan(ctx.settings, ctx.store, plan_id)
    action = "backups.restore.preview" if dry_run else "backups.restore"
    try:
        if not dry_run and confirm != plan_id:
            raise InvalidInput(f"A real restore needs the plan id ({plan_id}) typed as confirmation; nothing was "
                               "restored.")
        if dry_run:
            doc = restore.run(ctx, plan, req, dry_run=True, actor=actor.name)
        else:
            with _locked(ctx, plan, "restore"):
                doc = restore.run(ctx, plan, req, dry_run=False, actor=actor.name)
    except SocError as exc:
        auditor.record(actor, action, f"backup-plan:{plan_id}", "failure", {"error": exc.message})
        raise
    auditor.record(actor, action, f"backup-plan:{plan_id}", "failure" if doc["status"] == "failed" else "success",
                   {"restore_id": doc["restore_id"], "run_id": doc["run_id"], "status": doc["status"],
                    "failed_check": doc.get("failed_check"), "request": doc["request"]})
    return doc


@requires("backups.read")
def list_restores(ctx: BackupContext, actor: Actor, plan_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    return ctx.catalog.restores(plan_id, limit=limit)


# -- background runs (API) -------------------------------------------------------------------------

JOB_KINDS = ("backup", "drill")


def _job_ctx(ctx: BackupContext, job: JobHandle) -> BackupContext:
    return BackupContext(settings=ctx.settings, store=ctx.store, clock=ctx.clock, progress=job.progress,
                         cancelled=lambda: job.cancelled)


def _as_platform(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A plan's run on the platform's behalf: the caller's scope was checked when the plan was
    looked up; the run's own steps (locks, catalog, scratch restores) are the platform's, and
    its documents carry the plan's organisation."""
    with scoping.system():
        return work()


def _outcome(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc.get(k) for k in ("run_id", "drill_id", "status", "failed_check", "error")}


@requires("backups.run")
def trigger_backup(ctx: BackupContext, actor: Actor, auditor: Auditor, jobs: JobRunner, plan_id: str) -> dict[str, Any]:
    """Start a backup in the background; follow it with ``get_job`` (409 while the plan's backup runs)."""
    get_plan(ctx.settings, ctx.store, plan_id)  # unknown plans and other departments' fail now
    return jobs.submit("backup", plan_id, lambda job: _as_platform(lambda: _outcome(run_backup(
        _job_ctx(ctx, job), actor, auditor, plan_id))), owner=actor.name)


@requires("drills.run")
def trigger_drill(ctx: BackupContext, actor: Actor, auditor: Auditor, jobs: JobRunner, plan_id: str, *,
                  point: str = "newest", source: str = "primary") -> dict[str, Any]:
    get_plan(ctx.settings, ctx.store, plan_id)
    if source not in ("primary", "offsite"):
        raise InvalidInput("source must be 'primary' or 'offsite'.")
    return jobs.submit("drill", plan_id, lambda job: _as_platform(lambda: _outcome(run_drill(
        _job_ctx(ctx, job), actor, auditor, plan_id, point=point, source=source))), owner=actor.name)


@requires("backups.read")
def get_job(jobs: JobRunner, actor: Actor, job_id: str) -> dict[str, Any]:
    return jobs.get(job_id, kinds=JOB_KINDS)


@requires("backups.run")
def cancel_job(jobs: JobRunner, actor: Actor, auditor: Auditor, job_id: str) -> dict[str, Any]:
    """Ask a backup or drill to stop at its next stage (a drill still removes its scratch copies)."""
    job = jobs.cancel(job_id, kinds=JOB_KINDS)
    auditor.record(actor, f"{job['kind']}s.cancel", f"backup-plan:{job['key']}", "success",
                   {"job_id": job_id, "status": job["status"]})
    return job
