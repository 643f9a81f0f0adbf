"""Real restores, for the day of a loss (drills only rehearse them in scratch copies).

* Indices are restored under new names (``restored-<stamp>-<name>``), verified against the
  manifest, then switched in atomically by alias: the old name becomes an alias of the restored
  copy (a live index of that name is first cloned aside as ``replaced-<stamp>-<name>``, so
  nothing is lost), and the aliases recorded at backup time move to it (the write flag only
  where no other live index holds it).
* Files go into a target directory (restic restores absolute paths below it).
* A PostgreSQL dump goes into a database that must not exist yet (``createdb`` + ``pg_restore``).

A dry run lists these changes and touches nothing. Every restore is stored in
``<prefix>-backups-restores`` with RPO (start − recovery point) and RTO (start → verified).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backup_orchestrator import es_snapshots, files, fingerprint
from backup_orchestrator.context import BackupContext
from backup_orchestrator.drills import CheckFailed, Checks, pick_point
from backup_orchestrator.models import Plan
from core.errors import InvalidInput, NotFound, SocError, Unavailable
from core.timeutil import iso, parse_iso

RESTORED = r"restored-\d{8}t\d{6}-"
DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Request:
    point: str = "newest"
    source: str = "primary"
    indices: bool = True
    target_dir: Path | None = None
    database: str | None = None
    keep_current: bool = True


def validate(plan: Plan, req: Request) -> None:
    if req.source not in ("primary", "offsite"):
        raise InvalidInput("A restore reads from 'primary' or 'offsite'.")
    if req.source == "offsite" and plan.offsite is None:
        raise InvalidInput(f"Plan {plan.id} has no offsite repository to restore from.")
    if req.target_dir is not None:
        if not req.target_dir.is_absolute() or req.target_dir == Path("/"):
            raise InvalidInput("--target-dir must be an absolute directory other than /.")
        if req.target_dir.exists() and not req.target_dir.is_dir():
            raise InvalidInput(f"--target-dir {req.target_dir} exists and is not a directory.")
    if req.database is not None:
        if not DB_NAME.match(req.database):
            raise InvalidInput("--database: letters, digits and '_' (max 63), starting with a letter or '_'.")
        if plan.postgres is None:
            raise InvalidInput(f"Plan {plan.id} backs up no PostgreSQL database.")
    if not (req.indices and plan.has_es) and req.target_dir is None and req.database is None:
        raise InvalidInput("Nothing to restore: this plan has no indices, so name --target-dir and/or --database.")


def original(index: str) -> str:
    return re.sub(f"^{RESTORED}", "", index)


def _alias_members(ctx: BackupContext, name: str) -> dict[str, bool]:
    """``{index: is_write_index}`` of the alias ``name`` ({} when it is no alias)."""
    try:
        data = ctx.store.request("GET", f"/_alias/{name}") or {}
    except NotFound:
        return {}
    return {idx: bool(((entry.get("aliases") or {}).get(name) or {}).get("is_write_index", False))
            for idx, entry in data.items()}


def _state(ctx: BackupContext, name: str) -> tuple[str, dict[str, bool]]:
    members = _alias_members(ctx, name)
    if members:
        return "alias", members
    return ("index" if ctx.store.index_exists(name) else "absent"), {}


def es_changes(ctx: BackupContext, rp: dict[str, Any], stamp: str) -> list[dict[str, Any]]:
    recorded = (rp.get("manifest") or {}).get("elasticsearch", {}).get("aliases", {})
    out = []
    for index in (rp.get("es") or {}).get("indices", []):
        name = original(index)
        target = f"restored-{stamp}-{name}"
        state, members = _state(ctx, name)
        change: dict[str, Any] = {"snapshot_index": index, "restore_as": target, "name": name, "now": state,
                                  "members": sorted(members)}
        if state == "index":
            change["set_aside_as"] = f"replaced-{stamp}-{name}"
            change["current_docs"] = ctx.store.count(name)
        aliases = []
        for alias, meta in sorted((recorded.get(index) or {}).items()):
            if alias == name:
                continue
            a_state, a_members = _state(ctx, alias)
            other_writer = any(w for idx, w in a_members.items() if idx != name)
            aliases.append({"alias": alias, "now": a_state, "members": sorted(a_members),
                            "is_write_index": bool(meta.get("is_write_index")) and not other_writer})
        change["aliases"] = aliases
        out.append(change)
    return out


def _files_changes(ctx: BackupContext, rp: dict[str, Any], req: Request) -> dict[str, Any]:
    fm = (rp.get("manifest") or {}).get("files") or {}
    names = list(fm.get("files", {}))
    existing = sum(1 for n in names if req.target_dir and (req.target_dir / n.lstrip("/")).exists())
    return {"target_dir": str(req.target_dir), "files": len(names), "bytes": fm.get("bytes", 0),
            "would_overwrite": existing}


def _pg_bin(ctx: BackupContext, name: str) -> str:
    binary = shutil.which(str(ctx.settings.backup.pg_dump_binary).replace("pg_dump", name)) or shutil.which(name)
    if not binary:
        raise Unavailable(f"{name} is not installed; install postgresql-client.")
    return binary


def _pg_conn(plan: Plan) -> list[str]:
    assert plan.postgres is not None
    pg = plan.postgres
    return [f"--host={pg.host}"] * bool(pg.host) + [f"--port={pg.port}"] * bool(pg.port) + \
        [f"--username={pg.user}"] * bool(pg.user) + ["--no-password"]


def _db_exists(ctx: BackupContext, plan: Plan, name: str) -> bool:
    proc = subprocess.run([_pg_bin(ctx, "psql"), *_pg_conn(plan), "--dbname=postgres", "-At", "-v", f"n={name}"],  # noqa: S603
                          input="select count(*) from pg_database where datname = :'n';", capture_output=True,
                          text=True, timeout=ctx.timeout, check=False)
    if proc.returncode != 0:
        raise Unavailable(f"Cannot reach PostgreSQL to check database {name}: {proc.stderr.strip()[-300:]}")
    return proc.stdout.strip() == "1"


def _dump_name(rp: dict[str, Any]) -> str:
    fm = (rp.get("manifest") or {}).get("files") or {}
    dumps = [n for n in fm.get("files", {}) if n.endswith(".dump") and "/postgres/" in n]
    if not dumps:
        raise InvalidInput(f"Recovery point {rp['run_id']} holds no pg_dump archive.")
    return dumps[0]


def changes(ctx: BackupContext, plan: Plan, rp: dict[str, Any], req: Request, stamp: str) -> dict[str, Any]:
    """What a restore would do (the dry run's answer, and the record of a real one)."""
    out: dict[str, Any] = {}
    if req.indices and rp.get("es"):
        out["indices"] = es_changes(ctx, rp, stamp)
    if req.target_dir is not None:
        if not rp.get("restic"):
            raise InvalidInput(f"Recovery point {rp['run_id']} holds no files.")
        out["files"] = _files_changes(ctx, rp, req)
    if req.database is not None:
        out["database"] = {"name": req.database, "dump": _dump_name(rp), "exists": _db_exists(ctx, plan, req.database)}
    return out


def run(ctx: BackupContext, plan: Plan, req: Request, *, dry_run: bool, actor: str) -> dict[str, Any]:
    validate(plan, req)
    rp = pick_point(ctx, plan, req.point, req.source)
    started = ctx.clock()
    stamp = started.strftime("%Y%m%dt%H%M%S")
    t0 = time.monotonic()
    plan_changes = changes(ctx, plan, rp, req, stamp)
    doc: dict[str, Any] = {
        "@timestamp": iso(started), "restore_id": uuid.uuid4().hex[:12], "plan_id": plan.id, "run_id": rp["run_id"],
        "source": req.source, "actor": actor, "dry_run": dry_run, "started": iso(started),
        "recovery_point_time": rp["recovery_point_time"], "changes": plan_changes,
        "request": {"indices": req.indices, "target_dir": str(req.target_dir) if req.target_dir else None,
                    "database": req.database, "keep_current": req.keep_current},
        "objectives": {"rpo_seconds": plan.objectives.rpo_seconds, "rto_seconds": plan.objectives.rto_seconds},
        "organization": plan.owner(),
    }
    if dry_run:
        doc.update(status="dry_run", ended=iso(ctx.clock()))
        return doc
    if (plan_changes.get("database") or {}).get("exists"):
        raise InvalidInput(f"Database {req.database} already exists; restore into a new database name.")
    checks = Checks()
    if "indices" in plan_changes:
        _restore_indices(ctx, plan, rp, req, plan_changes["indices"], stamp, checks)
    if "files" in plan_changes or "database" in plan_changes:
        _restore_files(ctx, plan, rp, req, checks, doc["restore_id"])
    rto = time.monotonic() - t0
    rpo = max(0.0, (started - parse_iso(rp["recovery_point_time"])).total_seconds())
    failed = checks.failed
    doc.update({"status": "failed" if failed else "success", "ended": iso(ctx.clock()), "rto_seconds": round(rto, 3),
                "rpo_seconds": round(rpo, 3), "rpo_met": rpo <= plan.objectives.rpo_seconds,
                "rto_met": rto <= plan.objectives.rto_seconds, "failed_check": failed[0] if failed else None,
                "checks": [c.to_dict() for c in checks.items]})
    ctx.catalog.put_restore(doc)
    return doc


# -- indices ----------------------------------------------------------------------------------

def _restore_indices(ctx: BackupContext, plan: Plan, rp: dict[str, Any], req: Request,
                     planned: list[dict[str, Any]], stamp: str, checks: Checks) -> None:
    repo = ctx.es_repo_name(plan, req.source)
    snapshot = rp["run_id"]
    indices = [c["snapshot_index"] for c in planned]
    targets: list[str] = []

    def restore() -> str:
        es_snapshots.register(ctx.store, repo, ctx.es_location(plan, req.source), readonly=req.source == "offsite",
                              create=False, throttle=ctx.settings.backup.snapshot_max_bytes_per_sec)
        targets.extend(es_snapshots.start_restore(ctx.store, repo, snapshot, indices, f"restored-{stamp}-",
                                                  strip=RESTORED, scratch=False))
        es_snapshots.wait_restore(ctx.store, snapshot, targets, timeout=ctx.timeout, status="yellow",
                                  progress=lambda m: ctx.progress("restore", 0.4, m))
        return f"restored {len(targets)} index(es) as restored-{stamp}-*"

    if not checks.run("es_restore", restore):
        return
    manifest = (rp.get("manifest") or {}).get("elasticsearch", {}).get("indices", {})
    if not checks.run("es_verify", lambda: _verify(ctx, planned, manifest)):
        return  # never switch in an index that does not match its backup; it stays for inspection
    checks.run("es_switch", lambda: _switch(ctx, planned, req.keep_current))


def _verify(ctx: BackupContext, planned: list[dict[str, Any]], manifest: dict[str, Any]) -> str:
    wrong, docs = [], 0
    for change in planned:
        meta, target = manifest.get(change["snapshot_index"]) or {}, change["restore_as"]
        ctx.store.refresh(target)
        got = ctx.store.count(target)
        docs += got
        low, high = sorted((meta.get("count", got), meta.get("count_after", meta.get("count", got))))
        if not low <= got <= high:
            wrong.append(f"{change['name']}: {got} documents, backup had {meta.get('count')}")
        elif meta.get("stable", True) and "seq_no" in meta:
            wrong += [f"{change['name']}: {p}" for p in fingerprint.compare(ctx.store, target, meta)]
            wrong += [f"{change['name']}: {p}" for p in fingerprint.compare_sample(ctx.store, target,
                                                                                   meta.get("sample") or {})]
    if wrong:
        raise CheckFailed("restored indices differ from the manifest: " + "; ".join(wrong[:5]))
    return f"{docs} documents in {len(planned)} index(es): counts, _seq_no statistics, id sets and samples match"


def _switch(ctx: BackupContext, planned: list[dict[str, Any]], keep_current: bool) -> str:
    actions: list[dict[str, Any]] = []
    aside = []
    for change in planned:
        name, target = change["name"], change["restore_as"]
        state, members = _state(ctx, name)  # again: the cluster may have moved since the plan
        if state == "index":
            if keep_current:
                _clone_aside(ctx, name, change["set_aside_as"])
                aside.append(change["set_aside_as"])
            actions.append({"remove_index": {"index": name}})
        for idx in members:
            actions.append({"remove": {"index": idx, "alias": name}})
        actions.append({"add": {"index": target, "alias": name}})
        for alias in change["aliases"]:
            _a_state, a_members = _state(ctx, alias["alias"])
            if _a_state == "index":
                raise CheckFailed(f"{alias['alias']} is now an index, not an alias; move it away first")
            if name in a_members and state != "index":  # remove_index already takes its aliases along
                actions.append({"remove": {"index": name, "alias": alias["alias"]}})
            add: dict[str, Any] = {"index": target, "alias": alias["alias"]}
            if alias["is_write_index"] and not any(w for i, w in a_members.items() if i != name):
                add["is_write_index"] = True
            actions.append({"add": add})
    try:
        ctx.store.request("POST", "/_aliases", body={"actions": actions})
    except SocError as exc:
        raise CheckFailed(f"switching the aliases failed, nothing was switched: {exc.message}") from exc
    kept = f"; previous indices kept as {', '.join(aside)}" if aside else ""
    return f"{len(planned)} name(s) now point at the restored indices{kept}"


def _clone_aside(ctx: BackupContext, name: str, aside: str) -> None:
    # Clone needs a write block; the clone shares segment files (hard links), so it is cheap.
    ctx.store.request("PUT", f"/{name}/_settings", body={"index.blocks.write": True})
    ctx.store.request("POST", f"/{name}/_clone/{aside}", params={"wait_for_active_shards": "1"})


# -- files and database -----------------------------------------------------------------------

def _restore_files(ctx: BackupContext, plan: Plan, rp: dict[str, Any], req: Request, checks: Checks,
                   restore_id: str) -> None:
    restic = ctx.restic(plan, req.source)
    info = rp.get("restic") or {}
    snap = ((rp.get("offsite") or {}).get("restic") or {}).get("snapshot_id") if req.source == "offsite" \
        else info.get("snapshot_id")
    fm = (rp.get("manifest") or {}).get("files") or {}
    scratch = ctx.work_dir / "restores" / restore_id
    if req.target_dir is not None:
        def to_dir() -> str:
            assert req.target_dir is not None
            req.target_dir.mkdir(parents=True, exist_ok=True)
            restic.restore(str(snap), req.target_dir)
            problems, mismatches, count = files.verify(fm, req.target_dir, fm.get("paths", list(fm["files"])))
            missing = [p for p in problems if p in fm["files"]]
            if missing or mismatches:
                raise CheckFailed(f"{len(missing)} missing and {len(mismatches)} differing file(s), e.g. "
                                  f"{(missing + mismatches)[0]}")
            return f"{count} file(s) restored into {req.target_dir}; sizes and sampled SHA-256 match"
        checks.run("files_restore", to_dir)
    if req.database is not None:
        dump = _dump_name(rp)

        def to_db() -> str:
            assert req.database is not None
            if req.target_dir is not None:
                path = req.target_dir / dump.lstrip("/")
            else:
                scratch.mkdir(parents=True, exist_ok=True)
                restic.restore(str(snap), scratch, include=[dump])
                path = scratch / dump.lstrip("/")
            return _pg_restore(ctx, plan, req.database, path)
        try:
            checks.run("database_restore", to_db)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _pg_restore(ctx: BackupContext, plan: Plan, database: str, dump: Path) -> str:
    conn = _pg_conn(plan)
    proc = subprocess.run([_pg_bin(ctx, "createdb"), *conn, database], capture_output=True, text=True,  # noqa: S603
                          timeout=ctx.timeout, check=False)
    if proc.returncode != 0:
        raise CheckFailed(f"createdb {database} failed: {proc.stderr.strip()[-300:]}")
    proc = subprocess.run([_pg_bin(ctx, "pg_restore"), *conn, "--no-owner", "--exit-on-error",  # noqa: S603
                           f"--dbname={database}", str(dump)], capture_output=True, text=True, timeout=ctx.timeout,
                          check=False)
    if proc.returncode != 0:
        raise CheckFailed(f"pg_restore into {database} failed: {proc.stderr.strip()[-300:]}")
    return f"pg_dump archive restored into the new database {database}"
