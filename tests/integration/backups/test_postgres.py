"""A PostgreSQL database backed up through pg_dump (a throwaway local cluster) and drilled."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.integration.backups.conftest import Env

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def postgres() -> Iterator[dict[str, object]]:
    base = Path(tempfile.mkdtemp(prefix="qinglang-pg-"))
    base.chmod(0o755)
    shutil.chown(base, "postgres", "postgres")
    data, sock, port = base / "data", base / "sock", free_port()
    sock.mkdir()
    shutil.chown(sock, "postgres", "postgres")

    def as_pg(*cmd: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=120)

    as_pg(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    as_pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
          f"-k {sock} -p {port} -c listen_addresses=''", "start")
    try:
        as_pg(str(PG_BIN / "psql"), "-h", str(sock), "-p", str(port), "-U", "postgres", "-c",
              "create table evidence(id int primary key, note text); "
              "insert into evidence select g, 'row ' || g from generate_series(1, 500) g;")
        yield {"database": "postgres", "host": str(sock), "port": port, "user": "postgres"}
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "stop"], capture_output=True, check=False, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_pg_dump_backup_and_drill(env: Env, tmp_path: Path, postgres: dict[str, object]) -> None:
    env.plan(id="db", assets={"postgres": postgres}, primary={"restic": str(tmp_path / "repo")})
    run = env.backup("db")
    assert run["status"] == "success", run.get("error")
    dumps = [n for n in run["manifest"]["files"]["files"] if n.endswith("postgres.dump")]
    assert len(dumps) == 1 and os.path.getsize(dumps[0]) > 1000
    drill = env.drill("db")
    assert drill["status"] == "passed", drill["checks"]
    check = next(c for c in drill["checks"] if c["name"] == "postgres_dump")
    assert check["status"] == "passed" and "TABLE DATA public evidence" not in check["detail"]
    assert "1 pg_dump archive" in check["detail"]
