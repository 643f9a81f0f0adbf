"""Spool records and the bulk sender.

A record is ``input \\0 index \\0 id \\0 doc-without-event \\0 event`` (both JSON objects; orjson
never writes a raw NUL). Keeping ``event`` apart lets the sender stamp ``event.ingested`` at send
time by splicing bytes instead of decoding and re-encoding every document.

Delivery: every record is written with ``op_type=create`` under its deterministic id, so a replay
after a crash is a 409 (counted as a duplicate, not stored twice). Per item: 2xx shipped, 409
duplicate, 429/5xx retried with backoff, anything else (mapping errors) written to
``<prefix>-deadletter`` with the raw event and the reason. Connection errors and whole-request
failures retry the batch with exponential backoff. The spool cursor advances only after every
record of the batch is stored or dead-lettered.

Writes go through ``core.event_layout.EventWriter`` (the dataset's write alias; ids already stored
in an older backing index count as duplicates too, so a replay after a rollover adds nothing).
Before a batch is first stamped, its stamp is published as this shipper's in-flight watermark
(``core.ingest_watermark``) and held until the batch is acknowledged, so detections never close
a window over events still in flight, however long the bulk and its retries take.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from collectors.counters import Counters
from collectors.models import Event
from collectors.organization import Organizer, with_unassigned_tag
from collectors.spool import Spool, SpoolBatch
from core.errors import SocError, Unavailable
from core.es import Store
from core.event_layout import EventWriter, alias_of, events_alias
from core.ingest_watermark import Watermark
from core.pii.guard import Guard
from core.scope import DISTRICT
from core.settings import EventsSettings, Settings
from core.timeutil import iso, utcnow

_DEADLETTER_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "@timestamp": {"type": "date"},
        "error": {"properties": {"message": {"type": "text"}}},
        "event": {"properties": {"dataset": {"type": "keyword"}, "ingested": {"type": "date"}}},
        "organization": {"properties": {"id": {"type": "keyword"}}},
        "deadletter": {"properties": {
            "index": {"type": "keyword"}, "id": {"type": "keyword"}, "input": {"type": "keyword"},
            "source": {"type": "keyword", "index": False, "doc_values": False},
        }},
    },
}

MAX_BACKOFF = 10.0


def deadletter_index(prefix: str) -> str:
    return f"{prefix}-deadletter"


def ensure_indices(store: Store, prefix: str) -> None:
    """Templates before the first write; the dead-letter index with its fixed mapping."""
    from core.schema import install_templates

    install_templates(store, prefix)
    store.ensure_index(deadletter_index(prefix), mappings=_DEADLETTER_MAPPINGS)


def encode(input_name: str, prefix: str, event: Event, guard: Guard | None = None, *,
           organizer: Organizer | None = None, organization: str | None = None,
           counters: Counters | None = None) -> bytes:
    # The department is decided here, before the first write, from the event as parsed (host
    # name and addresses before any masking); an event that matched no map is counted.
    org: str | None = None
    unassigned = False
    if organizer is not None:
        org, unassigned = organizer.decide(event.doc, organization)
        if unassigned and counters is not None:
            counters.add(input_name, "unassigned")
    # Personal information is masked here, before the first write: the clear value of a masked,
    # hashed or dropped field never reaches the spool, the dead-letter index or Elasticsearch.
    doc = event.doc if guard is None else guard.protect(event.dataset, event.doc)
    head = {k: v for k, v in doc.items() if k != "event"}
    ev = doc.get("event")
    ev = dict(ev) if isinstance(ev, dict) else {}
    if "@timestamp" not in head:
        head["@timestamp"] = iso(utcnow())
    if org is not None:
        # Replaces whatever the raw data claimed: a log line does not choose who reads it.
        head["organization"] = {"id": org}
        if unassigned:
            head["tags"] = with_unassigned_tag(head.get("tags"))
    ev.setdefault("dataset", event.dataset)
    index = events_alias(prefix, event.dataset)
    return b"\0".join((
        input_name.encode(), index.encode(), event.id.encode(),
        orjson.dumps(head, default=str), orjson.dumps(ev, default=str),
    ))


def _organization_of(head: bytes) -> str:
    try:
        org = orjson.loads(head).get("organization")
    except (orjson.JSONDecodeError, AttributeError):
        return DISTRICT
    value = org.get("id") if isinstance(org, dict) else None
    return str(value) if value else DISTRICT


def decode(record: bytes) -> tuple[str, str, str, bytes, bytes]:
    input_name, index, doc_id, head, ev = record.split(b"\0", 4)
    return input_name.decode(), index.decode(), doc_id.decode(), head, ev


def stamp(head: bytes, ev: bytes, ingested: bytes) -> bytes:
    """The document with ``event.ingested`` set (both parts are JSON objects)."""
    ev_out = (ev[:-1] + b',"ingested":"' if len(ev) > 2 else b'{"ingested":"') + ingested + b'"}'
    if len(head) > 2:
        return head[:-1] + b',"event":' + ev_out + b"}"
    return b'{"event":' + ev_out + b"}"


class Shipper:
    def __init__(self, store: Store, spool: Spool, prefix: str, counters: Counters, *,
                 batch_size: int = 2000, linger: float = 0.0,
                 log: Callable[[str], None] | None = None, events: EventsSettings | None = None,
                 watermark_ttl: float = 120.0) -> None:
        self.store = store
        self.writer = EventWriter(store, events)
        self.watermark = Watermark(store, prefix, ttl_seconds=watermark_ttl)
        self.spool = spool
        self.prefix = prefix
        self.counters = counters
        self.batch_size = batch_size
        self.linger = linger
        self.log = log or (lambda _m: None)
        self.unavailable_since: float | None = None
        self.last_error: str | None = None

    def ship_next(self, stop: threading.Event, *, wait: float = 0.5,
                  give_up_after: float | None = None) -> bool:
        """Ship one batch; True if a batch was acknowledged. On ``stop`` (or giving up) the
        batch stays in the spool unacknowledged and will be sent again later."""
        batch = self.spool.read_batch(self.batch_size, wait=wait, linger=self.linger)
        if batch is None:
            try:
                self.watermark.idle()
            except SocError as exc:
                self._unavailable(exc)
            return False
        if self._deliver(batch, stop, give_up_after):
            self.spool.ack(batch)
            return True
        self.spool.rewind()
        return False

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.ship_next(stop)

    def close(self) -> None:
        """Withdraw the watermark (best effort: it expires anyway)."""
        try:
            self.watermark.close()
        except SocError as exc:
            self.log(f"in-flight watermark not withdrawn (it expires by itself): {exc.message}")

    def _backoff(self, attempt: int, stop: threading.Event) -> None:
        stop.wait(min(MAX_BACKOFF, 0.25 * (2 ** min(attempt, 6))))

    def _deliver(self, batch: SpoolBatch, stop: threading.Event, give_up_after: float | None) -> bool:
        pending = [decode(r) for r in batch.records]
        attempt = 0
        held = False
        while pending:
            if stop.is_set():
                return False
            clock = utcnow()
            now = iso(clock).encode()
            docs = [(index, doc_id, stamp(head, ev, now)) for (_i, index, doc_id, head, ev) in pending]
            try:
                # The first attempt's stamp stays the watermark until the whole batch is
                # acknowledged: a timed-out attempt may still land later with that stamp.
                if held:
                    self.watermark.keep_alive(clock)
                else:
                    self.watermark.hold(clock)
                    held = True
                result = self.writer.create_raw(docs)
            except SocError as exc:
                self._unavailable(exc)
                if give_up_after is not None and self.unavailable_since is not None \
                        and time.monotonic() - self.unavailable_since > give_up_after:
                    return False
                self._backoff(attempt, stop)
                attempt += 1
                continue
            self.unavailable_since = None
            retry = []
            rejected = []
            for item, rec, doc in zip(result.items, pending, docs, strict=True):
                if item.outcome == "created":
                    self.counters.add(rec[0], "shipped")
                elif item.outcome == "exists":
                    self.counters.add(rec[0], "duplicates")
                elif item.outcome == "retry":
                    retry.append(rec)
                else:
                    rejected.append((rec, doc[2], item.error or f"HTTP {item.status}"))
            if rejected and not self._deadletter(rejected, stop, give_up_after):
                return False
            pending = retry
            if pending:
                self._backoff(attempt, stop)
                attempt += 1
        return True

    def _unavailable(self, exc: SocError) -> None:
        if self.unavailable_since is None:
            self.unavailable_since = time.monotonic()
            self.log(f"Elasticsearch unavailable, retrying with backoff: {exc.message}")
        self.last_error = exc.message

    def _deadletter(self, rejected: list[tuple[tuple[str, str, str, bytes, bytes], bytes, str]],
                    stop: threading.Event, give_up_after: float | None) -> bool:
        index = deadletter_index(self.prefix)
        now = iso(utcnow())
        entries: list[tuple[str, tuple[str, str, dict[str, Any]]]] = []
        for (input_name, target, doc_id, head, _ev), source, reason in rejected:
            target = alias_of(target)
            dataset = target.split("-events-", 1)[-1]
            entries.append((input_name, (index, doc_id, {
                "@timestamp": now,
                "event": {"dataset": dataset, "ingested": now},
                # The department of the rejected event, so its analysts (and only they) see it.
                "organization": {"id": _organization_of(head)},
                "error": {"message": reason},
                "deadletter": {"index": target, "id": doc_id, "input": input_name,
                               "source": source.decode("utf-8", "replace")},
            })))
        attempt = 0
        while entries:
            if stop.is_set():
                return False
            try:
                result = self.store.bulk_create([doc for _n, doc in entries])
            except SocError as exc:
                self._unavailable(exc)
                if give_up_after is not None and self.unavailable_since is not None \
                        and time.monotonic() - self.unavailable_since > give_up_after:
                    return False
                self._backoff(attempt, stop)
                attempt += 1
                continue
            again = []
            for item, entry in zip(result.items, entries, strict=True):
                if item.outcome in ("created", "exists"):
                    self.counters.add(entry[0], "dead_lettered")
                elif item.outcome == "retry":
                    again.append(entry)
                else:
                    # The dead-letter mapping accepts any source; if even that fails, say so.
                    self.counters.add(entry[0], "failed")
                    self.log(f"dead-letter write of {entry[1][1]} rejected: {item.error}")
            entries = again
            if entries:
                self._backoff(attempt, stop)
                attempt += 1
        return True


def shipper_for(settings: Settings, store: Store, spool: Spool, counters: Counters, **kwargs: Any) -> Shipper:
    """A shipper configured from the settings (batch size, shard budget, watermark expiry)."""
    # The watermark must outlive one bulk attempt (the client timeout) plus the longest backoff.
    ttl = max(120.0, 3 * float(settings.es.request_timeout) + MAX_BACKOFF)
    kwargs.setdefault("batch_size", settings.collect.batch_size)
    return Shipper(store, spool, settings.index_prefix, counters, events=settings.events, watermark_ttl=ttl, **kwargs)


def raise_if_unreachable(store: Store) -> None:
    if not store.ping():
        raise Unavailable("Elasticsearch cannot be reached. Check `soc es status` or SOC_ES_URL, then retry.")
