"""Backups and restore drills: plans, runs, drills, triggering with progress, reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from api.deps import current_actor, get_auditor, get_lang, get_settings, get_store, uses
from api.jobs import get_jobs, job_answer
from backup_orchestrator import report, service
from backup_orchestrator import restore as restore_mod
from backup_orchestrator.context import BackupContext
from core.auditing import Actor, Auditor
from core.es import Store
from core.jobs import JobRunner
from core.settings import Settings

router = APIRouter(prefix="/backups", tags=["backups"])

JOBS = "/api/v1/backups/jobs"


def _ctx(settings: Settings = Depends(get_settings), store: Store = Depends(get_store)) -> BackupContext:
    return service.context(settings, store)


class DrillBody(BaseModel):
    point: str = Field("newest", max_length=200, description="newest, random or a run id")
    source: Literal["primary", "offsite"] = "primary"


class RestoreBody(BaseModel):
    point: str = Field("newest", max_length=200, description="newest or a run id")
    source: Literal["primary", "offsite"] = "primary"
    indices: bool = True
    target_dir: str | None = Field(None, max_length=4096, description="absolute directory for the files")
    database: str | None = Field(None, max_length=63, description="new PostgreSQL database for the dump")
    keep_current: bool = True
    dry_run: bool = True
    confirm: str | None = Field(None, max_length=63, description="the plan id, typed, for a real restore")


class PruneBody(BaseModel):
    dry_run: bool = True


@router.get("/plans", **uses(service.list_plans))
def list_plans(actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
               store: Store = Depends(get_store)) -> dict[str, Any]:
    return {"items": service.list_plans(settings, store, actor)}


@router.put("/plans/{plan_id}", **uses(service.save_plan))
def save_plan(plan_id: str, body: dict[str, Any], actor: Actor = Depends(current_actor),
              settings: Settings = Depends(get_settings), store: Store = Depends(get_store),
              auditor: Auditor = Depends(get_auditor)) -> dict[str, Any]:
    return service.save_plan(settings, store, actor, auditor, {**body, "id": plan_id})


@router.delete("/plans/{plan_id}", **uses(service.delete_plan))
def delete_plan(plan_id: str, actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
                store: Store = Depends(get_store), auditor: Auditor = Depends(get_auditor)) -> dict[str, Any]:
    return {"deleted": service.delete_plan(settings, store, actor, auditor, plan_id)}


@router.post("/plans/{plan_id}/runs", status_code=202, **uses(service.trigger_backup))
def trigger_backup(plan_id: str, actor: Actor = Depends(current_actor), ctx: BackupContext = Depends(_ctx),
                   auditor: Auditor = Depends(get_auditor), jobs: JobRunner = Depends(get_jobs)) -> dict[str, Any]:
    return job_answer(service.trigger_backup(ctx, actor, auditor, jobs, plan_id), JOBS)


@router.post("/plans/{plan_id}/drills", status_code=202, **uses(service.trigger_drill))
def trigger_drill(plan_id: str, body: DrillBody, actor: Actor = Depends(current_actor), ctx: BackupContext = Depends(_ctx),
                  auditor: Auditor = Depends(get_auditor), jobs: JobRunner = Depends(get_jobs)) -> dict[str, Any]:
    return job_answer(service.trigger_drill(ctx, actor, auditor, jobs, plan_id, point=body.point,
                                            source=body.source), JOBS)


@router.post("/plans/{plan_id}/restore", **uses(service.run_restore))
def restore(plan_id: str, body: RestoreBody, actor: Actor = Depends(current_actor), ctx: BackupContext = Depends(_ctx),
            auditor: Auditor = Depends(get_auditor)) -> dict[str, Any]:
    req = restore_mod.Request(point=body.point, source=body.source, indices=body.indices,
                              target_dir=Path(body.target_dir) if body.target_dir else None, database=body.database,
                              keep_current=body.keep_current)
    return service.run_restore(ctx, actor, auditor, plan_id, req, dry_run=body.dry_run, confirm=body.confirm)


@router.get("/restores", **uses(service.list_restores))
def list_restores(plan: str | None = Query(None, max_length=63), limit: int = Query(50, ge=1, le=500),
                  actor: Actor = Depends(current_actor), ctx: BackupContext = Depends(_ctx)) -> dict[str, Any]:
    return {"items": service.list_restores(ctx, actor, plan, limit=limit)}


@router.post("/plans/{plan_id}/prune", **uses(service.prune))
def prune(plan_id: str, body: PruneBody, actor: Actor = Depends(current_actor), ctx: BackupContext = Depends(_ctx),
          auditor: Auditor = Depends(get_auditor)) -> dict[str, Any]:
    return service.prune(ctx, actor, auditor, plan_id, dry_run=body.dry_run)


@router.get("/plans/{plan_id}/offsite", **uses(service.offsite_status))
def offsite(plan_id: str, actor: Actor = Depends(current_actor), ctx: BackupContext = Depends(_ctx)) -> dict[str, Any]:
    return service.offsite_status(ctx, actor, plan_id)


@router.get("/jobs/{job_id}", **uses(service.get_job))
def job(job_id: str, actor: Actor = Depends(current_actor), jobs: JobRunner = Depends(get_jobs)) -> dict[str, Any]:
    return job_answer(service.get_job(jobs, actor, job_id), JOBS)


@router.post("/jobs/{job_id}/cancel", **uses(service.cancel_job))
def cancel_job(job_id: str, actor: Actor = Depends(current_actor), auditor: Auditor = Depends(get_auditor),
               jobs: JobRunner = Depends(get_jobs)) -> dict[str, Any]:
    return job_answer(service.cancel_job(jobs, actor, auditor, job_id), JOBS)


@router.get("/runs", **uses(service.list_runs))
def list_runs(plan: str | None = Query(None, max_length=63), limit: int = Query(50, ge=1, le=500),
              actor: Actor = Depends(current_actor), ctx: BackupContext = Depends(_ctx)) -> dict[str, Any]:
    return {"items": service.list_runs(ctx, actor, plan, limit=limit)}


@router.get("/runs/{run_id}", **uses(service.get_run))
def get_run(run_id: str, actor: Actor = Depends(current_actor), ctx: BackupContext = Depends(_ctx)) -> dict[str, Any]:
    return service.get_run(ctx, actor, run_id)


@router.get("/drills", **uses(service.list_drills))
def list_drills(plan: str | None = Query(None, max_length=63), limit: int = Query(50, ge=1, le=500),
                actor: Actor = Depends(current_actor), ctx: BackupContext = Depends(_ctx)) -> dict[str, Any]:
    return {"items": service.list_drills(ctx, actor, plan, limit=limit)}


@router.get("/drills/{drill_id}", **uses(service.get_drill))
def get_drill(drill_id: str, actor: Actor = Depends(current_actor), ctx: BackupContext = Depends(_ctx)) -> dict[str, Any]:
    return service.get_drill(ctx, actor, drill_id)


@router.get("/drills/{drill_id}/report", **uses(service.get_drill))
def drill_report(drill_id: str, format: Literal["html", "json"] = "html", actor: Actor = Depends(current_actor),
                 ctx: BackupContext = Depends(_ctx), lang: str = Depends(get_lang)) -> Response:
    doc = service.get_drill(ctx, actor, drill_id)
    if format == "json":
        return Response(report.to_json(doc), media_type="application/json")
    return HTMLResponse(report.to_html(doc, lang))
