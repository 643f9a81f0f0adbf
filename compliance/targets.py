"""Where host checks look: the local host, a prepared root directory, or a remote host over SSH.

Every probe goes through four primitives (read a file, stat it, expand a glob, run a command)
so a check behaves the same on all three. A root-directory target answers commands from files
``<root>/.qinglang/commands/<command id>.out``, which is how tests (and offline audits of a
copied file system) provide ``ss``/``systemctl``/``apt`` output.
"""

from __future__ import annotations

import glob as globlib
import os
import shlex
import stat as statlib
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.models import TargetSpec
from core.errors import InvalidInput, Unavailable

MAX_READ = 4 * 1024 * 1024
COMMAND_TIMEOUT = 20.0


@dataclass(frozen=True)
class FileStat:
    mode: int
    uid: int
    gid: int
    mtime: float
    is_dir: bool


def _read_local(path: str | Path) -> bytes | None:
    # Small reads: procfs files refuse one huge read (ENOMEM) and report size 0.
    try:
        with open(path, "rb") as fh:
            chunks: list[bytes] = []
            total = 0
            while total < MAX_READ and (chunk := fh.read(65536)):
                chunks.append(chunk)
                total += len(chunk)
            return b"".join(chunks)[:MAX_READ]
    except OSError:
        return None


class Target:
    """Caching base: each file and command is fetched once per run."""

    name = "target"
    kind = "abstract"
    # Checks declare the platforms they apply to; Windows or database targets add their own.
    platform = "linux"

    def __init__(self) -> None:
        self._files: dict[str, bytes | None] = {}
        self._commands: dict[str, tuple[int, str] | None] = {}
        self._pending: dict[str, Future[tuple[int, str] | None]] = {}
        self._pool: ThreadPoolExecutor | None = None
        # Parsed views shared by probes (package list, running services, sockets) within one run.
        self.memo: dict[str, Any] = {}

    # primitives implemented by subclasses
    def _read(self, path: str) -> bytes | None:
        raise NotImplementedError

    def stat(self, path: str) -> FileStat | None:
        raise NotImplementedError

    def glob(self, pattern: str) -> list[str]:
        raise NotImplementedError

    def _run(self, command_id: str, argv: list[str]) -> tuple[int, str] | None:
        raise NotImplementedError

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    # cached access
    def read(self, path: str) -> bytes | None:
        if path not in self._files:
            self._files[path] = self._read(path)
        return self._files[path]

    def text(self, path: str) -> str | None:
        data = self.read(path)
        return None if data is None else data.decode("utf-8", "replace")

    def run(self, command_id: str, argv: list[str]) -> tuple[int, str] | None:
        """``(exit code, output)`` or None when the command is not available on the target."""
        if command_id not in self._commands:
            pending = self._pending.pop(command_id, None)
            self._commands[command_id] = pending.result() if pending else self._run(command_id, argv)
        return self._commands[command_id]

    def prefetch(self, commands: list[tuple[str, list[str]]]) -> None:
        """Start slow commands (package managers) at once so they overlap with file probes."""
        todo = [(cid, argv) for cid, argv in commands if cid not in self._commands and cid not in self._pending]
        if not todo:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="compliance-cmd")
        for cid, argv in todo:
            self._pending[cid] = self._pool.submit(self._run, cid, argv)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind}


class LocalTarget(Target):
    kind = "local"

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        import socket

        self.name = name or socket.gethostname()

    def _read(self, path: str) -> bytes | None:
        return _read_local(path)

    def stat(self, path: str) -> FileStat | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return FileStat(statlib.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime, statlib.S_ISDIR(st.st_mode))

    def glob(self, pattern: str) -> list[str]:
        return sorted(globlib.glob(pattern))

    def _run(self, command_id: str, argv: list[str]) -> tuple[int, str] | None:
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=COMMAND_TIMEOUT, check=False,
                                  env={**os.environ, "LC_ALL": "C"})
        except (FileNotFoundError, PermissionError):
            return None
        except subprocess.TimeoutExpired:
            return (124, f"timed out after {COMMAND_TIMEOUT:.0f}s")
        return proc.returncode, (proc.stdout + proc.stderr).decode("utf-8", "replace")[:MAX_READ]


