"""The managed single Elasticsearch node (the embedded default).

The distribution is the minimal ``integ-test-zip`` from Maven Central, fetched *through Maven*
(which verifies checksums) and unpacked into a cache directory. The node binds to 127.0.0.1,
keeps data, logs and the snapshot repository under the platform's data directory, and runs as
an unprivileged user when we are root (Elasticsearch refuses to run as root).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import node_dist, node_os
from core.errors import Unavailable
from core.settings import Settings


@dataclass(frozen=True)
class ClusterMember:
    """One node of a managed multi-node cluster (see ``core.cluster``); ``None`` = single node."""

    name: str
    dir: Path
    port: int
    transport_port: int
    seed_hosts: tuple[str, ...]
    initial_masters: tuple[str, ...]


@dataclass(frozen=True)
class NodeStatus:
    running: bool
    pid: int | None
    url: str
    healthy: bool
    detail: str


class ManagedNode:
    """Install, start, stop and inspect the managed node described by ``settings``."""

    def __init__(self, settings: Settings, member: ClusterMember | None = None) -> None:
        self.s = settings
        self.member = member
        self.version = settings.es.version
        self.home = settings.es_cache_dir / f"elasticsearch-{self.version}"
        self.dir = member.dir if member else settings.es_node_dir
        self.port = member.port if member else settings.es.port
        self.transport_port = (member.transport_port if member
                               else settings.es.transport_port or settings.es.port + 100)
        self.name = member.name if member else "soc-node"
        self.pid_file = self.dir / "elasticsearch.pid"
        self.url = f"http://{settings.es.host}:{self.port}"
        self._log_marks: dict[str, int] = {}

    # -- install ---------------------------------------------------------------------------

    def installed(self) -> bool:
        return node_dist.installed(self.home)

    def install(self, *, log: Callable[[str], None] = print) -> Path:
        """Fetch through Maven, verify, unpack (``core.node_dist``). Idempotent."""
        return node_dist.install(self.s, self.version, self.home, log=log)

    # -- java ------------------------------------------------------------------------------

    def java_home(self) -> Path:
        return node_dist.java_home(self.s)

    # -- lifecycle -------------------------------------------------------------------------

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=3) as resp:
                body = json.loads(resp.read())
            return body.get("status") in ("green", "yellow")
        except (OSError, ValueError, urllib.error.URLError, http.client.HTTPException):
            # HTTPException: something else answers on the port (e.g. another node's transport)
            return False

    def status(self) -> NodeStatus:
        pid = self.pid()
        healthy = self.healthy() if pid else False
        detail = "running" if healthy else ("starting or unhealthy" if pid else "stopped")
        return NodeStatus(pid is not None, pid, self.url, healthy, detail)

    def start(self, *, wait: bool = True, log: Callable[[str], None] = print) -> NodeStatus:
        if self.pid():
            if wait:
                self._wait_healthy()
            return self.status()
        self.install(log=log)
        java_home = self.java_home()
        node_os.check_port(self.s.es.host, self.port)
        node_os.check_port(self.s.es.host, self.transport_port)
        conf = self._write_config(self.transport_port)
        uid, gid = node_os.run_as(self.s.es.run_as_user)
        for sub in ("data", "logs", "repo", "tmp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        if uid is not None:
            node_os.chown_tree(self.dir, uid, gid)
            node_os.ensure_traversable(self.dir)
            node_os.ensure_traversable(self.home)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_HOME": str(java_home),
            "ES_PATH_CONF": str(conf),
            "ES_TMPDIR": str(self.dir / "tmp"),
            "ES_JAVA_OPTS": f"-Xms{self.s.es.heap} -Xmx{self.s.es.heap}",
            "LANG": "C.UTF-8",
        }
        self._mark_logs()
        stdout = (self.dir / "logs" / "stdout.log").open("ab")
        cmd = [str(self.home / "bin" / "elasticsearch"), "-p", str(self.pid_file)]
        log(f"Starting Elasticsearch {self.version} node {self.name} on {self.url} (data in {self.dir}) …")
        proc = subprocess.Popen(  # noqa: S603
            cmd, env=env, stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, user=uid, group=gid, extra_groups=[] if uid is not None else None,
            cwd=str(self.dir),
        )
        stdout.close()
        if wait:
            self._wait_healthy(proc)
        return self.status()

    def _wait_healthy(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + self.s.es.start_timeout
        while time.monotonic() < deadline:
            if self.healthy():
                return
            if proc is not None and proc.poll() is not None:
                raise Unavailable(
                    f"Elasticsearch exited during start-up (exit {proc.returncode}). Last log lines:\n"
                    f"{self.log_tail()}\nFix the cause above, then run `soc es start` again."
                )
            time.sleep(0.5)
        raise Unavailable(
            f"Elasticsearch did not answer on {self.url} within {self.s.es.start_timeout:.0f}s. Last log "
            f"lines:\n{self.log_tail()}\nRaise SOC_ES_START_TIMEOUT on a slow machine, or see `soc es logs`."
        )

    def stop(self, timeout: float = 60.0) -> bool:
        """Graceful stop through the pid file; returns False when it was not running."""
        pid = self.pid()
        if not pid:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not node_os.alive(pid):
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self, timeout: float = 30.0) -> int | None:
        """SIGKILL, as a crash or an OOM killer would: no shutdown hook runs. Returns the pid."""
        pid = self.pid()
        if not pid:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while node_os.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return pid

    def _mark_logs(self) -> None:
        """Remember where this start's log lines begin, so errors quote this start only."""
        logs = self.dir / "logs"
        self._log_marks = {p.name: p.stat().st_size for p in logs.glob("*.log")} if logs.exists() else {}

    def _read_log(self, path: Path) -> list[str]:
        with path.open("rb") as fh:
            fh.seek(self._log_marks.get(path.name, 0))
            return fh.read().decode("utf-8", errors="replace").splitlines()

    def log_tail(self, lines: int = 20) -> str:
        logs = self.dir / "logs"
        candidates = sorted(logs.glob("*.log"), key=lambda p: p.stat().st_mtime) if logs.exists() else []
        main = logs / "qinglang.log"
        path = main if main.exists() else (candidates[-1] if candidates else None)
        if path is None:
            return "(no log written yet)"
        text = self._read_log(path)
        # The cause is usually the first fatal line, far above the stack trace's tail.
        fatal = [ln for ln in text if "fatal exception" in ln or "][ERROR]" in ln][:2]
        out = [*fatal, "…", *text[-lines:]] if fatal else text[-lines:]
        stdout = logs / "stdout.log"
        if stdout.exists() and path != stdout:
            extra = [ln for ln in self._read_log(stdout) if ln.strip()][-5:]
            if extra:
                out += ["-- stdout --", *extra]
        return "\n".join(out)

    # -- helpers ---------------------------------------------------------------------------

    def _write_config(self, transport_port: int) -> Path:
        conf = self.dir / "config"
        conf.mkdir(parents=True, exist_ok=True)
        for name in ("jvm.options", "log4j2.properties"):
            shutil.copy2(self.home / "config" / name, conf / name)
        (conf / "jvm.options.d").mkdir(exist_ok=True)
        settings = {
            "cluster.name": "qinglang",
            "node.name": self.name,
            "network.host": self.s.es.host,
            "http.port": self.port,
            "transport.port": transport_port,
            **({"discovery.seed_hosts": list(self.member.seed_hosts),
                "cluster.initial_master_nodes": list(self.member.initial_masters)}
               if self.member else {"discovery.type": "single-node"}),
            "path.data": str(self.dir / "data"),
            "path.logs": str(self.dir / "logs"),
            "path.repo": [str(self.dir / "repo")],
            "xpack.security.enabled": False,
            "xpack.ml.enabled": False,
            "cluster.routing.allocation.disk.threshold_enabled": False,
            "action.destructive_requires_name": False,
        }
        (conf / "elasticsearch.yml").write_text(
            "# Written by Qinglang on every start; edit settings, not this file.\n"
            + "".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items())
        )
        return conf
