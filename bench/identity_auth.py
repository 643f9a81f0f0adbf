"""Identity: what a shared session store costs per request, and whether a failed login's answer
time tells the causes apart. Runs create_app in-process against a real Elasticsearch.

    .venv/bin/python bench/identity_auth.py --url http://127.0.0.1:9200 [--requests 300] [--logins 40]

Per-request overhead: ``GET /api/v1/auth/me`` with a session token (two realtime GETs: session
and user) against the same-run baseline ``GET /health`` (no authentication, one ES ping).
Login timing: median answer time for a wrong password, an unknown user, a disabled and a locked
account (each evaluated or refused with the same hashing work, every failure answered no sooner
than 0.3 s after it arrived); goal: every median within 5 % of the wrong-password median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from core.auditing import Actor, MemoryAuditor  # noqa: E402
from core.es import Store  # noqa: E402
from core.settings import load_settings  # noqa: E402

PASSWORD = "Bench#Password2026"


def _timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--logins", type=int, default=40)
    args = parser.parse_args()
    prefix = "bench" + uuid.uuid4().hex[:8]
    secret = "bench-secret-" + "x" * 40
    settings = load_settings(data_dir=Path("/tmp") / prefix, index_prefix=prefix, es={"url": args.url},
                             api={"secret_key": secret, "login_failures_per_minute": 100_000,
                                  "lockout_threshold": 3},
                             audit={"secret_key": secret})
    store = Store.from_url(args.url)
    try:
        app = create_app(settings, store, auditor=MemoryAuditor())
        identity = app.state.identity
        operator = Actor("bench", "cli")
        for name in ("user", "off", "locked"):
            identity.users.create_user(name, "analyst", actor=operator, password=PASSWORD)
            identity.records.save(replace(identity.records.require(name)[0], must_change_password=False))
        identity.users.update_user("off", actor=operator, disabled=True)
        client = TestClient(app)
        for i in range(3):
            client.post("/api/v1/auth/login", json={"username": "locked", "password": f"x{i}"})
        token = client.post("/api/v1/auth/login", json={"username": "user", "password": PASSWORD}).json()["token"]
        headers = {"authorization": f"Bearer {token}"}
        for _ in range(20):  # warm-up
            client.get("/health")
            client.get("/api/v1/auth/me", headers=headers)
        health = _timed(lambda _i: client.get("/health"), args.requests)
        me = _timed(lambda _i: client.get("/api/v1/auth/me", headers=headers), args.requests)
        h, m = statistics.median(health), statistics.median(me)
        print(f"per request  /health (baseline) median {h:.2f} ms   /auth/me with session {m:.2f} ms   "
              f"overhead {m - h:+.2f} ms (x{m / h:.2f})")

        def login(name: str, password: str):  # type: ignore[no-untyped-def]
            return lambda _i: client.post("/api/v1/auth/login", json={"username": name, "password": password})

        # Wrong passwords would lock "user" after 3: unlock between rounds (not timed).
        wrong: list[float] = []
        for _ in range(args.logins):
            wrong += _timed(login("user", "Wrong#Password1"), 1)
            identity.users.unlock_user("user", actor=operator)
        cases = {"wrong password": wrong,
                 "unknown user": _timed(login("nobody", PASSWORD), args.logins),
                 "disabled": _timed(login("off", PASSWORD), args.logins),
                 "locked": _timed(login("locked", PASSWORD), args.logins)}
        base = statistics.median(cases["wrong password"])
        for why, times in cases.items():
            med = statistics.median(times)
            print(f"login {why:<15} median {med:7.1f} ms  ratio to wrong password {med / base:.2f}")
    finally:
        store.delete_indices(f"{prefix}-*")
        store.close()


if __name__ == "__main__":
    main()