class RootDirTarget(Target):
    kind = "root"
    COMMANDS_DIR = ".qinglang/commands"

    def __init__(self, root: str | Path, name: str | None = None) -> None:
        super().__init__()
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise InvalidInput(f"Target root {root} is not a directory; give the path of a copied file tree.")
        self.name = name or f"root:{self.root}"
        self._owner_table: dict[str, tuple[int, int, int]] | None = None

    def _inside(self, path: str) -> Path:
        # Keep lookups inside the tree even for absolute or ../ paths in a check.
        rel = os.path.normpath("/" + path.lstrip("/")).lstrip("/")
        return self.root / rel

    def _confined(self, path: str) -> Path | None:
        """The path inside the tree, or None when it (or a symlink on the way) leads out of it.

        A copied tree's absolute symlinks point into the auditor's own host: following them would
        put this machine's files into the target's evidence.
        """
        p = self._inside(path)
        try:
            return p if p.resolve().is_relative_to(self.root) else None
        except OSError:
            return None

    def _read(self, path: str) -> bytes | None:
        p = self._confined(path)
        return None if p is None else _read_local(p)

    def stat(self, path: str) -> FileStat | None:
        p = self._confined(path)
        if p is None:
            return None
        try:
            st = os.stat(p)
        except OSError:
            return None
        mode, uid, gid = statlib.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        recorded = self._owners().get(os.path.normpath("/" + path.lstrip("/")))
        if recorded is not None:
            mode, uid, gid = recorded
        return FileStat(mode, uid, gid, st.st_mtime, statlib.S_ISDIR(st.st_mode))

    def _owners(self) -> dict[str, tuple[int, int, int]]:
        """Recorded modes and owners (``.qinglang/owners``, lines of ``find -printf '%m %U %G %p\\n'``).

        A tree copied without root keeps its contents but not its ownership; the list made on the
        source host restores what ``stat`` should report.
        """
        if self._owner_table is None:
            table: dict[str, tuple[int, int, int]] = {}
            raw = _read_local(self.root / ".qinglang" / "owners") or b""
            for line in raw.decode("utf-8", "replace").splitlines():
                parts = line.split(None, 3)
                if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit():
                    try:
                        table[os.path.normpath("/" + parts[3].lstrip("/"))] = (int(parts[0], 8), int(parts[1]), int(parts[2]))
                    except ValueError:
                        continue
            self._owner_table = table
        return self._owner_table

    def glob(self, pattern: str) -> list[str]:
        base = str(self.root)
        found = globlib.glob(str(self._inside(pattern)))
        return sorted("/" + os.path.relpath(p, base) for p in found)

    def _run(self, command_id: str, argv: list[str]) -> tuple[int, str] | None:
        path = self.root / self.COMMANDS_DIR / f"{command_id}.out"
        try:
            text = path.read_text("utf-8", "replace")
        except OSError:
            return None
        rc = 0
        first, _, rest = text.partition("\n")
        if first.startswith("#rc="):
            rc = int(first[4:].strip() or 0)
            text = rest
        return rc, text

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "root": str(self.root)}


