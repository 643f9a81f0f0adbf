"""One backup run: snapshot the indices, restic the files (and a pg_dump), record the manifest,
copy offsite and measure the lag. Called with the plan's lock held (see ``service``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

from backup_orchestrator import defaults, es_snapshots, files, fingerprint
from backup_orchestrator.context import BackupContext, new_id
from backup_orchestrator.models import Plan
from core.errors import SocError, Unavailable
from core.jobs import JobCancelled
from core.timeutil import iso, parse_iso


def run(ctx: BackupContext, plan: Plan, *, trigger: str, actor: str) -> dict[str, Any]:
    started = ctx.clock()
    t0 = time.monotonic()
    run_id = new_id(plan.id, started)
    doc: dict[str, Any] = {
        "@timestamp": iso(started), "run_id": run_id, "plan_id": plan.id, "status": "running", "trigger": trigger,
        "actor": actor, "started": iso(started), "recovery_point_time": iso(started), "stage": "starting",
        "pruned": False, "es": {}, "restic": {}, "offsite": {}, "manifest": {}, "organization": plan.owner(),
    }
    ctx.catalog.put_run(doc)
    first_run = not ctx.catalog.has_success(plan.id)
    if plan.source == "default":
        defaults.ensure_paths(ctx.settings)
    try:
        es_started = None
        # A fresh installation may not have written any platform index yet: the default plan
        # then backs up its files only, rather than failing its first run.
        if plan.has_es and not (plan.source == "default" and not es_snapshots.resolve_indices(ctx.store,
                                                                                               plan.es_indices)):
            _stage(ctx, doc, "elasticsearch", 0.1, "snapshotting indices")
            es_started = _start_es(ctx, plan, run_id, create=first_run)
        try:
            # Elasticsearch copies the segment files while restic reads the plan's files.
            if plan.has_files:
                _stage(ctx, doc, "files", 0.4, "restic backup")
                doc["restic"], doc["manifest"]["files"] = _backup_files(ctx, plan, run_id, create=first_run)
        finally:
            if es_started is not None:
                doc["es"], doc["manifest"]["elasticsearch"] = _finish_es(ctx, run_id, es_started)
        doc["size_bytes"] = int(doc["es"].get("size_bytes", 0)) + int(doc["restic"].get("total_bytes_processed", 0))
        doc["added_bytes"] = int(doc["es"].get("added_bytes", 0)) + int(doc["restic"].get("data_added", 0))
        doc["status"] = "success"
    except JobCancelled as exc:
        doc["status"] = "cancelled"
        doc["error"] = exc.message
    except SocError as exc:
        doc["status"] = "failed"
        doc["error"] = exc.message
    except OSError as exc:
        # An unreadable source file or a vanished directory: record it, never leave a "running" run.
        doc["status"] = "failed"
        doc["error"] = f"{exc.filename or ''}: {exc.strerror or exc}. Check the plan's paths and their permissions."
    if doc["status"] == "success" and plan.offsite is not None:
        _stage(ctx, doc, "offsite", 0.8, "copying to the offsite repository")
        doc["offsite"] = copy_offsite(ctx, plan, doc, create=first_run)
    ended = ctx.clock()
    doc.update(ended=iso(ended), duration_seconds=round(time.monotonic() - t0, 3), stage="done")
    ctx.catalog.put_run(doc)
    ctx.progress("done", 1.0, doc["status"])
    if doc["status"] == "cancelled":
        return doc  # asked for, so no alert; the plan's condition stays as it was
    if doc["status"] == "failed":
        ctx.alert("backup.run_failed", "Backup run failed", f"Backup of plan {plan.id} failed: {doc['error']}", run_id,
                  plan_id=plan.id)
        return doc
    ctx.clear("backup.run_failed", plan.id, f"backup run {run_id} succeeded")
    if doc["offsite"].get("status") == "failed":
        ctx.alert("backup.offsite_failed", "Offsite copy failed",
                  f"Offsite copy of plan {plan.id} failed: {doc['offsite'].get('error')}", run_id, level="medium",
                  plan_id=plan.id)
    elif doc["offsite"].get("status") == "success":
        ctx.clear("backup.offsite_failed", plan.id, f"offsite copy of run {run_id} succeeded")
    return doc


def _stage(ctx: BackupContext, doc: dict[str, Any], stage: str, fraction: float, message: str) -> None:
    if ctx.cancelled():
        raise JobCancelled(f"Backup run {doc['run_id']} was cancelled before its {stage} stage.")
    doc["stage"] = stage
    doc["progress"] = {"fraction": fraction, "message": message}
    ctx.catalog.update_run(doc["run_id"], {"stage": stage, "progress": doc["progress"]})
    ctx.progress(stage, fraction, message)


def _start_es(ctx: BackupContext, plan: Plan, run_id: str, *, create: bool) -> dict[str, Any]:
    """Fingerprint the indices and start their snapshot; ``_finish_es`` waits for it."""
    store = ctx.store
    repo = ctx.es_repo_name(plan, "primary")
    location = ctx.es_location(plan, "primary")
    es_snapshots.register(store, repo, location, create=create,
                          throttle=ctx.settings.backup.snapshot_max_bytes_per_sec)
    indices = es_snapshots.resolve_indices(store, plan.es_indices)
    if not indices:
        raise Unavailable(f"No index matches plan {plan.id}'s patterns ({', '.join(plan.es_indices)}); nothing to "
                          "snapshot. Fix assets.elasticsearch.indices.")
    before = es_snapshots.write_counters(store, indices)
    store.refresh(",".join(indices))
    manifest: dict[str, Any] = {"indices": {}}
    b = ctx.settings.backup
    seed = zlib.crc32(run_id.encode())
    manifest["method"] = "fingerprint"
    manifest["aliases"] = es_snapshots.aliases_of(store, indices)
    for n, index in enumerate(indices):
        ctx.progress("elasticsearch", 0.1 + 0.2 * n / len(indices), f"fingerprint of {index}")
        manifest["indices"][index] = fingerprint.take(store, index, id_digest_max_docs=b.verify_id_digest_max_docs,
                                                      sample_size=b.verify_sample_docs, seed=seed)
    es_snapshots.start_snapshot(store, repo, run_id, indices)
    return {"repo": repo, "location": location, "indices": indices, "before": before, "manifest": manifest}


def _finish_es(ctx: BackupContext, run_id: str, started: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    store, repo, location, indices = ctx.store, started["repo"], started["location"], started["indices"]
    before, manifest = started["before"], started["manifest"]
    info = es_snapshots.wait_snapshot(store, repo, run_id, timeout=ctx.timeout,
                                      progress=lambda m: ctx.progress("elasticsearch", 0.6, m))
    after = es_snapshots.write_counters(store, indices)
    for index in indices:
        # Written to while we digested or snapshotted: the digest may not describe the snapshot,
        # and the snapshot holds somewhere between the counts seen before and after it.
        stable = before.get(index) == after.get(index)
        manifest["indices"][index]["stable"] = stable
        if not stable:
            manifest["indices"][index]["count_after"] = store.count(index)
    summary = {"repository": repo, "location": str(location), "snapshot": run_id, "indices": indices,
               "size_bytes": info["size_bytes"], "added_bytes": info["added_bytes"],
               "added_files": info["added_files"], "snapshot_uuid": info.get("uuid")}
    return summary, manifest


def _pg_dump(ctx: BackupContext, plan: Plan) -> str:
    assert plan.postgres is not None
    pg = plan.postgres
    staging = ctx.work_dir / "staging" / plan.id / "postgres"
    staging.mkdir(parents=True, exist_ok=True)
    target = staging / f"{pg.database}.dump"
    binary = shutil.which(ctx.settings.backup.pg_dump_binary)
    if not binary:
        raise Unavailable("pg_dump is not installed; install postgresql-client or remove assets.postgres.")
    cmd = [binary, "--format=custom", f"--file={target}", "--no-password"]
    if pg.host:
        cmd.append(f"--host={pg.host}")
    if pg.port:
        cmd.append(f"--port={pg.port}")
    if pg.user:
        cmd.append(f"--username={pg.user}")
    cmd.append(pg.database)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=ctx.timeout, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise Unavailable(f"pg_dump of {pg.database} failed: {proc.stderr.strip()[-400:]}. Check the connection "
                          "settings and ~/.pgpass (passwords never go on the command line).")
    return str(target)


def _backup_files(ctx: BackupContext, plan: Plan, run_id: str, *, create: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    restic = ctx.restic(plan, "primary")
    restic.ensure(create=create)
    cleared = restic.clear_stale_locks()
    paths = list(plan.paths)
    if plan.postgres is not None:
        paths.append(_pg_dump(ctx, plan))
    manifest = files.build(paths, sample_bytes=ctx.settings.backup.verify_sample_file_bytes, seed=run_id)
    manifest["paths"] = paths
    summary = restic.backup(paths, tags=[f"plan:{plan.id}", f"run:{run_id}"])
    if summary.get("incomplete"):
        raise Unavailable(f"restic could not read some files, the snapshot is incomplete: {summary['incomplete']}")
    manifest["changed_during_backup"] = files.changed_since(manifest)
    short = str(summary.get("snapshot_id", ""))
    snap = next((s for s in restic.snapshots([f"run:{run_id}"]) if str(s.get("id", "")).startswith(short)), None)
    if snap is None:
        raise Unavailable(f"restic reported snapshot {short} but it is not listed in {restic.repo}.")
    keys = ("files_new", "files_changed", "files_unmodified", "data_added", "total_files_processed",
            "total_bytes_processed", "total_duration")
    out = {k: summary.get(k) for k in keys}
    out.update(repository=restic.repo, snapshot_id=snap["id"], stale_locks_cleared=cleared)
    return out, manifest


# -- offsite --------------------------------------------------------------------------------

def copy_offsite(ctx: BackupContext, plan: Plan, doc: dict[str, Any], *, create: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "success"}
    try:
        if plan.has_es:
            out["es"] = _offsite_es(ctx, plan, create=create)
        if plan.has_files:
            primary = ctx.restic(plan, "primary")
            offsite = ctx.restic(plan, "offsite")
            offsite.ensure(create=create, copy_chunker_from=primary)
            offsite.clear_stale_locks()
            # Every snapshot of the plan missing at the second site, not only this run's: runs
            # made while the link was down catch up here.
            offsite.copy_from(primary, tags=[f"plan:{plan.id}"])
            at_site = {tag[4:]: s["id"] for s in offsite.snapshots([f"plan:{plan.id}"])
                       for tag in s.get("tags") or [] if tag.startswith("run:")}
            out["restic"] = {"repository": offsite.repo, "snapshot_id": at_site.get(doc["run_id"])}
            out["caught_up"] = _record_caught_up(ctx, plan, doc["run_id"], offsite.repo, at_site)
        out.update(measure_lag(ctx, plan))
    except SocError as exc:
        out.update(status="failed", error=exc.message)
    return out


def _record_caught_up(ctx: BackupContext, plan: Plan, run_id: str, repo: str, at_site: dict[str, str]) -> list[str]:
    """Earlier runs whose own offsite copy failed but whose snapshot has now reached the site."""
    caught = []
    for run in ctx.catalog.runs(plan.id, status="success", include_pruned=False, limit=200):
        if run["run_id"] == run_id or (run.get("offsite") or {}).get("status") == "success":
            continue
        if run["run_id"] in at_site and not plan.has_es:
            ctx.catalog.update_run(run["run_id"], {"offsite": {
                "status": "success", "caught_up_by": run_id,
                "restic": {"repository": repo, "snapshot_id": at_site[run["run_id"]]}}}, refresh=True)
            caught.append(run["run_id"])
    return caught


def _offsite_es(ctx: BackupContext, plan: Plan, *, create: bool) -> dict[str, Any]:
    store = ctx.store
    primary_name, offsite_name = ctx.es_repo_name(plan, "primary"), ctx.es_repo_name(plan, "offsite")
    primary_loc, offsite_loc = ctx.es_location(plan, "primary"), ctx.es_location(plan, "offsite")
    if not offsite_loc.is_dir():
        if not create:
            raise Unavailable(f"Offsite snapshot repository {offsite_loc} is missing; mount it or fix plan.offsite.")
        es_snapshots.make_dirs_for_node(store, offsite_loc)
    # Read-only while copied, so the copy is one consistent repository generation.
    es_snapshots.register(store, primary_name, primary_loc, readonly=True, create=False,
                          throttle=ctx.settings.backup.snapshot_max_bytes_per_sec)
    try:
        stats = es_snapshots.mirror_files(primary_loc, offsite_loc)
        es_snapshots.chown_tree_like_root(store, offsite_loc)
    finally:
        es_snapshots.register(store, primary_name, primary_loc, readonly=False, create=False,
                              throttle=ctx.settings.backup.snapshot_max_bytes_per_sec)
    # Re-register so the node rereads the copied repository generation.
    es_snapshots.unregister(store, offsite_name)
    es_snapshots.register(store, offsite_name, offsite_loc, readonly=True, create=False,
                          throttle=ctx.settings.backup.snapshot_max_bytes_per_sec)
    return {"repository": offsite_name, "location": str(offsite_loc), **stats}


def measure_lag(ctx: BackupContext, plan: Plan) -> dict[str, Any]:
    """How far the offsite copy trails the primary: newest primary point minus newest offsite point."""
    lags: dict[str, Any] = {}
    if plan.has_es:
        p = es_snapshots.list_snapshots(ctx.store, ctx.es_repo_name(plan, "primary"))
        o = es_snapshots.list_snapshots(ctx.store, ctx.es_repo_name(plan, "offsite"))
        lags["es_lag_seconds"] = _lag([s.get("start_time_in_millis", 0) / 1000 for s in p if s.get("state") == "SUCCESS"],
                                      [s.get("start_time_in_millis", 0) / 1000 for s in o if s.get("state") == "SUCCESS"])
    if plan.has_files:
        p_snaps = ctx.restic(plan, "primary").snapshots([f"plan:{plan.id}"])
        o_snaps = ctx.restic(plan, "offsite").snapshots([f"plan:{plan.id}"]) if ctx.restic(plan, "offsite").exists() else []
        lags["restic_lag_seconds"] = _lag([restic_time(s["time"]) for s in p_snaps],
                                          [restic_time(s["time"]) for s in o_snaps])
    values = [v for v in lags.values() if v is not None]
    lags["lag_seconds"] = max(values) if values else None
    return lags


def restic_time(text: str) -> float:
    # restic writes nanoseconds; Python parses at most microseconds.
    return parse_iso(re.sub(r"(\.\d{6})\d+", r"\1", text)).timestamp()


def _lag(primary: list[float], offsite: list[float]) -> float | None:
    if not primary:
        return 0.0
    if not offsite:
        return None
    return round(max(0.0, max(primary) - max(offsite)), 3)


def restored_path(root: Path, original: str) -> Path:
    return root / original.lstrip("/")
