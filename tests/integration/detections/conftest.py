"""Helpers for detection tests: write ECS events the way the shipper does (event.ingested
stamped at write time) and run detection cycles."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pytest

from core.alerting import alerts_index
from core.es import Store
from core.event_layout import EventWriter, events_alias
from core.ids import stable_id
from core.schema import install_templates
from core.timeutil import iso, utcnow
from detections.runner import RunnerConfig


def write_events(store: Store, prefix: str, docs: Iterable[dict[str, Any]], *,
                 ingested: datetime | None = None) -> list[str]:
    install_templates(store, prefix)
    stamp = iso(ingested or utcnow())
    batch = []
    ids = []
    for doc in docs:
        doc = dict(doc)
        doc["event"] = {**doc.get("event", {}), "ingested": stamp}
        eid = doc.pop("_id", None) or stable_id("test", prefix, repr(sorted(doc.items(), key=str)))
        ids.append(eid)
        batch.append((events_alias(prefix, doc["event"]["dataset"]), eid, doc))
    result = EventWriter(store).create(batch, refresh="wait_for")
    assert not result.rejected, result.rejected[:3]
    return ids


def alerts(store: Store, prefix: str, rule_id: str | None = None) -> list[dict[str, Any]]:
    store.refresh(alerts_index(prefix))
    query = {"term": {"rule.id": rule_id}} if rule_id else {"match_all": {}}
    resp = store.search(alerts_index(prefix), {"query": query, "size": 10000})
    return [h["_source"] for h in resp["hits"]["hits"]]


def ts(seconds_ago: float = 0, base: datetime | None = None) -> str:
    return iso((base or utcnow()) - timedelta(seconds=seconds_ago))


@pytest.fixture
def runner_cfg(prefix: str) -> RunnerConfig:
    return RunnerConfig(prefix=prefix, worker_id="test-worker", settle_seconds=0, partitions=4,
                        initial_lookback_seconds=3600, lease_seconds=30)
