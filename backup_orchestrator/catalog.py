"""Runs, drills and API-declared plans in Elasticsearch (``<prefix>-backups-*``).

The runs index is the catalog of recovery points: retention, drills and RPO all read it.
Field names are flat (``plan_id``, ``status``, ``started``…) so compliance checks can query
them without knowing this module.
"""

from __future__ import annotations

from typing import Any

from core.es import Store

_KW = {"type": "keyword"}
_DATE = {"type": "date"}
_LONG = {"type": "long"}
_FLOAT = {"type": "float"}
_OFF = {"type": "object", "enabled": False}
_ORG = {"properties": {"id": _KW}}

RUNS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "@timestamp": _DATE, "run_id": _KW, "plan_id": _KW, "status": _KW, "trigger": _KW, "actor": _KW,
        "started": _DATE, "ended": _DATE, "recovery_point_time": _DATE, "duration_seconds": _FLOAT,
        "size_bytes": _LONG, "added_bytes": _LONG, "stage": _KW, "error": {"type": "text"}, "pruned": {"type": "boolean"},
        "pruned_at": _DATE, "progress": _OFF, "es": _OFF, "restic": _OFF, "manifest": _OFF,
        "offsite": {"properties": {"status": _KW, "lag_seconds": _FLOAT, "error": {"type": "text"}}},
        "organization": _ORG,
    },
}

DRILLS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "@timestamp": _DATE, "drill_id": _KW, "plan_id": _KW, "run_id": _KW, "status": _KW, "source": _KW,
        "actor": _KW, "trigger": _KW, "started": _DATE, "ended": _DATE, "recovery_point_time": _DATE,
        "rpo_seconds": _FLOAT, "rto_seconds": _FLOAT, "rpo_met": {"type": "boolean"}, "rto_met": {"type": "boolean"},
        "rto": {"properties": {"fetch_seconds": _FLOAT, "restore_seconds": _FLOAT, "verify_seconds": _FLOAT}},
        "objectives": {"properties": {"rpo_seconds": _FLOAT, "rto_seconds": _FLOAT}},
        "failed_check": _KW, "failed_checks": _KW, "stage": _KW, "error": {"type": "text"},
        "checks": {"properties": {"name": _KW, "status": _KW, "detail": {"type": "text"}, "seconds": _FLOAT}},
        "progress": _OFF, "restored": _OFF, "organization": _ORG,
    },
}

RESTORES_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "@timestamp": _DATE, "restore_id": _KW, "plan_id": _KW, "run_id": _KW, "status": _KW, "source": _KW,
        "actor": _KW, "dry_run": {"type": "boolean"}, "started": _DATE, "ended": _DATE, "recovery_point_time": _DATE,
        "rpo_seconds": _FLOAT, "rto_seconds": _FLOAT, "rpo_met": {"type": "boolean"}, "rto_met": {"type": "boolean"},
        "objectives": {"properties": {"rpo_seconds": _FLOAT, "rto_seconds": _FLOAT}},
        "failed_check": _KW, "error": {"type": "text"},
        "checks": {"properties": {"name": _KW, "status": _KW, "detail": {"type": "text"}, "seconds": _FLOAT}},
        "changes": _OFF, "request": _OFF, "organization": _ORG,
    },
}

PLANS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"plan_id": _KW, "updated": _DATE, "actor": _KW, "plan": _OFF, "organization": _ORG},
}


# (store, runs index) pairs already checked in this process: saves three requests per call.
_ENSURED: set[tuple[int, str]] = set()


