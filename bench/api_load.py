"""API load benchmark: alerts paging and filtering through the API vs the same queries sent
straight to Elasticsearch, in the same run.

    .venv/bin/python bench/api_load.py                # 100k alerts, 50 clients
    .venv/bin/python bench/api_load.py --quick        # 10k alerts, 20 clients

Seeds ``--alerts`` alerts under a throwaway index prefix, serves the API with uvicorn on a
free loopback port, then runs ``--clients`` concurrent clients, each doing ``--requests``
requests (a filter scenario: first page, then following ``next`` cursors). The baseline sends
the identical query bodies (``detections.triage.alerts.build_list_body``) to ``_search``.
Prints p50/p99 latency and requests/s for both, and the p99 ratio (goal <= 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from api.app import create_app  # noqa: E402
from api.identity.service import DEMO_USERS  # noqa: E402
from core.alerting import ALERTS_MAPPING, LEVELS, STATUSES, alerts_index, build_alert  # noqa: E402
from core.es import Store  # noqa: E402
from core.settings import load_settings  # noqa: E402
from core.timeutil import iso, utcnow  # noqa: E402
from detections.triage.alerts import _address_ok, build_alert_query, build_list_body  # noqa: E402

HOSTS = [f"host-{i:03d}" for i in range(200)]
USERS = [f"user{i:03d}" for i in range(500)]
RULES = [f"rule-{i:02d}" for i in range(40)]
API_ES_CONNECTIONS = 10  # elasticsearch-py's default connections_per_node
ROUNDS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(store: Store, prefix: str, n: int) -> None:
    index = alerts_index(prefix)
    store.ensure_index(index, mappings=ALERTS_MAPPING, settings={"refresh_interval": "-1"})
    rng = random.Random(7)
    base = utcnow()
    batch: list[tuple[str, str, dict[str, Any]]] = []
    for i in range(n):
        rule = rng.choice(RULES)
        _id, doc = build_alert(rule_id=rule, rule_name=f"Rule {rule}", level=rng.choice(LEVELS),
                               reason=f"suspicious activity {rng.choice(['login', 'dns', 'process', 'file'])} {i}",
                               key=f"evt-{i}", timestamp=iso(base - timedelta(seconds=i * 13)),
                               entities={"host": {"name": rng.choice(HOSTS)}, "user": {"name": rng.choice(USERS)},
                                         "source": {"ip": f"10.{i % 256}.{(i // 256) % 256}.{rng.randint(1, 254)}"}},
                               event={"message": "x" * 200})
        doc["alert"]["status"] = rng.choice(STATUSES)
        batch.append((index, _id, doc))
        if len(batch) == 5000:
            store.bulk_create(batch)
            batch = []
            print(f"\r  seeded {i + 1}/{n}", end="", flush=True)
    if batch:
        store.bulk_create(batch)
    store.request("PUT", f"/{index}/_settings", body={"index": {"refresh_interval": "1s"}})
    store.refresh(index)
    print(f"\r  seeded {n} alerts into {index}")


def scenario(rng: random.Random) -> dict[str, Any]:
    """API query parameters for one client step (the same filters the console uses)."""
    choice = rng.randrange(6)
    params: dict[str, Any] = {"size": 50}
    if choice == 0:
        params["status"] = ["new"]
    elif choice == 1:
        params["level"] = ["high", "critical"]
        params["sort"] = "risk"
    elif choice == 2:
        params["host"] = [rng.choice(HOSTS)]
    elif choice == 3:
        params["q"] = rng.choice(["login", "dns", "process"])
    elif choice == 4:
        params["start"] = iso(utcnow() - timedelta(hours=rng.randint(1, 200)))
        params["status"] = ["new", "acknowledged"]
    else:
        params["user"] = [rng.choice(USERS)]
    return params


def es_body(params: dict[str, Any], after: list[Any] | None) -> dict[str, Any]:
    query = build_alert_query(status=params.get("status"), level=params.get("level"), host=params.get("host"),
                              user=params.get("user"), start=params.get("start"), text=params.get("q"),
                              address=_address_ok(params.get("address")))
    return build_list_body(query, sort=params.get("sort", "@timestamp"), size=params["size"], after=after)


async def run_clients(clients: int, per_client: int, step: Any) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def client(seed_: int) -> None:
        rng = random.Random(seed_)
        done = 0
        while done < per_client:
            params = scenario(rng)
            cursor: Any = None
            for _page in range(3):
                t0 = time.perf_counter()
                cursor = await step(params, cursor)
                latencies.append(time.perf_counter() - t0)
                done += 1
                if cursor is None or done >= per_client:
                    break

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies, time.perf_counter() - start


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(name: str, latencies: list[float], elapsed: float) -> dict[str, float]:
    out = {"p50": pct(latencies, 50) * 1000, "p99": pct(latencies, 99) * 1000, "rps": len(latencies) / elapsed,
           "mean": statistics.fmean(latencies) * 1000}
    print(f"  {name:<22} n={len(latencies):<6} p50={out['p50']:7.1f} ms  p99={out['p99']:7.1f} ms  "
          f"mean={out['mean']:7.1f} ms  {out['rps']:7.1f} req/s")
    return out


async def bench(es_url: str, api_url: str, token: str, index: str, clients: int, per_client: int) -> None:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    # The API talks to Elasticsearch through the client's pool (10 connections per node), so
    # the second baseline sends the direct queries through 10 connections as well.
    pooled = httpx.Limits(max_connections=API_ES_CONNECTIONS, max_keepalive_connections=API_ES_CONNECTIONS)
    async with httpx.AsyncClient(base_url=es_url, limits=limits, timeout=120) as es, \
            httpx.AsyncClient(base_url=es_url, limits=pooled, timeout=120) as es_pooled, \
            httpx.AsyncClient(base_url=api_url, limits=limits, timeout=120,
                              headers={"authorization": f"Bearer {token}"}) as api:

        def direct_via(client: httpx.AsyncClient) -> Any:
            async def direct(params: dict[str, Any], cursor: Any) -> Any:
                resp = await client.post(f"/{index}/_search", json=es_body(params, cursor))
                resp.raise_for_status()
                hits = resp.json()["hits"]["hits"]
                return hits[-1]["sort"] if len(hits) == params["size"] else None
            return direct

        direct = direct_via(es)

        async def through_api(params: dict[str, Any], cursor: Any) -> Any:
            resp = await api.get("/api/v1/alerts", params={**params, **({"after": cursor} if cursor else {})})
            resp.raise_for_status()
            return resp.json()["next"]

        # Warm both paths (caches, connections) before measuring.
        await run_clients(min(clients, 10), 3, direct)
        await run_clients(min(clients, 10), 3, through_api)
        pooled_name = f"ES direct ({API_ES_CONNECTIONS} conns)"
        modes = (("ES direct", direct), (pooled_name, direct_via(es_pooled)), ("API", through_api))
        # Interleave the modes in rounds so that load from elsewhere on the host hits all alike.
        collected: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name, _s in modes}
        rounds = max(1, min(ROUNDS, per_client))
        for _round in range(rounds):
            for name, step in modes:
                lat, elapsed = await run_clients(clients, max(1, per_client // rounds), step)
                collected[name] = (collected[name][0] + lat, collected[name][1] + elapsed)
        results = {name: report(name, lat, elapsed) for name, (lat, elapsed) in collected.items()}
        api_r = results["API"]
        for base in ("ES direct", pooled_name):
            es_r = results[base]
            print(f"  ratio API / {base}: p50 {api_r['p50'] / es_r['p50']:.2f}x  p99 {api_r['p99'] / es_r['p99']:.2f}x"
                  f"  throughput {api_r['rps'] / es_r['rps']:.2f}x   (goal: p99 <= 1.5x)")


def _settings(es_url: str, prefix: str, data_dir: Path, secret: str) -> Any:
    return load_settings(data_dir=data_dir, index_prefix=prefix, demo=True, es={"url": es_url},
                         api={"secret_key": secret}, audit={"secret_key": secret})


def serve(args: argparse.Namespace) -> int:
    settings = _settings(args.es_url, args.prefix, Path(args.data_dir), os.environ["SOC_BENCH_SECRET"])
    app = create_app(settings, Store.from_url(args.es_url, request_timeout=120), bootstrap=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--es-url", default=os.environ.get("SOC_TEST_ES_URL", "http://127.0.0.1:9250"))
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--quick", action="store_true", help="10k alerts, 20 clients, 10 requests each")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)
    if args.quick:
        args.alerts, args.clients, args.requests = 10_000, 20, 10
    prefix = "bench-api-" + uuid.uuid4().hex[:8]
    data_dir = Path(tempfile.mkdtemp(prefix="qinglang-bench-"))
    secret = "bench-" + uuid.uuid4().hex * 2
    store = Store.from_url(args.es_url, request_timeout=120)
    store.check()
    print(f"API load benchmark: {args.alerts} alerts, {args.clients} clients x {args.requests} requests")
    server: subprocess.Popen[bytes] | None = None
    try:
        seed(store, prefix, args.alerts)
        port = free_port()
        # The API runs in its own process (as in production), not sharing the GIL with the clients.
        server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port), "--es-url", args.es_url,
                                   "--prefix", prefix, "--data-dir", str(data_dir)],
                                  env={**os.environ, "SOC_BENCH_SECRET": secret})
        api_url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"{api_url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("the API did not start")
            time.sleep(0.2)
        login = httpx.post(f"{api_url}/api/v1/auth/login",
                           json={"username": "analyst", "password": DEMO_USERS["analyst"][1]}, timeout=30)
        login.raise_for_status()
        asyncio.run(bench(args.es_url, api_url, login.json()["token"], alerts_index(prefix), args.clients,
                          args.requests))
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        store.delete_indices(f"{prefix}-*")
    return 0


if __name__ == "__main__":
    sys.exit(main())
