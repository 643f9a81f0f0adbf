"""Backup plans: YAML (through ``core.yamlio``) or API data, validated into ``models.Plan``.

A plans file is ``plans: [ {id: ..., assets: {...}, ...}, ... ]``. Every problem is an
``InvalidInput`` naming the plan and the field, so a typo never turns into a silent no-op.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backup_orchestrator.models import (
    DISTRICT,
    PLAN_ID_PATTERN,
    DrillSpec,
    Objectives,
    Plan,
    PostgresAsset,
    Repositories,
    Retention,
    Schedule,
)
from core import yamlio
from core.errors import InvalidInput
from core.orgmap import ORG_ID_PATTERN

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PLAN_KEYS = {"id", "description", "assets", "schedule", "retention", "primary", "offsite", "objectives", "drill",
              "organization"}


def parse_duration(value: Any, where: str) -> int:
    """``90``, ``"90s"``, ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"`` → seconds (> 0)."""
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: expected a duration like 30m, 24h or 7d, got {value!r}.")
    if isinstance(value, int):
        seconds = value
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", str(value))
        if not m:
            raise InvalidInput(f"{where}: expected a duration like 30m, 24h or 7d, got {value!r}.")
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise InvalidInput(f"{where}: the duration must be positive.")
    return seconds


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where}: expected a mapping, got {type(value).__name__}.")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInput(f"{where}: expected a list of non-empty strings.")
    return tuple(v.strip() for v in value)


