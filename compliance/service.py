"""Compliance operations: run an assessment, read runs and results, record manual results.

Routes and CLI commands call one function here each; they pass the store, settings, an
``Auditor`` and the acting ``Actor``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from compliance import catalog as catalogs
from compliance import checkset, engine, systems
from compliance.models import (
    RESULT_KEYS,
    RESULTS,
    Catalog,
    Check,
    CheckResult,
    ItemResult,
    TargetSpec,
)
from compliance.platform import PlatformContext
from compliance.scoring import get_scorer
from compliance.store import ComplianceIndices
from compliance.targets import Target, open_target, parse_target
from core import yamlio
from core.auditing import Actor, Auditor
from core.errors import InvalidInput, NotFound, SocError
from core.es import Store
from core.i18n import t
from core.ids import stable_id
from core.jobs import JobCancelled, JobHandle, JobRunner
from core.permissions import requires
from core.scope import DISTRICT, active_for, organization_of
from core.settings import Settings
from core.timeutil import iso, parse_iso, utcnow

Progress = Callable[[str], None]
JOB_KIND = "compliance.run"


_DEFINITIONS: dict[tuple[Any, ...], tuple[dict[str, Catalog], dict[str, Check]]] = {}


def _fingerprint(dirs: list[Path]) -> tuple[Any, ...]:
    out: list[Any] = []
    for d in dirs:
        for p in sorted(d.glob("*.y*ml")) if d.is_dir() else []:
            st = p.stat()
            out.append((str(p), st.st_mtime_ns, st.st_size))
        out.append(str(d))
    return tuple(out)


def _cached_loader(settings: Settings, key: tuple[Any, ...]) -> tuple[Callable[[Path], Any], Callable[[], None]]:
    """YAML parsed once through ``core.yamlio`` and kept as JSON until a file changes.

    The pure-Python YAML parser needs seconds for the 346 catalog items; JSON takes milliseconds.
    Validation into models still runs on every load.
    """
    cache_file = Path(settings.data_dir) / "compliance" / "definitions.cache.json"
    fingerprint = json.dumps(key, default=str)
    cached: dict[str, Any] = {}
    try:
        raw = json.loads(cache_file.read_text("utf-8"))
        if raw.get("fingerprint") == fingerprint:
            cached = raw.get("files", {})
    except (OSError, ValueError):
        cached = {}
    fresh: dict[str, Any] = {}

    def load(path: Path) -> Any:
        if str(path) not in cached:
            cached[str(path)] = fresh[str(path)] = yamlio.load_file(path)
        return cached[str(path)]

    def save() -> None:
        if not fresh:
            return
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"fingerprint": fingerprint, "files": cached}, ensure_ascii=False), "utf-8")
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only data directory only costs parse time

    return load, save


def load_definitions(settings: Settings) -> tuple[dict[str, Catalog], dict[str, Check]]:
    """Catalogs and checks, parsed once per process (and cached on disk) while their files stay unchanged."""
    cdirs, kdirs = catalogs.catalog_dirs(settings), checkset.check_dirs(settings)
    key = (_fingerprint(cdirs), _fingerprint(kdirs))
    if key not in _DEFINITIONS:
        load, save = _cached_loader(settings, key)
        found = (catalogs.load_catalogs(cdirs, load), checkset.load_checks(kdirs, load))
        save()
        _DEFINITIONS.clear()
        _DEFINITIONS[key] = found
    return _DEFINITIONS[key]


def target_specs(settings: Settings, targets: list[str] | None, *, key_file: str | None = None,
                 known_hosts: str | None = None) -> list[TargetSpec]:
    cfg = settings.compliance
    key = key_file or (str(cfg.ssh_key_file) if cfg.ssh_key_file else None)
    known = known_hosts or (str(cfg.ssh_known_hosts) if cfg.ssh_known_hosts else None)
    return [parse_target(t, key_file=key, known_hosts=known) for t in (targets or cfg.targets)]


def _check_doc(run_id: str, r: CheckResult, checks: dict[str, Check], now: str) -> dict[str, Any]:
    check = checks[r.check_id]
    return {"run_id": run_id, "kind": "check", "check_id": r.check_id, "asset": r.asset, "result": r.result,
            "detail": r.detail, "evidence": [e.to_dict() for e in r.evidence], "seconds": round(r.seconds, 4),
            "error": r.error, "time": now, "checks": list(check.items)}


def _item_doc(run_id: str, row: ItemResult, cat: Catalog, now: str) -> dict[str, Any]:
    item = cat.item(row.item_id)
    return {"run_id": run_id, "kind": "item", "item_id": row.item_id, "asset": row.asset,
            "family": item.family if item else None, "requirement": item.requirement if item else None,
            "summary": item.summary if item else None,
            "control_point": {"zh": item.control_point.zh, "en": item.control_point.en} if item else None,
            "result": row.result, "source": row.source,
            "checks": list(row.checks), "detail": row.detail, "evidence": list(row.evidence),
            "assessor": row.assessor, "assessed_at": row.assessed_at, "time": now}


def _carried_manual(idx: ComplianceIndices, settings: Settings, cat: Catalog, previous: dict[str, Any] | None,
                    now: Any) -> dict[tuple[str, str], ItemResult]:
    if previous is None or settings.compliance.carry_manual_days <= 0:
        return {}
    out: dict[tuple[str, str], ItemResult] = {}
    for doc in sorted(idx.results_of(previous["id"], "manual"), key=lambda d: d.get("assessed_at") or ""):
        at = doc.get("assessed_at")
        if not at or (now - parse_iso(at)).days > settings.compliance.carry_manual_days or cat.item(doc["item_id"]) is None:
            continue
        out[(doc["item_id"], doc["asset"])] = ItemResult(
            doc["item_id"], doc["asset"], doc["result"], "manual", (), doc.get("detail", ""),
            tuple(doc.get("evidence") or ()), doc.get("assessor"), at)
    return out


def _score(cat: Catalog, item_docs: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [ItemResult(d["item_id"], d["asset"], d["result"], d.get("source", "check")) for d in item_docs]
    return get_scorer().score(cat, engine.overall_by_item(cat, rows))


@requires("compliance.run")
def run_assessment(store: Store, settings: Settings, auditor: Auditor, actor: Actor, *, level: int | None = None,
                   catalog_id: str | None = None, targets: list[str] | None = None, platform: bool = True,
                   key_file: str | None = None, known_hosts: str | None = None,
                   progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
                   system_id: str | None = None) -> dict[str, Any]:
    """Run every check of the catalog on the targets (and the platform), store and score the results.

    ``cancelled`` is polled between targets and before the results are written; a cancelled
    run is stored as ``cancelled`` without results. With ``system_id`` the graded system decides:
    its level picks the catalog, its hosts are the targets, and the run and its results belong to
    the system's department."""
    say = progress or (lambda _m: None)

    def stop_if_cancelled() -> None:
        if cancelled is not None and cancelled():
            raise JobCancelled(f"Compliance run {run_id} was cancelled; nothing was scored.")
    cats, checks = load_definitions(settings)
    system = systems.for_run(store, settings, system_id, level, catalog_id, targets)
    if system is not None:
        level, targets = int(system["level"]), list(system.get("hosts") or [])
    cat = catalogs.pick(cats, level=level or settings.compliance.level, catalog_id=catalog_id)
    specs = ([] if system is not None and not targets
             else target_specs(settings, targets, key_file=key_file, known_hosts=known_hosts))
    wanted = {cid for ids in engine.relevant_checks(cat, checks).values() for cid in ids}
    run_checks = [checks[c] for c in sorted(wanted)]
    started = utcnow()
    run_id = "cr-" + started.strftime("%Y%m%dT%H%M%S") + "-" + stable_id(started.isoformat(), actor.name,
                                                                         system_id or "")[:8]
    org = organization_of(system) if system is not None else (actor.organization or DISTRICT)
    run: dict[str, Any] = {"id": run_id, "catalog": cat.id, "level": cat.level, "targets": [s.name for s in specs],
                           "status": "running", "started_at": iso(started), "actor": actor.name, "errors": [],
                           "organization": {"id": org or DISTRICT}}
    if system is not None:
        run["system"] = {"id": system["id"], "name": system["name"], "level": system["level"]}
    # Targets open first so their slow commands (package managers) run while the indices are prepared.
    opened: list[Target] = []
    for spec in specs:
        try:
            target = open_target(spec)
            target.prefetch(engine.host_commands(run_checks))
            opened.append(target)
        except SocError as exc:
            run["errors"].append(f"{spec.name}: {exc.message}")
            say(f"{spec.name}: {exc.message}")
    idx = ComplianceIndices(store, settings)
    results: list[CheckResult] = []
    try:
        idx.ensure()
        idx.put_run(run)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="compliance-platform") as pool:
            platform_results = None
            if platform:
                say(t("compliance.progress.platform", settings.language))
                ctx = PlatformContext(store, settings, utcnow(), current_run=run_id)
                # The pool thread does not inherit the caller's context: the scope is passed on.
                platform_results = pool.submit(systems.in_scope, systems.platform_scope(store, settings, system),
                                               engine.run_platform_checks, ctx, run_checks)
            for target in opened:
                stop_if_cancelled()
                say(t("compliance.progress.host", settings.language, target=target.name,
                      count=sum(1 for c in run_checks if c.kind == "host")))
                results.extend(engine.run_host_checks(target, run_checks))
            if platform_results is not None:
                results.extend(platform_results.result())
        stop_if_cancelled()
        previous = idx.previous_finished(cat.id, run["started_at"], run_id, system_id)
        manual = _carried_manual(idx, settings, cat, previous, started)
        rows = engine.item_results(cat, checks, results, manual)
        now = iso(utcnow())
        docs = [_check_doc(run_id, r, checks, now) for r in results]
        item_docs = [_item_doc(run_id, row, cat, now) for row in rows]
        manual_docs = [{**_item_doc(run_id, m, cat, now), "kind": "manual", "carried_from": previous["id"] if previous else None}
                       for m in manual.values()]
        idx.write_results([systems.tagged(run, d) for d in docs + item_docs + manual_docs])
        score = _score(cat, item_docs)
        seconds: dict[str, float] = {}
        for r in results:
            seconds[r.check_id] = round(seconds.get(r.check_id, 0.0) + r.seconds, 4)
        run.update(status="finished", finished_at=iso(utcnow()), score=score, counts=score["counts"],
                   overall=score["overall"], band=score["band"], scorer=score["scorer"], check_seconds=seconds,
                   previous_run=previous["id"] if previous else None)
    except Exception as exc:
        for target in opened:
            target.close()
        run.update(status="cancelled" if isinstance(exc, JobCancelled) else "failed", finished_at=iso(utcnow()))
        run["errors"].append(exc.message if isinstance(exc, SocError) else repr(exc))
        try:
            idx.put_run(run)
        except SocError:
            pass  # the original error says more than the failed status write
        auditor.record(actor, "compliance.run", run_id, "failure", {"error": run["errors"][-1]})
        raise
    for target in opened:
        target.close()
    idx.put_run(run)
    auditor.record(actor, "compliance.run", run_id, "success",
                   {"catalog": cat.id, "targets": run["targets"], "overall": run["overall"], "band": run["band"],
                    "system": system_id, "organization": run["organization"]["id"]})
    say(t("compliance.progress.done", settings.language, run=run_id, score=run["overall"], band=run["band"],
          pending=score["pending"]))
    return run


