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

from audit.anchor import HeadAnchor, make_append_only
from audit.chain import GENESIS, authentic, record_id, seal
from audit.models import Head
from core import scope as scoping
from core.auditing import Actor
from core.errors import Conflict, InvalidInput, PermissionDenied, Unavailable
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
        "organization": {"properties": {"id": {"type": "keyword"}}},
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
        want_append_only = settings.audit.append_only
        if want_append_only is None:
            want_append_only = hasattr(os, "geteuid") and os.geteuid() == 0
        self.want_append_only = want_append_only
        self.mirror_append_only_error: str | None = None
        self.anchor = HeadAnchor(settings.audit_head_path, self._secret, self.index,
                                 syslog_address=settings.audit.syslog_address, want_append_only=want_append_only)

    @property
    def secret(self) -> bytes:
        return self._secret

    # -- writing ----------------------------------------------------------------------------

    def ensure(self) -> None:
        if not self._ready:
            self.store.ensure_index(self.index, mappings=AUDIT_MAPPING)
            self.mirror_path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.mirror_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
            if self.want_append_only:
                self.mirror_append_only_error = make_append_only(self.mirror_path)
            self.anchor.prepare()
            self._ready = True

    @contextmanager
    def _mirror_locked(self) -> Iterator[int]:
        fd = os.open(self.mirror_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
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

    def _current_head(self) -> tuple[int, str] | None:
        """The newest of the mirror's, the sealed and (for a fresh mirror) the store's head.

        A copy that lost its newest records must not hand their sequence numbers out again:
        the sealed head continues the chain after them, so the gap stays visible.
        """
        candidates = [self._head_from_mirror() or self._head_from_store()]
        sealed, _problems = self.anchor.sealed()
        if sealed is not None:
            candidates.append((sealed.seq, sealed.hash))
        known = [c for c in candidates if c is not None]
        return max(known, key=lambda c: c[0]) if known else None

    def record(self, actor: Actor, action: str, target: str, outcome: str = "success",
               detail: dict[str, Any] | None = None) -> None:
        self.append(actor, action, target, outcome, detail)

    def append(self, actor: Actor, action: str, target: str, outcome: str = "success",
               detail: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one record, stamped with the actor's department (the district's when none), so
        that department auditors read their department's records. The chain is one for the whole
        platform: its head is read and written on the platform's behalf, whoever acts."""
        with scoping.system():
            return self._append(actor, action, target, outcome, detail)

    def _append(self, actor: Actor, action: str, target: str, outcome: str,
                detail: dict[str, Any] | None) -> dict[str, Any]:
        self.ensure()
        with self._lock, self._mirror_locked() as fd:
            size = os.fstat(fd).st_size
            if self._head is None or size != self._mirror_size:
                self._head = self._current_head()
            seq, prev_hash = self._head or (0, GENESIS)
            record: dict[str, Any] = {
                "seq": seq + 1, "time": iso(self.clock()), "actor": actor.name, "role": actor.role,
                "address": actor.address, "action": action, "target": str(target), "outcome": outcome,
                "detail": _jsonable(detail), "prev_hash": prev_hash,
                "organization": {"id": actor.organization or scoping.DISTRICT},
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
            self.anchor.seal(Head(record["seq"], record["hash"], record["time"]))
            return record

    # -- reading ----------------------------------------------------------------------------

    @requires("audit.read")
    def search(self, *, actor: Actor, action: str | None = None, user: str | None = None,
               outcome: str | None = None, start: str | None = None, end: str | None = None,
               size: int = 50, search_after: int | None = None) -> dict[str, Any]:
        """Records newest first; page with ``search_after`` = the last ``seq`` seen."""
        self.ensure()
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

    def store_records(self) -> tuple[list[dict[str, Any]], list[str]]:
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

    def mirror_records(self) -> list[dict[str, Any]]:
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

    def purge_anchor(self, records: list[dict[str, Any]]) -> tuple[int, str]:
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
        """Check both copies against each other and the sealed head; name the first problem."""
        from audit.verify import verify_trail

        current = scoping.current()
        if (current is not None and current.restricted) or (actor.organization or scoping.DISTRICT) != scoping.DISTRICT:
            raise PermissionDenied("Verifying the audit trail checks the whole chain of every department: an auditor "
                                   "of the district does it (a department auditor reads their department's records "
                                   "with GET /api/v1/audit or `soc audit list`).")
        return verify_trail(self, actor)

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
        self.ensure()
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
