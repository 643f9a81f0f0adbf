"""The events behind a correlation alert (all its windows), found again from the referenced rules
and the alert's group, oldest first and paged; for a chained correlation also the alerts it chained."""

from __future__ import annotations

from typing import Any

from core.alerting import alerts_index
from core.auditing import Actor
from core.errors import InvalidInput, NotFound
from core.es import Store
from core.permissions import requires
from core.pii.display import mask_for_display
from core.settings import Settings
from detections import repository as repo
from detections.triage.alerts import get_alert
from detections.triage.common import decode_cursor, encode_cursor, page_size
from detections.triage.context import rule_context

MAX_OFFSET = 10_000


def episode_query(store: Store, settings: Settings, alert: dict[str, Any]
                  ) -> tuple[str, dict[str, Any], list[str]] | None:
    """For a correlation alert: the event indices, the query finding its events (all windows) and
    the ids of chained correlation rules; None for a single-event alert. Also used to list the
    events a shared case covers."""
    corr = (rule_context(store, settings, str((alert.get("rule") or {}).get("id") or ""), [])["rule"] or {}
            ).get("correlation")
    al = alert.get("alert", {})
    if not corr or not al.get("group_key"):
        return None
    keys = str(al["group_key"]).split("|")
    group_by = list(corr.get("group_by") or [])
    should: list[dict[str, Any]] = []
    indices: set[str] = set()
    related: list[str] = []
    for rid in corr.get("rules") or []:
        ref_doc = store.get(repo.rules_index(settings.index_prefix), rid)
        if ref_doc is None:
            continue
        ref = repo.from_doc(ref_doc["_source"])
        if ref.correlation is not None:
            related.append(ref.id)  # a chained correlation: its alerts, not events
            continue
        aliases = (corr.get("aliases") or {}).get(rid, {})
        group = [{"term": {aliases.get(f, f): v}} for f, v in zip(group_by, keys, strict=False) if v != "None"]
        should.append({"bool": {"filter": [ref.query, *group]}})
        indices.update(ref.indices(settings.index_prefix).split(","))
    query: dict[str, Any] = {"bool": {
        "filter": [{"range": {"@timestamp": {"gte": al["first_seen"], "lte": al["last_seen"]}}}],
        "should": should, "minimum_should_match": 1}}
    return ",".join(sorted(indices)), (query if should else {}), related


def related_alerts_query(alert: dict[str, Any], related: list[str]) -> dict[str, Any]:
    """The alerts of chained correlation rules that fed ``alert``."""
    al = alert.get("alert", {})
    return {"bool": {"filter": [{"terms": {"rule.id": related}}, {"term": {"alert.group_key": al["group_key"]}},
                                {"range": {"alert.first_seen": {"lte": al["last_seen"]}}}]}}


@requires("alerts.read")
def alert_events(store: Store, settings: Settings, alert_id: str, *, actor: Actor, size: int = 50,
                 after: str | None = None) -> dict[str, Any]:
    """The events that made a correlation alert fire (all its windows), oldest first, paged with
    ``next``; for a single-event alert, that event."""
    detail = get_alert(store, settings, alert_id, actor=actor)  # also enforces who may see it
    alert = detail["alert"]
    episode = episode_query(store, settings, alert)
    if episode is None:
        return {"total": len(detail["events"]), "items": detail["events"], "next": None}
    indices, query, related = episode
    items: list[dict[str, Any]] = []
    total = 0
    nxt = None
    if query:
        cursor = decode_cursor(after)
        offset = max(0, int(cursor[0])) if cursor and isinstance(cursor[0], int) else 0
        size = page_size(size)
        if offset + size > MAX_OFFSET:
            raise InvalidInput(f"Only the first {MAX_OFFSET} events of an alert can be paged; hunt for the rest.",
                               detail=[{"field": "after", "message": "too deep"}])
        # from/size, not search_after: sorting on _id is not allowed, and an episode is bounded.
        body: dict[str, Any] = {"size": size, "from": offset, "track_total_hits": True, "query": query,
                                "sort": [{"@timestamp": "asc"}, {"event.ingested": "asc"}]}
        try:
            resp = store.search(indices, body)
        except NotFound:
            resp = {"hits": {"total": {"value": 0}, "hits": []}}
        hits = resp["hits"]["hits"]
        total = resp["hits"]["total"]["value"]
        items = [mask_for_display({"_id": h["_id"], "_index": h["_index"], **h["_source"]}) for h in hits]
        nxt = encode_cursor([offset + len(hits)]) if offset + len(hits) < min(total, MAX_OFFSET) else None
    if related and after is None:
        resp = store.search(alerts_index(settings.index_prefix), {"size": 20, "query": related_alerts_query(alert, related),
            "_source": {"excludes": ["event_copy", "alert.history", "alert.comments"]}})
        return {"total": total, "items": items, "next": nxt,
                "related_alerts": [h["_source"] for h in resp["hits"]["hits"]]}
    return {"total": total, "items": items, "next": nxt}