@requires("compliance.run")
def submit_run(jobs: JobRunner, store: Store, settings: Settings, auditor: Auditor, actor: Actor, *,
               level: int | None = None, catalog_id: str | None = None, targets: list[str] | None = None,
               platform: bool = True, system_id: str | None = None) -> dict[str, Any]:
    """Start ``run_assessment`` as a background job (follow it with ``get_job``). The catalog and
    targets (or the graded system) are checked now (422, 404), a run of the same catalog on the
    same targets (of the same system) already going or a full runner is a 409."""
    cats, _checks = load_definitions(settings)
    if system_id:
        system = systems.for_run(store, settings, system_id, level, catalog_id, targets)
        assert system is not None
        key = f"system:{system_id}{':platform' if platform else ''}"
    else:
        cat = catalogs.pick(cats, level=level or settings.compliance.level, catalog_id=catalog_id)
        specs = target_specs(settings, targets)
        key = f"{cat.id}:{','.join(sorted(s.name for s in specs))}{':platform' if platform else ''}"

    def work(job: JobHandle) -> dict[str, Any]:
        chosen: dict[str, Any] = ({"system_id": system_id} if system_id
                                  else {"catalog_id": cat.id, "targets": targets})
        run = run_assessment(store, settings, auditor, actor, platform=platform, progress=job.say,
                             cancelled=lambda: job.cancelled, **chosen)
        return {"run_id": run["id"], "status": run["status"], "overall": run.get("overall"), "band": run.get("band")}

    return jobs.submit(JOB_KIND, key, work, owner=actor.name)