class Catalog:
    def __init__(self, store: Store, prefix: str) -> None:
        self.store = store
        self.runs_index = f"{prefix}-backups-runs"
        self.drills_index = f"{prefix}-backups-drills"
        self.plans_index = f"{prefix}-backups-plans"
        self.restores_index = f"{prefix}-backups-restores"
        self._ready = False

    def ensure(self) -> None:
        if self._ready or (id(self.store), self.runs_index) in _ENSURED:
            return
        for name, mapping in ((self.runs_index, RUNS_MAPPING), (self.drills_index, DRILLS_MAPPING),
                              (self.plans_index, PLANS_MAPPING), (self.restores_index, RESTORES_MAPPING)):
            # Once per process (``_ENSURED``): creates a missing index, and gives an existing one
            # the fields added since (organization.id), which the department filter needs.
            self.store.ensure_index(name, mappings=mapping)
        self._ready = True
        _ENSURED.add((id(self.store), self.runs_index))

    # -- runs ------------------------------------------------------------------------------

    def put_run(self, doc: dict[str, Any], *, refresh: bool = True) -> None:
        self.ensure()
        self.store.put(self.runs_index, doc["run_id"], doc, refresh=refresh)

    def update_run(self, run_id: str, partial: dict[str, Any], *, refresh: bool = False) -> None:
        # Progress needs no refresh (GET by id is real-time); state changes that searches
        # decide on (pruned) pass refresh=True.
        self.store.update(self.runs_index, run_id, partial, refresh=refresh)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        self.ensure()
        hit = self.store.get(self.runs_index, run_id)
        return dict(hit["_source"]) if hit else None

    def runs(self, plan_id: str | None = None, *, status: str | None = None, include_pruned: bool = True,
             limit: int = 50, with_manifest: bool = False) -> list[dict[str, Any]]:
        self.ensure()
        filters: list[dict[str, Any]] = []
        if plan_id:
            filters.append({"term": {"plan_id": plan_id}})
        if status:
            filters.append({"term": {"status": status}})
        must_not = [] if include_pruned else [{"term": {"pruned": True}}]
        body = {"size": limit, "query": {"bool": {"filter": filters, "must_not": must_not}},
                "sort": [{"recovery_point_time": {"order": "desc", "unmapped_type": "date"}},
                         {"started": {"order": "desc"}}]}
        if not with_manifest:
            body["_source"] = {"excludes": ["manifest"]}
        resp = self.store.search(self.runs_index, body)
        return [dict(h["_source"]) for h in resp["hits"]["hits"]]

    def recovery_points(self, plan_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        return self.runs(plan_id, status="success", include_pruned=False, limit=limit, with_manifest=True)

    def has_success(self, plan_id: str) -> bool:
        self.ensure()
        return self.store.count(self.runs_index, {"bool": {"filter": [{"term": {"plan_id": plan_id}},
                                                                     {"term": {"status": "success"}}]}}) > 0

    # -- drills ----------------------------------------------------------------------------

    def put_drill(self, doc: dict[str, Any], *, refresh: bool = True) -> None:
        self.ensure()
        self.store.put(self.drills_index, doc["drill_id"], doc, refresh=refresh)

    def get_drill(self, drill_id: str) -> dict[str, Any] | None:
        self.ensure()
        hit = self.store.get(self.drills_index, drill_id)
        return dict(hit["_source"]) if hit else None

    def drills(self, plan_id: str | None = None, *, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        self.ensure()
        filters: list[dict[str, Any]] = []
        if plan_id:
            filters.append({"term": {"plan_id": plan_id}})
        if status:
            filters.append({"term": {"status": status}})
        body = {"size": limit, "query": {"bool": {"filter": filters}}, "sort": [{"started": {"order": "desc"}}]}
        resp = self.store.search(self.drills_index, body)
        return [dict(h["_source"]) for h in resp["hits"]["hits"]]

    # -- restores ----------------------------------------------------------------------------

    def put_restore(self, doc: dict[str, Any]) -> None:
        self.ensure()
        self.store.put(self.restores_index, doc["restore_id"], doc, refresh=True)

    def restores(self, plan_id: str | None = None, *, limit: int = 50) -> list[dict[str, Any]]:
        self.ensure()
        filters = [{"term": {"plan_id": plan_id}}] if plan_id else []
        body = {"size": limit, "query": {"bool": {"filter": filters}}, "sort": [{"started": {"order": "desc"}}]}
        return [dict(h["_source"]) for h in self.store.search(self.restores_index, body)["hits"]["hits"]]

    # -- API-declared plans ----------------------------------------------------------------

    def stored_plans(self) -> list[dict[str, Any]]:
        self.ensure()
        resp = self.store.search(self.plans_index, {"size": 1000, "sort": [{"plan_id": "asc"}]})
        return [dict(h["_source"]) for h in resp["hits"]["hits"]]

    def put_plan(self, plan_id: str, doc: dict[str, Any]) -> None:
        self.ensure()
        self.store.put(self.plans_index, plan_id, doc, refresh=True)

    def delete_plan(self, plan_id: str) -> bool:
        self.ensure()
        return self.store.delete(self.plans_index, plan_id, refresh=True)
