"""Platform data as the other parts write it: events, rules, the audit chain, backup runs and drills."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from core.es import Store
from core.event_layout import EventWriter, events_alias
from core.schema import install_templates
from core.timeutil import iso


def seed_platform(store: Store, prefix: str, now: datetime, *, healthy: bool) -> None:
    install_templates(store, prefix)
    docs: list[tuple[str, str, dict[str, Any]]] = []
    hosts = {"web-01": now - timedelta(minutes=5), "db-01": now - timedelta(minutes=30)}
    if not healthy:
        hosts["db-01"] = now - timedelta(days=3)  # a silent asset
    oldest = now - timedelta(days=200 if healthy else 20)
    for n, (host, last) in enumerate(hosts.items()):
        for k, ts in enumerate((oldest, last)):
            doc = {"@timestamp": iso(ts), "host": {"name": host}, "event": {"dataset": "system.auth",
                   "action": "ssh_login", "outcome": "success"}, "user": {"name": "alice"}, "message": "login"}
            docs.append((events_alias(prefix, "system.auth"), f"e{n}{k}", doc))
    assert EventWriter(store).create(docs, refresh=True).all_stored

    store.ensure_index(f"{prefix}-rules", mappings={"properties": {"enabled": {"type": "boolean"},
                                                                    "last_run_at": {"type": "date"}}})
    last_run = now - timedelta(minutes=2 if healthy else 600)
    store.put(f"{prefix}-rules", "r1", {"id": "r1", "enabled": healthy, "last_run_at": iso(last_run)}, refresh=True)
    store.put(f"{prefix}-rules", "r2", {"id": "r2", "enabled": True, "last_run_at": iso(last_run)}, refresh=True)

    store.ensure_index(f"{prefix}-audit", mappings={"properties": {"seq": {"type": "long"}, "time": {"type": "date"},
                                                                    "action": {"type": "keyword"},
                                                                    "outcome": {"type": "keyword"}}})
    prev = "0" * 64
    for seq in range(1, 6):
        if not healthy and seq == 3:
            continue  # a deleted record breaks the chain
        h = hashlib.sha256(f"{seq}{prev}".encode()).hexdigest()
        action = "audit.verify" if seq == 4 else "login"
        store.put(f"{prefix}-audit", str(seq), {"seq": seq, "time": iso(now - timedelta(hours=6 - seq)),
                                                 "prev_hash": prev, "hash": h, "action": action,
                                                 "outcome": "success" if healthy else "failure"}, refresh=True)
        prev = h

    # Field names as the backup orchestrator writes them (flat: status, started, ended).
    date = {"type": "date"}
    kw = {"type": "keyword"}
    store.ensure_index(f"{prefix}-backups-runs", mappings={"properties": {
        "@timestamp": date, "started": date, "ended": date, "status": kw, "offsite": {"properties": {"status": kw}}}})
    store.put(f"{prefix}-backups-runs", "b1", {"status": "success", "ended": iso(now - timedelta(hours=70)),
                                               "@timestamp": iso(now - timedelta(hours=71))}, refresh=True)
    store.put(f"{prefix}-backups-runs", "b2", {"status": "success" if healthy else "failed",
                                               "offsite": {"status": "success" if healthy else "failed"},
                                               "ended": iso(now - timedelta(hours=3)),
                                               "@timestamp": iso(now - timedelta(hours=4))}, refresh=True)
    store.ensure_index(f"{prefix}-backups-drills", mappings={"properties": {"@timestamp": date, "ended": date,
                                                                            "status": kw}})
    store.put(f"{prefix}-backups-drills", "d1", {"status": "passed" if healthy else "failed",
                                                 "ended": iso(now - timedelta(days=20))}, refresh=True)
