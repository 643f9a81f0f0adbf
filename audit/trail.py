"""The audit trail: hash-chained records in ``<prefix>-audit``, mirrored line by line to an
append-only local file (``settings.audit_mirror_path``). Implements ``core.auditing.Auditor``.

Appends from several processes on one host (API, CLI, scheduler) are serialised by an
exclusive ``flock`` on the mirror file, so the file's line order is the chain order.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from audit.chain import GENESIS, authentic, check_chain, record_id, seal
from core.auditing import Actor
from core.errors import Conflict, InvalidInput, PermissionDenied, SocError, Unavailable
from core.es import Store
from core.permissions import requires
from core.settings import Settings
from core.timeutil import iso, parse_iso, utcnow

AUDIT_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "seq": {"type": "long"}, "time": {"type": "date"}, "actor": {"type": "keyword"},
        "role": {"type": "keyword"}, "address": {"type": "keyword"}, "action": {"type": "keyword"},
        "target": {"type": "keyword"}, "outcome": {"type": "keyword"},
        "detail": {"type": "object", "enabled": False},
        "prev_hash": {"type": "keyword"}, "hash": {"type": "keyword"},
    },
}
_MAX_DETAIL_BYTES = 16 * 1024
# Small trails are read in one search; larger ones through a point in time.
_ONE_PAGE = 10_000


def _jsonable(detail: dict[str, Any] | None) -> dict[str, Any]:
    data = orjson.loads(orjson.dumps(detail or {}, default=str))
    if len(orjson.dumps(data)) > _MAX_DETAIL_BYTES:
        return {"truncated": True, "keys": sorted(data)[:50]}
    return dict(data)


def _parse_time(text: str, field: str) -> str:
    try:
        return iso(parse_iso(text))
    except ValueError as exc:
        raise InvalidInput(f"{field}: give an ISO 8601 time such as 2026-01-31T08:00:00Z.",
                           detail=[{"field": field, "message": "not an ISO 8601 time"}]) from exc


def _seq_of(record: dict[str, Any]) -> int:
    seq = record.get("seq")
    return seq if isinstance(seq, int) else -1


class AuditTrail:
    def __init__(self, settings: Settings, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.index = settings.index("audit")
        self.mirror_path: Path = settings.audit_mirror_path
        self._secret = settings.audit.secret_key.get_secret_value().encode()
        self._lock = threading.Lock()
        self._ready = False
        self._head: tuple[int, str] | None = None
        self._mirror_size = -1

    # -- writing ----------------------------------------------------------------------------

    def _ensure(self) -> None:
        if not self._ready:
            self.store.ensure_index(self.index, mappings=AUDIT_MAPPING)
            self.mirror_path.parent.mkdir(parents=True, exist_ok=True)
            self._ready = True

    @contextmanager
    def _mirror_locked(self) -> Iterator[int]:
        fd = os.open(self.mirror_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # releases the lock

    def _head_from_mirror(self) -> tuple[int, str] | None:
        size = self.mirror_path.stat().st_size
        if size == 0:
            return None
        with open(self.mirror_path, "rb") as fh:
            fh.seek(max(0, size - 65536))
            lines = [ln for ln in fh.read().splitlines() if ln.strip()]
        try:
            last = orjson.loads(lines[-1])
            return int(last["seq"]), str(last["hash"])
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise Unavailable(f"The audit mirror {self.mirror_path} ends with an unreadable line; run "
                              "`soc audit verify` and restore the file before recording more.") from exc

    def _head_from_store(self) -> tuple[int, str] | None:
        self.store.refresh(self.index)
        resp = self.store.search(self.index, {"size": 1, "sort": [{"seq": "desc"}],
                                              "_source": ["seq", "hash"]})
        hits = resp["hits"]["hits"]
        if not hits:
            return None
        return int(hits[0]["_source"]["seq"]), str(hits[0]["_source"]["hash"])

    def record(self, actor: Actor, action: str, target: str, outcome: str = "success",
               detail: dict[str, Any] | None = None) -> None:
        self.append(actor, action, target, outcome, detail)

    def append(self, actor: Actor, action: str, target: str, outcome: str = "success",
               detail: dict[str, Any] | None = None) -> dict[str, Any]:
        self._ensure()
        with self._lock, self._mirror_locked() as fd:
            size = os.fstat(fd).st_size
            if self._head is None or size != self._mirror_size:
                self._head = self._head_from_mirror() or self._head_from_store()
            seq, prev_hash = self._head or (0, GENESIS)
            record: dict[str, Any] = {
                "seq": seq + 1, "time": iso(self.clock()), "actor": actor.name, "role": actor.role,
                "address": actor.address, "action": action, "target": str(target), "outcome": outcome,
                "detail": _jsonable(detail), "prev_hash": prev_hash,
            }
            record["hash"] = seal(self._secret, record)
            try:
                self.store.put(self.index, record_id(record["seq"]), record, create=True)
            except Conflict as exc:
                self._head = None
                raise Unavailable("The audit trail in Elasticsearch is ahead of the local mirror "
                                  f"({self.mirror_path}); run `soc audit verify` before continuing.") from exc
            os.write(fd, orjson.dumps(record) + b"\n")
            os.fsync(fd)
            self._mirror_size = os.fstat(fd).st_size
            self._head = (record["seq"], record["hash"])
            return record

    # -- reading ----------------------------------------------------------------------------

    @requires("audit.read")
    def search(self, *, actor: Actor, action: str | None = None, user: str | None = None,
               outcome: str | None = None, start: str | None = None, end: str | None = None,
               size: int = 50, search_after: int | None = None) -> dict[str, Any]:
        """Records newest first; page with ``search_after`` = the last ``seq`` seen."""
        self._ensure()
        filters: list[dict[str, Any]] = []
        for field, value in (("action", action), ("actor", user), ("outcome", outcome)):
            if value:
                filters.append({"term": {field: value}})
        if start or end:
            rng: dict[str, Any] = {}
            if start:
                rng["gte"] = _parse_time(start, "start")
            if end:
                rng["lte"] = _parse_time(end, "end")
            filters.append({"range": {"time": rng}})
        if search_after is not None:
            filters.append({"range": {"seq": {"lt": search_after}}})
        self.store.refresh(self.index)  # records are written without refresh; show the latest
        body = {"size": max(1, min(size, 500)), "sort": [{"seq": "desc"}],
                "query": {"bool": {"filter": filters}}, "track_total_hits": True}
        resp = self.store.search(self.index, body)
        items = [h["_source"] for h in resp["hits"]["hits"]]
        return {"total": resp["hits"]["total"]["value"], "items": items,
                "next": items[-1]["seq"] if len(items) == body["size"] else None}

    def _store_records(self) -> tuple[list[dict[str, Any]], list[str]]:
        self.store.refresh(self.index)
        records: list[dict[str, Any]] = []
        ids: list[str] = []
        first = self.store.search(self.index, {"size": _ONE_PAGE, "sort": [{"seq": "asc"}, {"hash": "asc"}],
                                               "track_total_hits": True})
        if first["hits"]["total"]["value"] <= _ONE_PAGE:
            hits = first["hits"]["hits"]
            return [h["_source"] for h in hits], [h["_id"] for h in hits]
        for hit in self.store.scan(self.index, {"match_all": {}}, sort=[{"seq": "asc"}, {"_shard_doc": "asc"}]):
            records.append(hit["_source"])
            ids.append(hit["_id"])
        return records, ids

    def _mirror_records(self) -> list[dict[str, Any]]:
        if not self.mirror_path.exists():
            return []
        out: list[dict[str, Any]] = []
        with open(self.mirror_path, "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    parsed = orjson.loads(line)
                    out.append(parsed if isinstance(parsed, dict) else {"_unreadable": True})
                except orjson.JSONDecodeError:
                    out.append({"_unreadable": True})
        return out

    def _purge_anchor(self, records: list[dict[str, Any]]) -> tuple[int, str]:
        """Where the Elasticsearch chain legitimately starts: 1, or after a sealed purge."""
        if not records or records[0].get("seq") == 1:
            return 1, GENESIS
        first = records[0]
        for rec in records:
            detail = rec.get("detail") or {}
            if (rec.get("action") == "audit.purge" and rec.get("outcome") == "success"
                    and detail.get("first_kept_seq") == first.get("seq")
                    and detail.get("first_kept_prev_hash") == first.get("prev_hash") and authentic(self._secret, rec)):
                return int(first["seq"]), str(first["prev_hash"])
        return 1, GENESIS

    @requires("audit.verify")
    def verify(self, *, actor: Actor) -> dict[str, Any]:
        """Check both copies; name the first modified, deleted, inserted or reordered record."""
        self._ensure()
        es_records, es_ids = self._store_records()
        mirror = self._mirror_records()
        problems: list[dict[str, Any]] = []
        start_seq, start_hash = self._purge_anchor(es_records)
        es_problem = check_chain(self._secret, es_records, es_ids, start_seq=start_seq, start_hash=start_hash)
        if es_problem:
            problems.append(es_problem.to_dict("elasticsearch"))
        mirror_problem = check_chain(self._secret, mirror)
        if mirror_problem:
            problems.append(mirror_problem.to_dict("mirror"))
        es_last = _seq_of(es_records[-1]) if es_records else start_seq - 1
        mirror_last = _seq_of(mirror[-1]) if mirror else 0
        if not es_problem and not mirror_problem and es_last != mirror_last:
            shorter, n = (("elasticsearch", es_last) if es_last < mirror_last else ("mirror", mirror_last))
            problems.append({"source": shorter, "kind": "deleted", "position": n + 1, "seq": n + 1,
                             "record_id": record_id(n + 1),
                             "message": f"record seq={n + 1} and later are missing from the {shorter} copy "
                                        f"(the other copy ends at seq={max(es_last, mirror_last)})."})
        elif not es_problem and not mirror_problem and es_records and es_records[-1].get("hash") != mirror[-1].get("hash"):
            problems.append({"source": "mirror", "kind": "modified", "position": len(mirror),
                             "seq": mirror[-1].get("seq"), "record_id": None,
                             "message": "the two copies end in different records."})
        result = {"ok": not problems, "records": {"elasticsearch": len(es_records), "mirror": len(mirror)},
                  "first_problem": problems[0] if problems else None, "problems": problems,
                  "verified_at": iso(self.clock())}
        try:
            self.record(actor, "audit.verify", self.index, outcome="success" if not problems else "failure",
                        detail={"problems": len(problems)})
        except SocError as exc:
            # A broken trail may refuse new records; the finding matters more than recording it.
            result["recorded"] = False
            result["record_error"] = exc.message
        return result

    # -- retention --------------------------------------------------------------------------

    @requires("audit.purge")
    def purge(self, before: str, *, actor: Actor) -> dict[str, Any]:
        """Delete records older than ``before``; refuses anything younger than the retention."""
        try:
            cutoff = parse_iso(before)
        except ValueError as exc:
            raise InvalidInput("Give the cutoff as an ISO 8601 time, e.g. 2025-01-01T00:00:00Z.") from exc
        oldest_allowed = self.clock() - timedelta(days=self.settings.audit.retention_days)
        if cutoff > oldest_allowed:
            self.record(actor, "audit.purge", self.index, outcome="denied", detail={"before": before})
            raise PermissionDenied(
                f"Audit records must be kept at least {self.settings.audit.retention_days} days (Cybersecurity "
                f"Law, six months); the cutoff must be on or before {iso(oldest_allowed)}.")
        self._ensure()
        self.store.refresh(self.index)
        query = {"range": {"time": {"lt": iso(cutoff)}}}
        # The chain after a purge starts at the first kept record; the sealed purge record names
        # it, so verification can tell this purge from someone deleting the head of the trail.
        kept = self.store.search(self.index, {"size": 1, "sort": [{"seq": "asc"}],
                                              "query": {"range": {"time": {"gte": iso(cutoff)}}}})["hits"]["hits"]
        anchor = ({"first_kept_seq": kept[0]["_source"]["seq"], "first_kept_prev_hash": kept[0]["_source"]["prev_hash"]}
                  if kept else {})
        deleted = 0
        while True:  # no delete-by-query on the minimal node: search, delete, repeat
            hits = self.store.search(self.index, {"size": 1000, "query": query, "_source": False})["hits"]["hits"]
            if not hits:
                break
            for hit in hits:
                deleted += int(self.store.delete(self.index, hit["_id"]))
            self.store.refresh(self.index)
        self.record(actor, "audit.purge", self.index, detail={"before": iso(cutoff), "deleted": deleted, **anchor})
        return {"deleted": deleted, "before": iso(cutoff)}