class SshTarget(Target):
    """A remote Linux host over SSH with key authentication (paramiko)."""

    kind = "ssh"

    def __init__(self, spec: TargetSpec, *, timeout: float = 10.0) -> None:
        super().__init__()
        import paramiko

        self.name = spec.name
        self.spec = spec
        client = paramiko.SSHClient()
        if spec.known_hosts:
            client.load_host_keys(spec.known_hosts)
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        else:
            client.load_system_host_keys()
            # Unknown hosts are refused unless the operator passed a known_hosts file or trusts on first use.
            policy = paramiko.AutoAddPolicy() if os.environ.get("SOC_COMPLIANCE_SSH_TOFU") == "1" else paramiko.RejectPolicy()
            client.set_missing_host_key_policy(policy)
        try:
            client.connect(spec.host or "", port=spec.port, username=spec.user, key_filename=spec.key_file,
                           timeout=timeout, banner_timeout=timeout, auth_timeout=timeout, allow_agent=False,
                           look_for_keys=spec.key_file is None)
        except paramiko.AuthenticationException as exc:
            raise Unavailable(f"SSH to {spec.name}: key authentication failed ({exc}). Check the user and key file.") from exc
        except paramiko.SSHException as exc:
            raise Unavailable(f"SSH to {spec.name} failed: {exc}. Add the host key to the known_hosts file given.") from exc
        except OSError as exc:
            raise Unavailable(f"SSH to {spec.name} failed: {exc}. Check the address and that sshd runs.") from exc
        self._client = client
        self._sftp = client.open_sftp()

    def _read(self, path: str) -> bytes | None:
        try:
            with self._sftp.open(path, "rb") as fh:
                return fh.read(MAX_READ)
        except OSError:
            return None

    def stat(self, path: str) -> FileStat | None:
        try:
            st = self._sftp.stat(path)
        except OSError:
            return None
        mode = st.st_mode or 0
        return FileStat(statlib.S_IMODE(mode), st.st_uid or 0, st.st_gid or 0, float(st.st_mtime or 0),
                        statlib.S_ISDIR(mode))

    def glob(self, pattern: str) -> list[str]:
        out = self._exec(f"for f in {pattern}; do [ -e \"$f\" ] && printf '%s\\n' \"$f\"; done")
        return sorted(line for line in out[1].splitlines() if line) if out else []

    def _exec(self, command: str) -> tuple[int, str] | None:
        try:
            _stdin, stdout, stderr = self._client.exec_command(command, timeout=COMMAND_TIMEOUT)
            output = stdout.read(MAX_READ) + stderr.read(MAX_READ)
            rc = stdout.channel.recv_exit_status()
        except Exception as exc:  # paramiko raises several unrelated types for a dead channel
            return (255, f"ssh exec failed: {exc}")
        return rc, output.decode("utf-8", "replace")

    def _run(self, command_id: str, argv: list[str]) -> tuple[int, str] | None:
        result = self._exec("LC_ALL=C " + " ".join(shlex.quote(a) for a in argv))
        if result is not None and result[0] == 127:
            return None
        return result

    def prefetch(self, commands: list[tuple[str, list[str]]]) -> None:
        return None  # one SSH channel at a time keeps the remote side simple

    def close(self) -> None:
        try:
            self._sftp.close()
        finally:
            self._client.close()


def parse_target(text: str, *, key_file: str | None = None, known_hosts: str | None = None) -> TargetSpec:
    """``local``, ``root:/path`` (or an existing directory path), ``ssh://user@host:port``."""
    text = text.strip()
    if text in ("", "local", "localhost"):
        return TargetSpec(kind="local", name="local")
    if text.startswith("root:"):
        return TargetSpec(kind="root", name=text, root=text[5:])
    if text.startswith("ssh://"):
        rest = text[6:]
        user, _, hostport = rest.rpartition("@")
        host, _, port = hostport.partition(":")
        if not host:
            raise InvalidInput(f"Target {text!r}: write ssh://user@host[:port].")
        try:
            port_no = int(port) if port else 22
        except ValueError as exc:
            raise InvalidInput(f"Target {text!r}: the port must be a number.") from exc
        return TargetSpec(kind="ssh", name=f"{host}:{port_no}" if port else host, host=host, port=port_no,
                          user=user or None, key_file=key_file, known_hosts=known_hosts)
    if text.startswith("/") and Path(text).is_dir():
        return TargetSpec(kind="root", name=f"root:{text}", root=text)
    raise InvalidInput(f"Unknown target {text!r}: use local, root:/path or ssh://user@host[:port].")


def open_target(spec: TargetSpec) -> Target:
    if spec.kind == "local":
        return LocalTarget()
    if spec.kind == "root":
        return RootDirTarget(spec.root or "/", name=spec.name)
    if spec.kind == "ssh":
        return SshTarget(spec)
    raise InvalidInput(f"Unknown target kind {spec.kind!r}.")
