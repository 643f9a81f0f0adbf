"""Gap-free under real latency: a bulk held by a TCP proxy longer than the settle time while a
detection cycle runs. The shipper's in-flight watermark keeps the window short of the held
events, so they are judged by a later cycle — exactly once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from collectors import service
from collectors.models import Event
from core.auditing import Actor, MemoryAuditor
from core.es import Store
from core.settings import Settings
from core.timeutil import parse_iso, utcnow
from detections import repository as repo
from detections.models import CycleResult
from detections.runner import RunnerConfig, run_cycle
from detections.service import import_own_rules
from tests.integration.detections.conftest import alerts, ts

SU = "3f0f6d9e-6a57-4c0e-9a43-6f1d2b8e1a05"
SETTLE = 1.0
HOLD = 6.0


class DelayingProxy:
    """Forwards TCP to Elasticsearch; holds the first ``_bulk`` request ``delay`` seconds."""

    def __init__(self, host: str, port: int, delay: float) -> None:
        self.upstream = (host, port)
        self.delay = delay
        self.armed = False
        self.holding = threading.Event()
        self.released = threading.Event()
        # The loop lives in its own thread from the start: the main thread may already run one
        # (Playwright's sync API keeps a loop running there for the whole session).
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="delaying-proxy", daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, inspect: bool) -> None:
        try:
            while data := await src.read(65536):
                if inspect and self.armed and b" /_bulk" in data[:256]:
                    self.armed = False
                    self.holding.set()
                    await asyncio.sleep(self.delay)
                    self.released.set()
                dst.write(data)
                await dst.drain()
        except ConnectionError:
            pass
        finally:
            dst.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        await asyncio.gather(self._pipe(reader, up_writer, True), self._pipe(up_reader, writer, False))

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def proxy(es_url: str) -> Iterator[DelayingProxy]:
    parts = urlsplit(es_url)
    p = DelayingProxy(parts.hostname or "127.0.0.1", parts.port or 9200, HOLD)
    yield p
    p.close()


def _su_fail(user: str, i: int) -> Event:
    return Event(f"held-{user}", "system.auth", {
        "@timestamp": ts(30 - i), "message": f"FAILED SU (to root) {user} on pts/{i}", "process": {"name": "su"},
        "user": {"name": user}, "host": {"hostname": "db1"}})


def test_a_bulk_slower_than_settle_is_judged_exactly_once(settings: Settings, store: Store, prefix: str,
                                                           proxy: DelayingProxy, runner_cfg: RunnerConfig) -> None:
    cfg = replace(runner_cfg, settle_seconds=SETTLE)
    import_own_rules(store, prefix, actor=Actor("cli:t", "cli"), auditor=MemoryAuditor())
    su_only = [d for d in repo.list_rule_docs(store, prefix, enabled_only=True) if d["id"] == SU]

    def cycle() -> CycleResult:
        return run_cycle(store, cfg, force=True, rule_docs=su_only)

    cycle()
    slow = Store.from_url(f"http://127.0.0.1:{proxy.port}", request_timeout=30)
    users = ["alice", "bob", "carol"]
    outcome: dict[str, service.ShipSummary] = {}
    proxy.armed = True
    shipper = threading.Thread(target=lambda: outcome.setdefault(
        "s", service.ship_events(settings, slow, [_su_fail(u, i) for i, u in enumerate(users)], source="slow")))
    shipper.start()
    try:
        assert proxy.holding.wait(20), "the bulk never reached the proxy"
        # Longer than the settle time: a window ending at now - settle would pass the held events.
        threading.Event().wait(SETTLE + 0.5)
        began = utcnow()
        during = cycle()
        assert not proxy.released.is_set(), "the cycle must run while the bulk is still held"
    finally:
        shipper.join(60)
        slow.close()
    assert outcome["s"].shipped == 3 and outcome["s"].failed == 0
    store.refresh(f"{prefix}-events-*")
    stored = store.search(f"{prefix}-events-*", {"size": 10})["hits"]["hits"]
    stamps = sorted(parse_iso(h["_source"]["event"]["ingested"]) for h in stored)
    assert len(stamps) == 3
    window_end = next(r.window_end for r in during.results if r.rule_id == SU)
    # The cycle's window stopped before the held events' stamps although now - settle was past them.
    assert began - timedelta(seconds=SETTLE) > stamps[-1]
    assert parse_iso(window_end) < stamps[0]
    assert alerts(store, prefix, SU) == []
    cycle()
    cycle()
    fired = alerts(store, prefix, SU)
    assert sorted(a["user"]["name"] for a in fired) == users
