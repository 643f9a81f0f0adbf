"""The ECS event schema: the index template for ``<prefix>-events-*`` (names: ``core.event_layout``).

Keyword fields carry a ``.lower`` subfield (the built-in ``lowercase`` normalizer is server
core) so detections can match case-insensitively even where a query type has no
``case_insensitive`` flag. ``message`` is text (standard analyzer, also core).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.es import Store
from core.replicas import index_settings

EVENT_DATASETS_HINT = (
    "system.auth", "system.syslog", "auditd.log", "nginx.access", "apache.access", "journald",
    "windows.sysmon", "windows.security", "network.flow", "network.dns", "network.http", "network.tls",
)

_KW = {"type": "keyword", "ignore_above": 8191, "fields": {"lower": {"type": "keyword", "normalizer": "lowercase",
                                                                      "ignore_above": 8191}}}
_DATE = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
_IP = {"type": "ip"}
_LONG = {"type": "long"}

# Fields whose type is not keyword. Everything else that is a string becomes keyword.
TYPED_FIELDS: dict[str, dict[str, Any]] = {
    "@timestamp": _DATE,
    "event.created": _DATE,
    "event.ingested": _DATE,
    "event.start": _DATE,
    "event.end": _DATE,
    "event.duration": _LONG,
    "event.sequence": _LONG,
    "event.severity": _LONG,
    "event.risk_score": {"type": "float"},
    "message": {"type": "text"},
    "error.message": {"type": "text"},
    "event.original": {"type": "keyword", "index": False, "doc_values": False},
    "log.offset": _LONG,
    "log.syslog.priority": _LONG,
    "log.syslog.facility.code": _LONG,
    "log.syslog.severity.code": _LONG,
    "source.ip": _IP,
    "source.port": _LONG,
    "source.bytes": _LONG,
    "source.packets": _LONG,
    "destination.ip": _IP,
    "destination.port": _LONG,
    "destination.bytes": _LONG,
    "destination.packets": _LONG,
    "client.ip": _IP,
    "client.port": _LONG,
    "server.ip": _IP,
    "server.port": _LONG,
    "host.ip": _IP,
    "related.ip": _IP,
    "network.bytes": _LONG,
    "network.packets": _LONG,
    "process.pid": _LONG,
    "process.parent.pid": _LONG,
    "process.thread.id": _LONG,
    "http.response.status_code": _LONG,
    "http.request.bytes": _LONG,
    "http.response.bytes": _LONG,
    "http.request.body.bytes": _LONG,
    "http.response.body.bytes": _LONG,
    "dns.answers.ttl": _LONG,
    # Zeek connection ids (network events): Sigma zeek rules use them unmapped, with |cidr
    "id.orig_h": _IP,
    "id.resp_h": _IP,
    "id.orig_p": _LONG,
    "id.resp_p": _LONG,
    "url.port": _LONG,
    "winlog.record_id": _LONG,
    "winlog.process.pid": _LONG,
    "winlog.process.thread.id": _LONG,
    "auditd.sequence": _LONG,
    # personal information found at ingest (core.pii); the values themselves are keywords
    "pii.count": _LONG,
    "pii.policy_violation": {"type": "boolean"},
}


def _nest(flat: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for dotted, mapping in flat.items():
        node = props
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = mapping
    return props


def events_template(prefix: str) -> dict[str, Any]:
    """Composable index template body for ``<prefix>-events-*``."""
    return {
        "index_patterns": [f"{prefix}-events-*"],
        "priority": 200,
        "template": {
            "settings": index_settings(**{
                "refresh_interval": "1s",
                "mapping.total_fields.limit": 10000,
                "mapping.depth.limit": 32,
            }),
            "mappings": {
                "dynamic_templates": [
                    # Windows event data and other free-form maps: always keyword, whatever the
                    # first value looked like, so a numeric-looking first value can't poison them.
                    {"free_form": {"path_match": ["winlog.event_data.*", "winlog.user_data.*", "auditd.data.*",
                                                  "labels.*"],
                                   "mapping": _KW}},
                    {"strings": {"match_mapping_type": "string", "mapping": _KW}},
                    {"numbers_as_keyword": {"match_mapping_type": "long", "mapping": _KW}},
                    {"doubles_as_keyword": {"match_mapping_type": "double", "mapping": _KW}},
                ],
                "properties": _nest(TYPED_FIELDS),
            },
        },
        "_meta": {"managed_by": "qinglang", "schema": "ecs-8"},
    }


def events_pattern(prefix: str, dataset: str | None = None) -> str:
    """Every backing index (of one dataset); ``core.event_layout`` names the write aliases."""
    return f"{prefix}-events-{dataset}-*" if dataset else f"{prefix}-events-*"


def get_field(doc: Mapping[str, Any], dotted: str) -> Any:
    """Read ``a.b.c`` from a nested document (ECS events are stored nested)."""
    node: Any = doc
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return node.get(dotted) if isinstance(node, Mapping) and node is doc else None
    return node


def field_text(doc: Mapping[str, Any], dotted: str) -> str:
    """``get_field`` for display: lists joined with ", ", a missing value as ""."""
    value = get_field(doc, dotted)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def set_field(doc: dict[str, Any], dotted: str, value: Any) -> None:
    node = doc
    parts = dotted.split(".")
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value


def install_templates(store: Store, prefix: str) -> None:
    """Create or update every template the platform owns (idempotent)."""
    store.put_index_template(f"{prefix}-events", events_template(prefix))
