"""ATT&CK coverage: which techniques the enabled rules cover and which the alerts of a period
touched, laid out as the ATT&CK matrix (tactics as columns, parent techniques as cells)."""

from __future__ import annotations

from typing import Any

from core.alerting import alerts_index, audience_filter
from core.auditing import Actor
from core.errors import NotFound
from core.es import Store
from core.permissions import requires
from core.settings import Settings
from detections import attack
from detections import repository as repo
from detections.triage.common import time_range

MAX_TAGS = 5000


def _tag_counts(store: Store, index: str, field: str, query: dict[str, Any]) -> dict[str, int]:
    body = {"size": 0, "query": query, "aggs": {"tags": {"terms": {"field": field, "size": MAX_TAGS}}}}
    try:
        resp = store.search(index, body)
    except NotFound:
        return {}
    # A search over no index at all answers without aggregations.
    buckets = ((resp.get("aggregations") or {}).get("tags") or {}).get("buckets", [])
    return {b["key"]: b["doc_count"] for b in buckets}


def _by_technique(counts: dict[str, int]) -> dict[str, int]:
    """Counts per parent technique id (sub-technique tags roll up)."""
    out: dict[str, int] = {}
    for tag, n in counts.items():
        tag = tag.lower()
        if tag.startswith("attack.t") and tag[8:12].isdigit():
            parent = tag[7:12].upper()
            out[parent] = out.get(parent, 0) + n
    return out


@requires("alerts.read")
def matrix(store: Store, settings: Settings, *, actor: Actor, start: str | None = None,
           end: str | None = None) -> dict[str, Any]:
    rules = _by_technique(_tag_counts(store, repo.rules_index(settings.index_prefix), "tags",
                                      {"term": {"enabled": True}}))
    filters: list[dict[str, Any]] = [f for f in (time_range("@timestamp", start or "now-7d", end),) if f]
    scope = audience_filter(actor.role)
    if scope is not None:
        filters.append(scope)
    alerts = _by_technique(_tag_counts(store, alerts_index(settings.index_prefix), "rule.tags",
                                       {"bool": {"filter": filters}}))
    data = attack.data()
    columns = []
    for tac in data["tactics"]:
        cells = []
        for tid, tech in data["techniques"].items():
            if "." in tid or tac["short"] not in tech["tactics"]:
                continue
            cells.append({"id": tid, "name": tech["name"], "rules": rules.get(tid, 0), "alerts": alerts.get(tid, 0)})
        cells.sort(key=lambda c: (-c["alerts"], -c["rules"], c["name"]))
        columns.append({**{k: tac[k] for k in ("id", "short", "name", "name_zh")}, "techniques": cells,
                        "covered": sum(1 for c in cells if c["rules"]), "total": len(cells),
                        "alerts": sum(c["alerts"] for c in cells)})
    return {"version": data["attack_version"], "tactics": columns,
            "covered": sum(c["covered"] for c in columns), "total": sum(c["total"] for c in columns)}
