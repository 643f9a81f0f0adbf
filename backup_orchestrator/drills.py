"""Restore drills: fetch a recovery point, restore it into a scratch target, verify it against
the run's manifest, query it, clean up, and measure RTO (fetch/restore/verify) and RPO.

Every check is recorded with its outcome; the first failed one is named in ``failed_check``
so the report says *which* part of the recovery would not have worked.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from backup_orchestrator import es_snapshots, files, fingerprint
from backup_orchestrator.context import BackupContext
from backup_orchestrator.drill_checks import CheckFailed, Checks
from backup_orchestrator.models import CHECK_FAILED, Check, Plan
from core.errors import InvalidInput, NotFound
from core.timeutil import iso, parse_iso


def pick_point(ctx: BackupContext, plan: Plan, point: str, source: str) -> dict[str, Any]:
    points = ctx.catalog.recovery_points(plan.id)
    if source == "offsite":
        points = [p for p in points if (p.get("offsite") or {}).get("status") == "success"]
    if not points:
        raise NotFound(f"Plan {plan.id} has no successful {source} recovery point to drill; run `soc backup run "
                       f"{plan.id}` first.")
    if point == "newest":
        return points[0]
    if point == "random":
        return random.choice(points)  # noqa: S311 - choosing a drill target, not a secret
    match = next((p for p in points if p["run_id"] == point), None)
    if match is None:
        raise NotFound(f"Recovery point {point} is not a live successful run of plan {plan.id} "
                       "(see `soc backup list`).")
    return match


def run(ctx: BackupContext, plan: Plan, *, point: str = "newest", source: str = "primary", trigger: str = "manual",
        actor: str = "system") -> dict[str, Any]:
    if source not in ("primary", "offsite"):
        raise InvalidInput("A drill restores from 'primary' or 'offsite'.")
    if source == "offsite" and plan.offsite is None:
        raise InvalidInput(f"Plan {plan.id} has no offsite repository to drill from.")
    rp = pick_point(ctx, plan, point, source)
    started = ctx.clock()
    drill_id = uuid.uuid4().hex[:12]
    doc: dict[str, Any] = {
        "@timestamp": iso(started), "drill_id": drill_id, "plan_id": plan.id, "run_id": rp["run_id"],
        "status": "running", "source": source, "actor": actor, "trigger": trigger, "started": iso(started),
        "recovery_point_time": rp["recovery_point_time"], "stage": "fetch",
        "objectives": {"rpo_seconds": plan.objectives.rpo_seconds, "rto_seconds": plan.objectives.rto_seconds},
        "organization": plan.owner(),
    }
    ctx.catalog.put_drill(doc)
    checks = Checks(ctx.cancelled)
    drill_prefix = f"drill-{drill_id}-"
    scratch = ctx.work_dir / "drills" / drill_id
    manifest = rp.get("manifest") or {}
    es_info, restic_info = rp.get("es") or {}, rp.get("restic") or {}
    offsite = rp.get("offsite") or {}
    es_repo = ctx.es_repo_name(plan, source)
    restic = ctx.restic(plan, source) if restic_info else None
    restic_snap = (offsite.get("restic") or {}).get("snapshot_id") if source == "offsite" else restic_info.get("snapshot_id")
    t0 = time.monotonic()

    # -- fetch: the recovery point is there and readable ------------------------------------
    ctx.progress("fetch", 0.05, f"locating recovery point {rp['run_id']}")
    es_ok = restic_ok = True
    if es_info:
        es_ok = checks.run("es_snapshot_present", lambda: _es_present(ctx, plan, source, es_repo, rp["run_id"],
                                                                      es_info["indices"]))
    restored: dict[str, Any] = {}
    if es_info and es_ok:
        # Elasticsearch restores in the background while restic checks and restores the files.
        es_ok = checks.run("es_restore_started", lambda: _es_start(ctx, es_repo, rp["run_id"], es_info["indices"],
                                                                   drill_prefix, restored))
    if restic is not None:
        restic_ok = checks.run("restic_snapshot_present", lambda: _restic_present(restic, restic_snap))
        subset = plan.drill.check_subset or ctx.settings.backup.restic_check_subset
        if restic_ok:
            # A repository that fails its own integrity check is not restored: restic would spend
            # minutes retrying missing packs, and the drill already knows what is wrong.
            restic_ok = checks.run("restic_check", lambda: restic.check(subset))
    fetch_s = time.monotonic() - t0

    # -- restore into the scratch target ------------------------------------------------------
    _progress(ctx, doc, "restore", 0.3, "restoring")
    t1 = time.monotonic()
    if restic is not None:
        if restic_ok:
            restic_ok = checks.run("restic_restore", lambda: _restic_restore(restic, restic_snap or "", scratch, restored))
        else:
            checks.skip("restic_restore", "recovery point missing or failed its integrity check")
    if es_info:
        if es_ok:
            es_ok = checks.run("es_restore", lambda: _es_wait(ctx, rp["run_id"], restored, drill_prefix))
        else:
            checks.skip("es_restore", "recovery point not readable")
    restore_s = time.monotonic() - t1

    # -- verify against the manifest, then query ----------------------------------------------
    _progress(ctx, doc, "verify", 0.6, "verifying against the manifest")
    t2 = time.monotonic()
    es_manifest = manifest.get("elasticsearch", {}).get("indices", {})
    if es_info:
        if es_ok:
            checks.run("es_doc_counts", lambda: _es_counts(ctx, es_manifest, drill_prefix))
            checks.run("es_digests", lambda: _es_digests(ctx, es_manifest, drill_prefix))
            checks.run("es_sample", lambda: _es_sample(ctx, es_manifest, drill_prefix))
            checks.run("es_queries", lambda: _es_queries(ctx, plan, es_manifest, drill_prefix))
        else:
            for name in ("es_doc_counts", "es_digests", "es_sample", "es_queries"):
                checks.skip(name, "nothing restored")
    fm = manifest.get("files")
    if restic is not None and fm is not None:
        if restic_ok:
            outcome: dict[str, Any] = {}
            checks.run("files_count", lambda: _files_count(fm, scratch, outcome))
            checks.run("files_digests", lambda: _files_digests(outcome, fm))
        else:
            checks.skip("files_count", "nothing restored")
            checks.skip("files_digests", "nothing restored")
    if plan.postgres is not None and restic is not None:
        if restic_ok:
            checks.run("postgres_dump", lambda: _pg_archive(ctx, fm or {}, scratch))
        else:
            checks.skip("postgres_dump", "nothing restored")
    verify_s = time.monotonic() - t2
    rto = time.monotonic() - t0

    # -- clean up ---------------------------------------------------------------------------------
    _progress(ctx, doc, "cleanup", 0.9, "removing the scratch copies")
    checks.run("cleanup", lambda: _cleanup(ctx, drill_prefix, scratch))

    if checks.was_cancelled:
        return _cancelled(ctx, doc, checks)
    verified = not checks.failed
    rpo = _rpo(ctx, plan, started, rp if verified else None)
    rpo_met = rpo is not None and rpo <= plan.objectives.rpo_seconds
    rto_met = rto <= plan.objectives.rto_seconds
    if not rpo_met:
        checks.items.append(Check("rpo", CHECK_FAILED, "no verified recovery point" if rpo is None else
                                  f"RPO {rpo:.0f}s exceeds the objective {plan.objectives.rpo_seconds}s"))
    if not rto_met:
        checks.items.append(Check("rto", CHECK_FAILED, f"RTO {rto:.1f}s exceeds the objective "
                                                       f"{plan.objectives.rto_seconds}s"))
    failed = checks.failed
    ended = ctx.clock()
    doc.update({
        "status": "passed" if not failed else "failed", "ended": iso(ended), "stage": "done",
        "rpo_seconds": round(rpo, 3) if rpo is not None else None, "rto_seconds": round(rto, 3),
        "rto": {"fetch_seconds": round(fetch_s, 3), "restore_seconds": round(restore_s, 3),
                "verify_seconds": round(verify_s, 3)},
        "rpo_met": rpo_met, "rto_met": rto_met, "failed_check": failed[0] if failed else None,
        "failed_checks": failed, "checks": [c.to_dict() for c in checks.items], "restored": restored,
        "progress": {"fraction": 1.0, "message": "done"},
    })
    ctx.catalog.put_drill(doc)
    ctx.progress("done", 1.0, doc["status"])
    if failed:
        first = next(c for c in checks.items if c.status == CHECK_FAILED)
        ctx.alert("backup.drill_failed", "Restore drill failed",
                  f"Drill {drill_id} of plan {plan.id} failed at check {first.name}: {first.detail}", drill_id,
                  plan_id=plan.id)
    else:
        ctx.clear("backup.drill_failed", plan.id, f"drill {drill_id} passed")
    if not rpo_met:
        ctx.alert("backup.rpo_breach", "Backup RPO objective breached",
                  f"Plan {plan.id}: newest verified recovery point is "
                  f"{'missing' if rpo is None else f'{rpo:.0f}s old'} (objective {plan.objectives.rpo_seconds}s).",
                  f"{plan.id}:{drill_id}", plan_id=plan.id)
    else:
        ctx.clear("backup.rpo_breach", plan.id, f"drill {drill_id} met the RPO")
    return doc


def _cancelled(ctx: BackupContext, doc: dict[str, Any], checks: Checks) -> dict[str, Any]:
    """A drill stopped on request measures nothing and raises no alert."""
    doc.update({"status": "cancelled", "ended": iso(ctx.clock()), "stage": "done", "rpo_seconds": None,
                "rto_seconds": None, "failed_check": None, "failed_checks": checks.failed,
                "checks": [c.to_dict() for c in checks.items], "progress": {"fraction": 1.0, "message": "cancelled"}})
    ctx.catalog.put_drill(doc)
    ctx.progress("done", 1.0, "cancelled")
    return doc


def _progress(ctx: BackupContext, doc: dict[str, Any], stage: str, fraction: float, message: str) -> None:
    doc["stage"] = stage
    doc["progress"] = {"fraction": fraction, "message": message}
    ctx.catalog.put_drill(doc, refresh=False)
    ctx.progress(stage, fraction, message)


def _rpo(ctx: BackupContext, plan: Plan, started: Any, rp: dict[str, Any] | None) -> float | None:
    if rp is not None:
        return max(0.0, (started - parse_iso(rp["recovery_point_time"])).total_seconds())
    passed = ctx.catalog.drills(plan.id, status="passed", limit=1)
    if not passed:
        return None
    return max(0.0, (started - parse_iso(passed[0]["recovery_point_time"])).total_seconds())


# -- checks ---------------------------------------------------------------------------------------

def _es_present(ctx: BackupContext, plan: Plan, source: str, repo: str, snapshot: str, indices: list[str]) -> str:
    es_snapshots.register(ctx.store, repo, ctx.es_location(plan, source), readonly=source == "offsite", create=False,
                          throttle=ctx.settings.backup.snapshot_max_bytes_per_sec)
    info = es_snapshots.snapshot_info(ctx.store, repo, snapshot)
    if info.get("state") != "SUCCESS":
        raise CheckFailed(f"snapshot {snapshot} is in state {info.get('state')}")
    missing = sorted(set(indices) - set(info.get("indices", [])))
    if missing:
        raise CheckFailed(f"snapshot {snapshot} lacks indices {', '.join(missing)}")
    # _status reads every shard's snapshot metadata back from the repository.
    status = es_snapshots.snapshot_status(ctx.store, repo, snapshot)
    if status["state"] != "SUCCESS" or status["failed_shards"]:
        raise CheckFailed(f"snapshot {snapshot} status {status['state']}, {status['failed_shards']} failed shard(s)")
    return (f"snapshot {snapshot} in {repo} holds {len(indices)} index(es); _status: {status['done_shards']} "
            f"shard(s) done, {status['file_count']} files, {status['size_bytes']} bytes")


def _restic_present(restic: Any, snapshot_id: str | None) -> str:
    if not snapshot_id:
        raise CheckFailed("the run recorded no restic snapshot for this repository")
    if not restic.exists():
        raise CheckFailed(f"no restic repository at {restic.repo} (missing or unmounted)")
    ids = {s["id"] for s in restic.snapshots()}
    if snapshot_id not in ids:
        raise CheckFailed(f"restic snapshot {snapshot_id[:8]} is not in {restic.repo}")
    return f"restic snapshot {snapshot_id[:8]} present"


def _es_start(ctx: BackupContext, repo: str, snapshot: str, indices: list[str], drill_prefix: str,
              restored: dict[str, Any]) -> str:
    restored["indices"] = es_snapshots.start_restore(ctx.store, repo, snapshot, indices, drill_prefix)
    return f"restoring {len(indices)} index(es) as {drill_prefix}*"


def _es_wait(ctx: BackupContext, snapshot: str, restored: dict[str, Any], drill_prefix: str) -> str:
    targets = es_snapshots.wait_restore(ctx.store, snapshot, restored["indices"], timeout=ctx.timeout,
                                        progress=lambda m: ctx.progress("restore", 0.4, m))
    return f"restored {len(targets)} index(es) as {drill_prefix}*; segment checksums verified by Elasticsearch"


def _restic_restore(restic: Any, snapshot_id: str, scratch: Path, restored: dict[str, Any]) -> str:
    scratch.mkdir(parents=True, exist_ok=True)
    restic.restore(snapshot_id, scratch)
    restored["directory"] = str(scratch)
    return f"restored into {scratch}"


def _es_counts(ctx: BackupContext, manifest: dict[str, Any], drill_prefix: str) -> str:
    ctx.store.refresh(f"{drill_prefix}*")
    wrong = []
    for index, meta in manifest.items():
        got = ctx.store.count(drill_prefix + index)
        low, high = sorted((meta["count"], meta.get("count_after", meta["count"])))
        if not low <= got <= high:
            wrong.append(f"{index}: {got} != {meta['count']}" if low == high else f"{index}: {got} not in {low}..{high}")
    if wrong:
        raise CheckFailed("document counts differ from the manifest: " + "; ".join(wrong[:5]))
    return f"{sum(m['count'] for m in manifest.values())} documents in {len(manifest)} index(es) match"


def _es_digests(ctx: BackupContext, manifest: dict[str, Any], drill_prefix: str) -> str:
    """Fingerprints (``_seq_no`` statistics, id-set digest where recorded); manifests written
    before fingerprints carry a full content digest, which is still honoured."""
    wrong, unstable, with_ids, full = [], [], 0, 0
    for index, meta in manifest.items():
        if not meta.get("stable", True):
            unstable.append(index)
            continue
        if "digest" in meta and "seq_no" not in meta:
            full += 1
            if es_snapshots.index_digest(ctx.store, drill_prefix + index)[1] != meta["digest"]:
                wrong.append(f"{index}: content digest differs")
            continue
        with_ids += 1 if meta.get("ids_digest") else 0
        wrong += [f"{index}: {p}" for p in fingerprint.compare(ctx.store, drill_prefix + index, meta)]
    if wrong:
        raise CheckFailed("restored data differs from the manifest: " + "; ".join(wrong[:5]))
    checked = len(manifest) - len(unstable)
    parts = [f"_seq_no statistics of {checked - full} index(es) match",
             f"id-set digests of {with_ids} match (the others exceed backup.verify_id_digest_max_docs)"]
    if full:
        parts.append(f"full content digests of {full} match")
    if unstable:
        parts.append(f"{len(unstable)} index(es) were written during the backup and only counted")
    return "; ".join(parts) + "; segment files checksummed by Elasticsearch on restore"


def _es_sample(ctx: BackupContext, manifest: dict[str, Any], drill_prefix: str) -> str:
    wrong, checked = [], 0
    for index, meta in manifest.items():
        if not meta.get("stable", True) or not meta.get("sample"):
            continue
        checked += len(meta["sample"])
        wrong += [f"{index}/{p}" for p in fingerprint.compare_sample(ctx.store, drill_prefix + index, meta["sample"])]
    if wrong:
        raise CheckFailed(f"{len(wrong)} sampled document(s) differ from the backup, e.g. " + "; ".join(wrong[:3]))
    return f"SHA-256 of {checked} randomly sampled document(s) match"


def _es_queries(ctx: BackupContext, plan: Plan, manifest: dict[str, Any], drill_prefix: str) -> str:
    pattern = f"{drill_prefix}*"
    counts = {drill_prefix + index: ctx.store.count(drill_prefix + index) for index in manifest}
    resp = ctx.store.search(pattern, {"size": 0, "track_total_hits": True,
                                      "aggs": {"per_index": {"terms": {"field": "_index", "size": 1000}}}})
    if resp["hits"]["total"]["value"] != sum(counts.values()):
        raise CheckFailed(f"match_all over the restored indices found {resp['hits']['total']['value']} of "
                          f"{sum(counts.values())}")
    buckets = {b["key"]: b["doc_count"] for b in resp["aggregations"]["per_index"]["buckets"]}
    for name, count in counts.items():
        if count and buckets.get(name) != count:
            raise CheckFailed(f"aggregation by index disagrees for {name}")
    ran = 2
    for n, q in enumerate(plan.drill.queries):
        body = {"size": 0, "track_total_hits": True, "query": q.get("query", q)}
        result = ctx.store.search(pattern, body)
        hits = result["hits"]["total"]["value"]
        if hits < int(q.get("min_hits", 0)):
            raise CheckFailed(f"query {q.get('name', n + 1)} returned {hits} hits, expected at least {q['min_hits']}")
        ran += 1
    return f"{ran} queries answered"


def _files_count(manifest: dict[str, Any], scratch: Path, outcome: dict[str, Any]) -> str:
    problems, mismatches, count = files.verify(manifest, scratch, manifest.get("paths", list(manifest["files"])))
    outcome["mismatches"] = mismatches
    if problems:
        raise CheckFailed(f"{len(problems)} file(s) missing or unexpected after restore, e.g. {problems[0]}")
    return f"{count} files restored"


def _files_digests(outcome: dict[str, Any], manifest: dict[str, Any]) -> str:
    if "mismatches" not in outcome:
        raise CheckFailed("file comparison did not run")
    if outcome["mismatches"]:
        raise CheckFailed(f"{len(outcome['mismatches'])} file(s) differ from their SHA-256 in the manifest, e.g. "
                          f"{outcome['mismatches'][0]}")
    hashed = sum(1 for m in manifest.get("files", {}).values() if "sha256" in m)
    return f"sizes of all {manifest.get('count', 0)} files match; SHA-256 of {hashed} sampled file(s) match"


def _pg_archive(ctx: BackupContext, manifest: dict[str, Any], scratch: Path) -> str:
    dumps = [name for name in manifest.get("files", {}) if name.endswith(".dump") and "/postgres/" in name]
    if not dumps:
        raise CheckFailed("the recovery point holds no pg_dump archive")
    binary = shutil.which(str(ctx.settings.backup.pg_dump_binary).replace("pg_dump", "pg_restore")) or \
        shutil.which("pg_restore")
    if not binary:
        raise CheckFailed("pg_restore is not installed, so the archive cannot be read")
    entries = 0
    for name in dumps:
        proc = subprocess.run([binary, "--list", str(scratch / name.lstrip("/"))], capture_output=True, text=True,
                              timeout=ctx.timeout, check=False)
        if proc.returncode != 0:
            raise CheckFailed(f"pg_restore cannot read {name}: {proc.stderr.strip()[-300:]}")
        entries += sum(1 for ln in proc.stdout.splitlines() if ln and not ln.startswith(";"))
    return f"{len(dumps)} pg_dump archive(s) readable, {entries} entries"


def _cleanup(ctx: BackupContext, drill_prefix: str, scratch: Path) -> str:
    ctx.store.delete_indices(f"{drill_prefix}*")
    shutil.rmtree(scratch, ignore_errors=True)
    left = ctx.store.list_indices(f"{drill_prefix}*")
    if left or scratch.exists():
        raise CheckFailed(f"scratch copies remain: {left or scratch}")
    return "drill indices and scratch directory removed"