@requires("compliance.read")
def get_job(jobs: JobRunner, actor: Actor, job_id: str) -> dict[str, Any]:
    return jobs.get(job_id, kinds=(JOB_KIND,))


@requires("compliance.run")
def cancel_job(jobs: JobRunner, auditor: Auditor, actor: Actor, job_id: str) -> dict[str, Any]:
    job = jobs.cancel(job_id, kinds=(JOB_KIND,))
    auditor.record(actor, "compliance.run.cancel", job_id, "success", {"key": job["key"], "status": job["status"]})
    return job


@requires("compliance.read")
def list_runs(store: Store, settings: Settings, actor: Actor, *, limit: int = 20, catalog: str | None = None,
              system: str | None = None) -> list[dict[str, Any]]:
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500.")
    return ComplianceIndices(store, settings).list_runs(limit, catalog, system)


@requires("compliance.read")
def get_run(store: Store, settings: Settings, actor: Actor, run_id: str) -> dict[str, Any]:
    return ComplianceIndices(store, settings).get_run(run_id)


@requires("compliance.read")
def get_results(store: Store, settings: Settings, actor: Actor, run_id: str, *, kind: str = "item",
                family: str | None = None, result: str | None = None) -> list[dict[str, Any]]:
    idx = ComplianceIndices(store, settings)
    idx.get_run(run_id)
    if kind not in ("item", "check", "manual"):
        raise InvalidInput("kind must be item, check or manual.")
    rows = idx.results_of(run_id, kind)
    if family:
        rows = [r for r in rows if r.get("family") == family]
    if result:
        wanted = normalise_result(result)
        rows = [r for r in rows if r.get("result") == wanted]
    return sorted(rows, key=lambda r: (r.get("item_id") or r.get("check_id") or "", r.get("asset") or ""))


