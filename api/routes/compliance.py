"""MLPS 2.0 compliance: runs (started in the background, with progress), results, manual
assessments with evidence upload, catalogs and report downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import current_actor, get_auditor, get_lang, get_settings, get_store, uses
from api.jobs import get_jobs, job_answer
from compliance import reporting, service
from core.auditing import Actor, Auditor
from core.es import Store
from core.jobs import JobRunner
from core.settings import Settings

router = APIRouter(prefix="/compliance", tags=["compliance"])

JOBS = "/api/v1/compliance/jobs"


class RunBody(BaseModel):
    level: int | None = Field(None, ge=2, le=3)
    catalog: str | None = Field(None, max_length=100)
    targets: list[str] | None = Field(None, max_length=50, description="local, root:/path, ssh://user@host[:port]")
    platform: bool = True
    system: str | None = Field(None, max_length=63, description="graded system id: its level and hosts decide")


@router.post("/runs", status_code=202, **uses(service.submit_run))
def start_run(body: RunBody, actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
              store: Store = Depends(get_store), auditor: Auditor = Depends(get_auditor),
              jobs: JobRunner = Depends(get_jobs)) -> dict[str, Any]:
    """Start a run in the background (409 while the same run or two others are going)."""
    return job_answer(service.submit_run(jobs, store, settings, auditor, actor, level=body.level,
                                         catalog_id=body.catalog, targets=body.targets, platform=body.platform,
                                         system_id=body.system), JOBS)


@router.get("/jobs/{job_id}", **uses(service.get_job))
def get_job(job_id: str, actor: Actor = Depends(current_actor), jobs: JobRunner = Depends(get_jobs)) -> dict[str, Any]:
    return job_answer(service.get_job(jobs, actor, job_id), JOBS)


@router.post("/jobs/{job_id}/cancel", **uses(service.cancel_job))
def cancel_job(job_id: str, actor: Actor = Depends(current_actor), auditor: Auditor = Depends(get_auditor),
               jobs: JobRunner = Depends(get_jobs)) -> dict[str, Any]:
    return job_answer(service.cancel_job(jobs, auditor, actor, job_id), JOBS)


@router.get("/runs", **uses(service.list_runs))
def list_runs(limit: int = Query(20, ge=1, le=500), catalog: str | None = Query(None, max_length=100),
              system: str | None = Query(None, max_length=63),
              actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
              store: Store = Depends(get_store)) -> dict[str, Any]:
    return {"items": service.list_runs(store, settings, actor, limit=limit, catalog=catalog, system=system)}


@router.get("/runs/{run_id}", **uses(service.get_run))
def get_run(run_id: str, actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
            store: Store = Depends(get_store)) -> dict[str, Any]:
    return service.get_run(store, settings, actor, run_id)


@router.get("/runs/{run_id}/results", **uses(service.get_results))
def get_results(run_id: str, kind: str = Query("item", pattern="^(item|check|manual)$"),
                family: str | None = Query(None, max_length=20), result: str | None = Query(None, max_length=30),
                actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
                store: Store = Depends(get_store)) -> dict[str, Any]:
    return {"items": service.get_results(store, settings, actor, run_id, kind=kind, family=family, result=result)}


@router.post("/runs/{run_id}/assessments", status_code=201, **uses(service.record_manual))
async def record_assessment(run_id: str, item_id: str = Form(..., max_length=100),
                            result: str = Form(..., max_length=30), note: str = Form("", max_length=20000),
                            asset: str = Form("system", max_length=200),
                            files: list[UploadFile] = File(default_factory=list),
                            actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
                            store: Store = Depends(get_store), auditor: Auditor = Depends(get_auditor)) -> dict[str, Any]:
    attachments = []
    for upload in files[:20]:
        data = await upload.read(settings.compliance.max_evidence_bytes + 1)
        attachments.append((upload.filename or "evidence", data))
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(service.record_manual, store, settings, auditor, actor, run_id, item_id, result,
                                   note=note, asset=asset, attachments=attachments)


@router.get("/runs/{run_id}/report", **uses(reporting.build_report))
def download_report(run_id: str, format: str = Query("pdf", pattern="^(pdf|html|json|csv)$"),
                    lang: str | None = Query(None, pattern="^(zh-CN|en)$"), header_lang: str = Depends(get_lang),
                    actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
                    store: Store = Depends(get_store)) -> Response:
    body, media, name = reporting.build_report(store, settings, actor, run_id, format, lang or header_lang)
    return Response(body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/catalogs", **uses(service.list_catalogs))
def list_catalogs(actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    return {"items": service.list_catalogs(settings, actor)}


@router.get("/evidence/{digest}", **uses(service.get_evidence))
def get_evidence(digest: str, actor: Actor = Depends(current_actor), settings: Settings = Depends(get_settings),
                 store: Store = Depends(get_store)) -> Response:
    return Response(service.get_evidence(settings, actor, digest, store), media_type="application/octet-stream",
                    headers={"content-disposition": f'attachment; filename="{digest}"'})
