"""Compliance indices: ``<prefix>-compliance-runs`` (one document per run) and
``<prefix>-compliance-results`` (check, item and manual documents of every run)."""

from __future__ import annotations

from typing import Any

from core.errors import NotFound
from core.es import Store
from core.ids import stable_id
from core.settings import Settings

_KW = {"type": "keyword"}
_DATE = {"type": "date"}
_OPAQUE = {"type": "object", "enabled": False}

RUNS_MAPPING = {"dynamic": False, "properties": {
    "id": _KW, "catalog": _KW, "level": {"type": "integer"}, "targets": _KW, "status": _KW, "actor": _KW,
    "started_at": _DATE, "finished_at": _DATE, "previous_run": _KW, "errors": {"type": "text"},
    "score": _OPAQUE, "counts": _OPAQUE, "check_seconds": _OPAQUE, "scorer": _KW,
    "overall": {"type": "float"}, "band": _KW, "organization": {"properties": {"id": _KW}},
    "system": {"properties": {"id": _KW, "level": {"type": "integer"}, "name": _OPAQUE}}}}

RESULTS_MAPPING = {"dynamic": False, "properties": {
    "run_id": _KW, "kind": _KW, "item_id": _KW, "check_id": _KW, "checks": _KW, "asset": _KW, "family": _KW,
    "result": _KW, "source": _KW, "detail": {"type": "text"}, "evidence": _OPAQUE, "assessor": _KW,
    "assessed_at": _DATE, "time": _DATE, "seconds": {"type": "float"}, "error": {"type": "text"},
    "carried_from": _KW, "note": {"type": "text"}, "organization": {"properties": {"id": _KW}},
    "system_id": _KW, "evidence_sha256": _KW}}


class ComplianceIndices:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.runs = settings.index("compliance-runs")
        self.results = settings.index("compliance-results")

    def ensure(self) -> None:
        self.store.ensure_index(self.runs, mappings=RUNS_MAPPING)
        self.store.ensure_index(self.results, mappings=RESULTS_MAPPING)

    def put_run(self, run: dict[str, Any], *, refresh: bool | str = True) -> None:
        self.store.put(self.runs, run["id"], run, refresh=refresh)

    def get_run(self, run_id: str) -> dict[str, Any]:
        doc = self.store.get(self.runs, run_id)
        if doc is None:
            raise NotFound(f"No compliance run {run_id!r}; list runs with `soc compliance runs`.")
        return dict(doc["_source"])

    def list_runs(self, limit: int = 20, catalog: str | None = None, system: str | None = None) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = [{"term": {"catalog": catalog}}] if catalog else []
        if system:
            filters.append({"term": {"system.id": system}})
        query: dict[str, Any] = {"bool": {"filter": filters}}
        resp = self.store.search(self.runs, {"size": limit, "query": query,
                                             "sort": [{"started_at": {"order": "desc", "unmapped_type": "date"}}]})
        return [h["_source"] for h in resp["hits"]["hits"]]

    def previous_finished(self, catalog: str, before: str, exclude: str,
                          system: str | None = None) -> dict[str, Any] | None:
        """The run this one is compared with (and carries manual results from): the same
        system's, or for a run without a system the latest other run without one."""
        filters: list[dict[str, Any]] = [{"term": {"catalog": catalog}}, {"term": {"status": "finished"}},
                                         {"range": {"started_at": {"lt": before}}}]
        must_not: list[dict[str, Any]] = [{"term": {"id": exclude}}]
        if system:
            filters.append({"term": {"system.id": system}})
        else:
            must_not.append({"exists": {"field": "system.id"}})
        resp = self.store.search(self.runs, {"size": 1, "query": {"bool": {"filter": filters, "must_not": must_not}},
            "sort": [{"started_at": {"order": "desc", "unmapped_type": "date"}}]})
        hits = resp["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    def latest_by_system(self, system_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The newest finished run of each system (one search, collapsed on the system id)."""
        if not system_ids or not self.store.index_exists(self.runs):
            return {}
        resp = self.store.search(self.runs, {
            "size": len(system_ids),
            "query": {"bool": {"filter": [{"terms": {"system.id": system_ids}}, {"term": {"status": "finished"}}]}},
            "collapse": {"field": "system.id"},
            "sort": [{"started_at": {"order": "desc"}}],
            "_source": {"excludes": ["check_seconds", "score.families"]}})
        return {h["_source"]["system"]["id"]: dict(h["_source"]) for h in resp["hits"]["hits"]}

    @staticmethod
    def doc_id(run_id: str, kind: str, key: str, asset: str) -> str:
        return stable_id("compliance", run_id, kind, key, asset)

    def write_results(self, docs: list[dict[str, Any]]) -> None:
        rows = [(self.results, self.doc_id(d["run_id"], d["kind"], d.get("item_id") or d.get("check_id") or "", d["asset"]), d)
                for d in docs]
        for start in range(0, len(rows), 500):
            result = self.store.bulk_index(rows[start:start + 500], refresh=True)
            if not result.all_stored:
                bad = result.rejected + result.retry
                raise RuntimeError(f"{len(bad)} compliance results were not stored: {bad[0].error if bad else ''}")

    def cites_evidence(self, digest: str) -> bool:
        return self.store.index_exists(self.results) and self.store.count(
            self.results, {"term": {"evidence_sha256": digest}}) > 0

    def add_manual(self, doc: dict[str, Any], manual_id: str) -> None:
        self.store.put(self.results, manual_id, doc, refresh=True)

    def results_of(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"bool": {"filter": [{"term": {"run_id": run_id}}]}}
        if kind:
            query["bool"]["filter"].append({"term": {"kind": kind}})
        return [h["_source"] for h in self.store.scan(self.results, query)]
