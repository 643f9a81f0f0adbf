"""Platform health for operators: Elasticsearch, the detection scheduler, collectors.

Other parts report through *probes*: ``create_app(..., health_probes={"scheduler": fn,
"collectors": fn})`` where each ``fn()`` returns a JSON-able dict with at least ``status``
(``ok`` | ``degraded`` | ``down``). A probe that raises is reported as ``down`` with its message.
Without an injected one, ``collectors`` reads the collector daemon's status file and ``audit``
shows the audit records the API failed to write."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from collectors.service import collector_status, unassigned_events
from core.auditing import Actor
from core.errors import SocError
from core.es import Store
from core.event_lifecycle import last_maintenance
from core.event_migrate import storage_status
from core.i18n import t
from core.permissions import requires
from core.settings import Settings
from core.timeutil import iso


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


def collectors_probe(settings: Settings) -> Callable[[], dict[str, Any]]:
    """The collector daemon (``soc collect run``, its own process) from its status file."""

    def probe() -> dict[str, Any]:
        status = collector_status(settings)
        out = {k: status.get(k) for k in ("state", "running", "age_seconds", "spool_pending_bytes", "last_error",
                                          "es_unavailable")}
        out["inputs"] = sorted(status.get("inputs") or {})
        if status.get("state") == "never started":
            return {**out, "status": "unknown",
                    "message": "no collector daemon has run with this data directory (soc collect run)"}
        if not status["running"]:
            return {**out, "status": "down", "message": f"the collector daemon is not running (last state "
                                                        f"{status.get('state')})"}
        # A live process whose status file stopped moving is stuck somewhere.
        stale = float(status.get("age_seconds") or 0) > max(30.0, 10 * settings.collect.status_seconds)
        if stale or status.get("es_unavailable"):
            reason = "its status file is not updated" if stale else "Elasticsearch is not taking its events"
            return {**out, "status": "degraded", "message": f"the collector daemon runs but {reason}"}
        return {**out, "status": "ok"}

    return probe


def organizations_probe(store: Store, settings: Settings) -> Callable[[], dict[str, Any]]:
    """Events without a department: stored ones (tagged at ingest, whoever shipped them) and
    what the running collector daemon counted since it started. Not a fault (status stays
    ``ok``): a host nobody mapped yet, shown so an operator maps it."""

    def probe() -> dict[str, Any]:
        stored = unassigned_events(store, settings)
        inputs = (collector_status(settings).get("inputs") or {}).values()
        since_start = sum(int(row.get("unassigned", 0) or 0) for row in inputs)
        return {"status": "ok", "unassigned_events": stored, "collector_unassigned": since_start,
                "message": t("health.organizations.unassigned", settings.language, n=stored)}

    return probe


class AuditWriteFailures:
    """Audit records the API could not write (request records, anonymous-failure aggregates).

    The response is already sent when the record is written, so the failure cannot be answered;
    it is logged, counted, and health shows it (``degraded`` while the last one is under an hour
    old) so an operator finds the gap in the trail.
    """

    RECENT_SECONDS = 3600.0

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.count = 0
        self.last_error: str | None = None
        self.last_at: float | None = None

    def note(self, what: str, exc: BaseException) -> None:
        message = f"{what}: {type(exc).__name__}: {getattr(exc, 'message', None) or exc}"[:500]
        _log.error("audit record not written: %s", message)
        with self._lock:
            self.count += 1
            self.last_error = message
            self.last_at = self._clock()

    def probe(self) -> dict[str, Any]:
        with self._lock:
            count, error, at = self.count, self.last_error, self.last_at
        if at is None:
            return {"status": "ok", "failed_writes": 0}
        recent = self._clock() - at < self.RECENT_SECONDS
        return {"status": "degraded" if recent else "ok", "failed_writes": count, "last_error": error,
                "last_failure": iso(datetime.fromtimestamp(at, UTC)),
                "message": f"{count} audit records could not be written since the API started"}


_log = logging.getLogger("qinglang.api.audit")