def _count(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 10000:
        raise InvalidInput(f"{where}: expected a whole number between 0 and 10000.")
    return value


def _unknown(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(str(k) for k in data if k not in allowed)
    if extra:
        raise InvalidInput(f"{where}: unknown field(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}.")


def _repos(value: Any, where: str) -> Repositories:
    data = _mapping(value, where)
    _unknown(data, {"elasticsearch", "restic", "ssh_config", "limit_upload_kib"}, where)
    es = data.get("elasticsearch")
    restic = data.get("restic")
    ssh_config = data.get("ssh_config")
    for key, v in (("elasticsearch", es), ("restic", restic), ("ssh_config", ssh_config)):
        if v is not None and (not isinstance(v, str) or not v.strip() or "\0" in v):
            raise InvalidInput(f"{where}.{key}: expected a path.")
    if isinstance(es, str) and ".." in Path(es).parts:
        raise InvalidInput(f"{where}.elasticsearch: '..' is not allowed in a repository location.")
    if isinstance(restic, str) and restic.startswith("sftp:") and not re.fullmatch(r"sftp:[\w.@-]+:/\S+", restic):
        raise InvalidInput(f"{where}.restic: an SFTP repository is sftp:HOST:/absolute/path (HOST from ssh_config).")
    if ssh_config is not None and not (isinstance(restic, str) and restic.startswith("sftp:")):
        raise InvalidInput(f"{where}.ssh_config: only for an sftp: restic repository.")
    limit = data.get("limit_upload_kib")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise InvalidInput(f"{where}.limit_upload_kib: a positive whole number of KiB/s.")
    return Repositories(es_location=es, restic=restic, ssh_config=ssh_config, limit_upload_kib=limit)


def parse_plan(data: Any, *, source: str = "file") -> Plan:
    if not isinstance(data, Mapping):
        raise InvalidInput("A backup plan must be a mapping with at least an id and assets.")
    plan_id = data.get("id")
    if not isinstance(plan_id, str) or not re.fullmatch(PLAN_ID_PATTERN, plan_id):
        raise InvalidInput(f"Plan id {plan_id!r} is invalid: use lowercase letters, digits, '-' and '_' (max 63).")
    where = f"plan {plan_id}"
    _unknown(data, _PLAN_KEYS, where)
    assets = _mapping(data.get("assets"), f"{where}.assets")
    _unknown(assets, {"elasticsearch", "paths", "postgres"}, f"{where}.assets")
    es = _mapping(assets.get("elasticsearch"), f"{where}.assets.elasticsearch")
    _unknown(es, {"indices"}, f"{where}.assets.elasticsearch")
    indices = _strings(es.get("indices"), f"{where}.assets.elasticsearch.indices")
    for pattern in indices:
        if pattern.startswith(("-", "_", ".")) or "," in pattern or " " in pattern:
            raise InvalidInput(f"{where}: index pattern {pattern!r} is not allowed (one pattern per entry).")
    paths = _strings(assets.get("paths"), f"{where}.assets.paths")
    for p in paths:
        if not Path(p).is_absolute():
            raise InvalidInput(f"{where}.assets.paths: {p!r} must be an absolute path.")
    postgres = None
    if assets.get("postgres") is not None:
        pg = _mapping(assets.get("postgres"), f"{where}.assets.postgres")
        _unknown(pg, {"database", "host", "port", "user"}, f"{where}.assets.postgres")
        if not isinstance(pg.get("database"), str) or not pg["database"]:
            raise InvalidInput(f"{where}.assets.postgres.database: name the database to dump.")
        postgres = PostgresAsset(database=pg["database"], host=pg.get("host"),
                                 port=int(pg["port"]) if pg.get("port") is not None else None, user=pg.get("user"))
    if not indices and not paths and postgres is None:
        raise InvalidInput(f"{where}: declare at least one asset (assets.elasticsearch.indices, assets.paths "
                           "or assets.postgres).")

    sched = _mapping(data.get("schedule"), f"{where}.schedule")
    _unknown(sched, {"every", "cron"}, f"{where}.schedule")
    cron = sched.get("cron")
    if cron is not None:
        _validate_cron(str(cron), f"{where}.schedule.cron")
    schedule = Schedule(
        every_seconds=parse_duration(sched["every"], f"{where}.schedule.every") if sched.get("every") else None,
        cron=str(cron) if cron else None,
    )

    ret = _mapping(data.get("retention"), f"{where}.retention")
    _unknown(ret, {"keep_last", "keep_daily", "keep_weekly", "keep_monthly"}, f"{where}.retention")
    retention = Retention(**{k: _count(ret.get(k), f"{where}.retention.{k}")
                             for k in ("keep_last", "keep_daily", "keep_weekly", "keep_monthly")})

    primary = _repos(data.get("primary"), f"{where}.primary")
    offsite = _repos(data["offsite"], f"{where}.offsite") if data.get("offsite") is not None else None
    if offsite is not None and offsite == primary and (primary.es_location or primary.restic):
        raise InvalidInput(f"{where}: the offsite repository must differ from the primary one.")

    obj = _mapping(data.get("objectives"), f"{where}.objectives")
    _unknown(obj, {"rpo", "rto"}, f"{where}.objectives")
    objectives = Objectives(
        rpo_seconds=parse_duration(obj.get("rpo", "24h"), f"{where}.objectives.rpo"),
        rto_seconds=parse_duration(obj.get("rto", "1h"), f"{where}.objectives.rto"),
    )

    dr = _mapping(data.get("drill"), f"{where}.drill")
    _unknown(dr, {"every", "queries", "check_subset"}, f"{where}.drill")
    queries = dr.get("queries") or []
    if not isinstance(queries, list) or not all(isinstance(q, Mapping) for q in queries):
        raise InvalidInput(f"{where}.drill.queries: expected a list of Elasticsearch query objects.")
    subset = dr.get("check_subset")
    if subset is not None and not re.fullmatch(r"\d+(\.\d+)?%|\d+/\d+", str(subset)):
        raise InvalidInput(f"{where}.drill.check_subset: use a percentage like 10% or n/t like 1/5.")
    drill = DrillSpec(
        every_seconds=parse_duration(dr["every"], f"{where}.drill.every") if dr.get("every") else None,
        queries=tuple(dict(q) for q in queries),
        check_subset=str(subset) if subset is not None else None,
    )
    description = data.get("description") or ""
    organization = data.get("organization", DISTRICT)
    if not isinstance(organization, str) or not re.fullmatch(ORG_ID_PATTERN, organization):
        raise InvalidInput(f"{where}.organization: a department id such as {DISTRICT} or jiaowei, got {organization!r}.")
    if organization != DISTRICT and indices:
        # An Elasticsearch snapshot holds every department's documents of those indices.
        raise InvalidInput(f"{where}.assets.elasticsearch: Elasticsearch snapshots are the district's; a department plan "
                           f"({organization}) protects its own paths or databases only.")
    return Plan(id=plan_id, description=str(description), es_indices=indices, paths=paths, postgres=postgres,
                schedule=schedule, retention=retention, primary=primary, offsite=offsite,
                objectives=objectives, drill=drill, source=source, organization=organization)


def _validate_cron(expr: str, where: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as exc:
        raise InvalidInput(f"{where}: invalid cron expression {expr!r} ({exc}); use 5 fields like '0 2 * * *'.") from exc


def parse_plans(data: Any, source: str) -> dict[str, Plan]:
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not isinstance(data.get("plans"), list):
        raise InvalidInput(f"{source}: a plans file is a mapping with a 'plans:' list.")
    plans: dict[str, Plan] = {}
    for item in data["plans"]:
        plan = parse_plan(item)
        if plan.id in plans:
            raise InvalidInput(f"{source}: plan id {plan.id!r} is declared twice.")
        plans[plan.id] = plan
    return plans


def load_plans_file(path: Path) -> dict[str, Plan]:
    return parse_plans(yamlio.load_file(path), str(path))


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan in the same shape as the YAML (for the API and for storing API-declared plans)."""
    def repos(r: Repositories | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {k: v for k, v in (("elasticsearch", r.es_location), ("restic", r.restic), ("ssh_config", r.ssh_config),
                                  ("limit_upload_kib", r.limit_upload_kib)) if v}

    assets: dict[str, Any] = {}
    if plan.es_indices:
        assets["elasticsearch"] = {"indices": list(plan.es_indices)}
    if plan.paths:
        assets["paths"] = list(plan.paths)
    if plan.postgres:
        assets["postgres"] = {k: v for k, v in vars(plan.postgres).items() if v is not None}
    out: dict[str, Any] = {
        "id": plan.id, "description": plan.description, "organization": plan.organization, "assets": assets,
        "schedule": {k: v for k, v in (("every", plan.schedule.every_seconds), ("cron", plan.schedule.cron)) if v},
        "retention": vars(plan.retention).copy(),
        "primary": repos(plan.primary),
        "objectives": {"rpo": plan.objectives.rpo_seconds, "rto": plan.objectives.rto_seconds},
        "drill": {k: v for k, v in (("every", plan.drill.every_seconds), ("queries", list(plan.drill.queries)),
                                    ("check_subset", plan.drill.check_subset)) if v},
    }
    if plan.offsite is not None:
        out["offsite"] = repos(plan.offsite)
    return out
