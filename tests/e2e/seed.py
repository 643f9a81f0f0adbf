"""Data the browser tests work on, written straight to Elasticsearch the way producers write it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.alerting import ALERTS_MAPPING, alerts_index, build_alert
from core.es import Store
from core.event_layout import EventWriter, events_alias
from core.ids import stable_id
from core.timeutil import iso

LEVELS = ("informational", "low", "medium", "high", "critical")


def seed_events(store: Store, prefix: str, host: str, user: str, address: str, count: int = 30) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    docs = []
    for i in range(count):
        ts = iso(now - timedelta(minutes=5 * i))
        doc = {
            "@timestamp": ts,
            "event": {"dataset": "system.auth", "category": ["authentication"], "action": "ssh_login",
                      "outcome": "failure", "created": ts, "ingested": ts},
            "host": {"name": host}, "user": {"name": user}, "source": {"ip": address, "port": 40000 + i},
            "message": f"Failed password for {user} from {address} port {40000 + i} ssh2",
        }
        docs.append((events_alias(prefix, "system.auth"), stable_id("e2e-event", host, str(i)), doc))
    result = EventWriter(store).create(docs, refresh="wait_for")
    assert result.all_stored, result.rejected
    return [d[2] for d in docs]


def seed_alerts(store: Store, prefix: str, rule_name: str, count: int, *, host: str = "web-01",
                user: str = "root", address: str = "203.0.113.7", event: dict[str, Any] | None = None) -> list[str]:
    store.ensure_index(alerts_index(prefix), mappings=ALERTS_MAPPING)
    now = datetime.now(UTC)
    docs = []
    for i in range(count):
        alert_id, doc = build_alert(
            rule_id=stable_id("rule", rule_name), rule_name=rule_name, level=LEVELS[(i % 3) + 2],
            reason=f"{rule_name}: {user} from {address}", key=f"{rule_name}-{i}",
            entities={"host": {"name": host}, "user": {"name": user}, "source": {"ip": address}},
            event=event, timestamp=iso(now - timedelta(minutes=i)))
        docs.append((alerts_index(prefix), alert_id, doc))
    result = store.bulk_create(docs, refresh="wait_for")
    assert result.all_stored, result.rejected
    return [d[1] for d in docs]


def bulk_alerts(store: Store, prefix: str, total: int, batch: int = 5000) -> int:
    """``total`` alerts spread over 200 rules, 500 hosts, 300 users and the last 7 days."""
    store.ensure_index(alerts_index(prefix), mappings=ALERTS_MAPPING)
    now = datetime.now(UTC)
    created = 0
    for start in range(0, total, batch):
        docs = []
        for i in range(start, min(total, start + batch)):
            rule = f"Bulk rule {i % 200:03d}"
            alert_id, doc = build_alert(
                rule_id=f"bulk-{i % 200}", rule_name=rule, level=LEVELS[i % 5], reason=f"{rule} matched",
                key=f"bulk-{i}", tags=["attack.t1110"],
                entities={"host": {"name": f"host-{i % 500:03d}"}, "user": {"name": f"user{i % 300}"},
                          "source": {"ip": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"}},
                timestamp=iso(now - timedelta(seconds=(i * 6) % (7 * 86400))))
            docs.append((alerts_index(prefix), alert_id, doc))
        result = store.bulk_create(docs, refresh=False)
        created += result.created + result.exists
    store.refresh(alerts_index(prefix))
    return created