def normalise_result(value: str) -> str:
    if value in RESULTS:
        return value
    by_key = {v: k for k, v in RESULT_KEYS.items()}
    if value in by_key:
        return by_key[value]
    raise InvalidInput(f"Unknown result {value!r}; use one of {', '.join(RESULTS)} "
                       f"or {', '.join(RESULT_KEYS.values())}.")


@requires("compliance.assess")
def record_manual(store: Store, settings: Settings, auditor: Auditor, actor: Actor, run_id: str, item_id: str,
                  result: str, *, note: str = "", asset: str = engine.SYSTEM_ASSET,
                  attachments: list[tuple[str, bytes]] | None = None) -> dict[str, Any]:
    """An auditor's result for one item (and asset), with uploaded evidence; the run is re-scored."""
    from compliance.evidence import save_attachments

    value = normalise_result(result)
    if len(note) > 20000:
        raise InvalidInput("The note is longer than 20000 characters; attach long text as a file.")
    idx = ComplianceIndices(store, settings)
    run = idx.get_run(run_id)
    cats, _checks = load_definitions(settings)
    cat = cats.get(run["catalog"])
    if cat is None:
        raise NotFound(f"The catalog {run['catalog']} of run {run_id} is no longer installed.")
    if cat.item(item_id) is None:
        raise NotFound(f"Item {item_id} is not in catalog {cat.id}; see `soc compliance results {run_id}`.")
    now = utcnow()
    evidence = save_attachments(settings, attachments or [], now)
    if note:
        evidence.insert(0, {"source": "note", "excerpt": note[:600], "sha256": stable_id(note), "time": iso(now), "note": ""})
    row = ItemResult(item_id, asset or engine.SYSTEM_ASSET, value, "manual", (), note[:2000], tuple(evidence),
                     actor.name, iso(now))
    doc = _item_doc(run_id, row, cat, iso(now))
    manual_id = stable_id("compliance-manual", run_id, item_id, row.asset, time.time_ns())
    idx.add_manual(systems.tagged(run, {**doc, "kind": "manual", "note": note}), manual_id)
    idx.write_results([systems.tagged(run, doc)])
    item_docs = idx.results_of(run_id, "item")
    score = _score(cat, item_docs)
    run.update(score=score, counts=score["counts"], overall=score["overall"], band=score["band"])
    idx.put_run(run)
    auditor.record(actor, "compliance.assess", f"{run_id}/{item_id}", "success",
                   {"result": value, "asset": row.asset, "evidence": [e["sha256"] for e in evidence]})
    return {"run": run_id, "item": asdict(row), "score": score}


@requires("compliance.read")
def list_catalogs(settings: Settings, actor: Actor) -> list[dict[str, Any]]:
    cats, checks = load_definitions(settings)
    out = []
    for cat in cats.values():
        mapping = engine.relevant_checks(cat, checks)
        out.append({"id": cat.id, "framework": cat.framework, "title": {"zh-CN": cat.title.zh, "en": cat.title.en},
                    "level": cat.level, "items": len(cat.items),
                    "families": [{"code": f.code, "name": {"zh-CN": f.name.zh, "en": f.name.en},
                                  "items": sum(1 for i in cat.items if i.family == f.code)} for f in cat.families],
                    "automated_items": sum(1 for i in cat.items if mapping[i.id])})
    return out


@requires("compliance.read")
def get_evidence(settings: Settings, actor: Actor, digest: str, store: Store | None = None) -> bytes:
    """An uploaded evidence file; inside a department scope only one that a result the caller
    may see cites (files are stored by content hash, shared by every department)."""
    from compliance.evidence import read_attachment

    content = read_attachment(settings, digest)
    if active_for(settings.index("compliance-results")) is not None:
        idx = ComplianceIndices(store, settings) if store is not None else None
        if idx is None or not idx.cites_evidence(digest):
            raise NotFound(f"No evidence file {digest}.")
    return content
