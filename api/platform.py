"""Platform health for operators: Elasticsearch, the detection scheduler, collectors.

Other parts report through *probes*: ``create_app(..., health_probes={"scheduler": fn,
"collectors": fn})`` where each ``fn()`` returns a JSON-able dict with at least ``status``
(``ok`` | ``degraded`` | ``down``). A probe that raises is reported as ``down`` with its message."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.auditing import Actor
from core.errors import SocError
from core.es import Store
from core.event_lifecycle import last_maintenance
from core.event_migrate import storage_status
from core.permissions import requires
from core.settings import Settings


@requires("platform.health")
def platform_health(store: Store, probes: Mapping[str, Callable[[], dict[str, Any]]], *,
                    actor: Actor, settings: Settings | None = None) -> dict[str, Any]:
    components: dict[str, dict[str, Any]] = {}
    try:
        health = store.health()
        components["elasticsearch"] = {
            "status": {"green": "ok", "yellow": "ok", "red": "down"}.get(str(health.get("status")), "degraded"),
            "cluster_status": health.get("status"), "nodes": health.get("number_of_nodes"), "url": store.url,
        }
        if settings is not None:
            storage = storage_status(store, settings)
            components["elasticsearch"].update(storage)
            maintenance = last_maintenance()
            if maintenance:
                components["elasticsearch"]["maintenance"] = maintenance
                if maintenance.get("errors") or maintenance.get("refused"):
                    components["elasticsearch"]["status"] = "degraded"
                    components["elasticsearch"]["message"] = "; ".join(
                        [*maintenance.get("refused", []), *maintenance.get("errors", [])])
            if storage["shards"]["room"] <= 0:
                # New datasets, rollovers and imports are refused from here on: someone must act.
                components["elasticsearch"]["status"] = "degraded"
                components["elasticsearch"]["message"] = (
                    "The shard budget is used up: imports and rollovers are refused. Run `soc es migrate`, "
                    "set SOC_EVENTS_RETENTION_DAYS, or raise SOC_EVENTS_SHARD_BUDGET.")
    except SocError as exc:
        components["elasticsearch"] = {"status": "down", "message": exc.message, "url": store.url}
    for name, probe in sorted(probes.items()):
        try:
            result = dict(probe())
            result.setdefault("status", "ok")
        except Exception as exc:  # noqa: BLE001 - a failing probe is a finding, not a crash
            result = {"status": "down", "message": str(exc)}
        components[name] = result
    for expected in ("scheduler", "collectors"):
        components.setdefault(expected, {"status": "unknown", "message": "not running in this process"})
    statuses = {c["status"] for c in components.values()}
    overall = "down" if "down" in statuses else ("degraded" if statuses - {"ok", "unknown"} else "ok")
    return {"status": overall, "components": components}


def scheduler_probe(scheduler: Any) -> Callable[[], dict[str, Any]]:
    """A probe for an APScheduler ``BaseScheduler`` (what ``soc up`` passes as ``scheduler=``)."""

    def probe() -> dict[str, Any]:
        running = bool(getattr(scheduler, "running", False))
        jobs = []
        for job in scheduler.get_jobs() if hasattr(scheduler, "get_jobs") else []:
            nxt = getattr(job, "next_run_time", None)
            jobs.append({"id": job.id, "next_run": nxt.isoformat() if nxt else None})
        return {"status": "ok" if running else "down", "running": running, "jobs": jobs}

    return probe
