"""Driving Debian's ``restic`` through its ``--json`` output.

The repository password reaches restic only through its environment (``RESTIC_PASSWORD_FILE``
or ``RESTIC_PASSWORD``, and the ``RESTIC_FROM_*`` twins for ``copy``), never on the command
line where ``ps`` would show it. Failures become ``Unavailable``/``Conflict`` with advice.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import Conflict, InvalidInput, SocError, Unavailable
from core.settings import Settings


def generated_key(path: Path) -> Path:
    """The data dir's own restic password (0600), generated on first use so the default plan runs
    out of the box. Without it the repositories cannot be read: keep a copy away from this host."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path


@dataclass(frozen=True)
class ResticPassword:
    value: str | None = None
    file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ResticPassword:
        b = settings.backup
        if b.restic_password_file:
            if not Path(b.restic_password_file).is_file():
                raise InvalidInput(f"backup.restic_password_file {b.restic_password_file} does not exist; create it "
                                   "(mode 0600) or set SOC_BACKUP_RESTIC_PASSWORD.")
            return cls(file=Path(b.restic_password_file))
        if b.restic_password is not None and b.restic_password.get_secret_value():
            return cls(value=b.restic_password.get_secret_value())
        return cls(file=generated_key(Path(settings.data_dir) / "secrets" / "restic.key"))

    def env(self, prefix: str = "RESTIC_") -> dict[str, str]:
        if self.file is not None:
            return {f"{prefix}PASSWORD_FILE": str(self.file)}
        return {f"{prefix}PASSWORD": self.value or ""}


@dataclass(frozen=True)
class LockInfo:
    id: str
    hostname: str
    pid: int
    time: str
    exclusive: bool

    @property
    def holder_alive(self) -> bool:
        if self.hostname != socket.gethostname():
            return True  # cannot tell for another host: assume alive, let restic's age rule decide
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def classify(stderr: str, what: str, repo: str) -> SocError:
    text = stderr.strip()
    tail = "\n".join(text.splitlines()[-6:])
    low = text.lower()
    if "is there a repository at the following location" in low or "repository does not exist" in low:
        return Unavailable(f"{what}: no restic repository at {repo}. Check the plan's repository path (is the "
                           "disk mounted?) or initialise it with `soc backup run` on a fresh location.")
    if "no space left on device" in low or "disk quota exceeded" in low:
        return Unavailable(f"{what}: the repository at {repo} is full (no space left on device). Free space or "
                           "prune old recovery points (`soc backup prune PLAN`), then retry.")
    if "wrong password" in low or "no key found" in low:
        return Unavailable(f"{what}: the restic password does not open {repo}. Check backup.restic_password_file.")
    if "repository is already locked" in low or "unable to create lock" in low:
        return Conflict(f"{what}: {repo} is locked by another restic process. Wait for it, or if it crashed run "
                        "the backup again (stale locks of dead processes are cleared).")
    if "permission denied" in low:
        return Unavailable(f"{what}: permission denied on {repo}. Fix the directory's ownership.")
    return Unavailable(f"{what} failed for {repo}: {tail or 'restic exited with an error'}")


class Restic:
    def __init__(self, repo: str | Path, password: ResticPassword, *, binary: str = "restic",
                 cache_dir: Path | None = None, timeout: float = 3600.0, owned_parent: bool = False,
                 ssh_config: Path | None = None, limit_upload_kib: int | None = None) -> None:
        self.repo = str(repo)
        self.remote = self.repo.startswith(("sftp:", "rest:", "s3:"))
        self.global_args: list[str] = []
        if self.repo.startswith("sftp:"):
            host = self.repo.split(":")[1]
            ssh = ["ssh", "-o", "BatchMode=yes", *(["-F", str(ssh_config)] if ssh_config else []), host, "-s", "sftp"]
            self.global_args += ["-o", "sftp.command=" + " ".join(shlex.quote(a) for a in ssh)]
        if limit_upload_kib:
            self.global_args += ["--limit-upload", str(limit_upload_kib)]
        # True when the repository sits at the orchestrator's own default location (under the data
        # dir): its folders are created on first use. A path a plan names may be a mount point,
        # and a missing mount must fail rather than fill the root disk.
        self.owned_parent = owned_parent
        self.password = password
        self.binary = binary
        self.cache_dir = cache_dir
        self.timeout = timeout

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        # Never inherit the caller's RESTIC_* variables: they could point restic elsewhere.
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env.update(self.password.env())
        env["RESTIC_REPOSITORY"] = self.repo
        env["RESTIC_PROGRESS_FPS"] = "0.2"
        if self.cache_dir is not None:
            env["RESTIC_CACHE_DIR"] = str(self.cache_dir)
        env.update(extra or {})
        return env

    def run(self, args: Sequence[str], what: str, *, extra_env: dict[str, str] | None = None,
            ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        binary = shutil.which(self.binary)
        if not binary:
            raise Unavailable(f"restic ({self.binary}) is not installed; run scripts/bootstrap.sh or `apt-get install "
                              "restic`, or set backup.restic_binary.")
        try:
            proc = subprocess.run([binary, *self.global_args, *args], env=self._env(extra_env), capture_output=True, text=True,  # noqa: S603
                                  timeout=self.timeout, check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise Unavailable(f"{what} on {self.repo} did not finish within {self.timeout:.0f}s; raise "
                              "backup.operation_timeout_seconds or check the repository's disk.") from exc
        if proc.returncode not in ok_codes:
            raise classify(proc.stderr, what, self.repo)
        return proc

    @staticmethod
    def _json_lines(stdout: str) -> list[dict[str, Any]]:
        out = []
        for line in stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    # -- repository ----------------------------------------------------------------------

    def exists(self) -> bool:
        if not self.remote:
            return (Path(self.repo) / "config").is_file()
        proc = self.run(["cat", "config", "--no-lock"], "Opening the remote restic repository", ok_codes=(0, 1))
        if proc.returncode == 0:
            return True
        low = proc.stderr.lower()
        if "is there a repository" in low or "does not exist" in low or "no such file" in low:
            return False
        raise Unavailable(f"The second-site repository {self.repo} cannot be reached: "
                          f"{' | '.join(proc.stderr.strip().splitlines()[-3:])[:400]}. Check the link, the ssh_config "
                          "and the remote host's sshd.")

    def init(self, *, copy_chunker_from: Restic | None = None) -> None:
        args = ["init"]
        extra: dict[str, str] = {}
        if copy_chunker_from is not None:
            # Same chunker parameters keep deduplication working for copied snapshots.
            args += ["--copy-chunker-params", "--from-repo", copy_chunker_from.repo]
            extra = copy_chunker_from.password.env("RESTIC_FROM_")
        self.run(args, "Initialising restic repository", extra_env=extra)

    def ensure(self, *, create: bool, copy_chunker_from: Restic | None = None) -> None:
        if self.exists():
            return
        if not create:
            raise Unavailable(f"No restic repository at {self.repo}: the disk may be unmounted or the repository "
                              "deleted. Restore the repository or point the plan at the right path.")
        if self.remote:
            self.init(copy_chunker_from=copy_chunker_from)
            return
        parent = Path(self.repo).parent
        if self.owned_parent:
            parent.mkdir(parents=True, exist_ok=True)
        if not parent.is_dir():
            raise Unavailable(f"The directory holding the restic repository ({parent}) does not exist; mount the "
                              "backup disk or create the directory, then retry.")
        self.init(copy_chunker_from=copy_chunker_from)

    # -- operations ----------------------------------------------------------------------

    def backup(self, paths: Sequence[str], tags: Sequence[str]) -> dict[str, Any]:
        args = ["backup", "--json", "--one-file-system"]
        for tag in tags:
            args += ["--tag", tag]
        proc = self.run([*args, "--", *paths], "restic backup", ok_codes=(0, 3))
        summary = next((m for m in self._json_lines(proc.stdout) if m.get("message_type") == "summary"), None)
        if summary is None:
            raise Unavailable(f"restic backup to {self.repo} reported no summary: {proc.stderr.strip()[-400:]}")
        if proc.returncode == 3:
            # Exit 3: some source files could not be read; the snapshot is incomplete.
            summary["incomplete"] = proc.stderr.strip()[-800:]
        return summary

    def snapshots(self, tags: Sequence[str] = ()) -> list[dict[str, Any]]:
        args = ["snapshots", "--json", "--no-lock"]
        for tag in tags:
            args += ["--tag", tag]
        data = json.loads(self.run(args, "Listing restic snapshots").stdout or "[]")
        return list(data or [])

    def restore(self, snapshot: str, target: Path, *, no_cache: bool = True, include: Sequence[str] = ()) -> None:
        args = ["restore", snapshot, "--target", str(target)]
        for path in include:
            args += ["--include", path]
        if no_cache:
            args.insert(0, "--no-cache")
        self.run(args, f"restic restore of {snapshot}")

    def check(self, subset: str | None) -> str:
        """Structure first, then a sample of the data; a missing pack stops it before restic's
        read-data pass spends minutes retrying the pack."""
        self._check(["--no-cache", "check"])
        if not subset:
            return "structure checked"
        self._check(["--no-cache", "check", f"--read-data-subset={subset}"])
        return f"structure and {subset} of the data checked"

    def _check(self, args: list[str]) -> None:
        proc = self.run(args, "restic check", ok_codes=(0, 1))
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip() and "%" not in ln]
            raise Unavailable(f"restic check found problems in {self.repo}: " + " | ".join(lines[-4:])[:600])

    def forget(self, snapshot_ids: Sequence[str], *, prune: bool = True) -> None:
        if not snapshot_ids:
            return
        args = ["forget", *snapshot_ids]
        if prune:
            args.insert(1, "--prune")
        self.run(args, "restic forget")

    def copy_command(self, source: Restic, snapshot_ids: Sequence[str] = (), tags: Sequence[str] = ()) -> list[str]:
        args = ["copy", "--from-repo", source.repo]
        for tag in tags:
            args += ["--tag", tag]
        return [*args, *snapshot_ids]

    def copy_from(self, source: Restic, snapshot_ids: Sequence[str] = (), *, tags: Sequence[str] = ()) -> None:
        """Copy snapshots (all matching ``tags`` when no ids are given). restic skips snapshots the
        destination already holds and uploads only blobs its index lacks, so a copy re-run after an
        interruption or an outage picks up where the last complete snapshot left off."""
        self.run(self.copy_command(source, snapshot_ids, tags), "restic copy to offsite",
                 extra_env=source.password.env("RESTIC_FROM_"))

    def stats(self) -> dict[str, Any]:
        proc = self.run(["stats", "--json", "--no-lock", "--mode", "raw-data"], "restic stats")
        lines = self._json_lines(proc.stdout)
        return lines[-1] if lines else {}

    # -- locks ---------------------------------------------------------------------------

    def locks(self) -> list[LockInfo]:
        proc = self.run(["list", "locks", "--no-lock"], "Listing restic locks")
        infos = []
        for lock_id in proc.stdout.split():
            try:
                data = json.loads(self.run(["cat", "lock", lock_id, "--no-lock"], "Reading a restic lock").stdout)
            except (Unavailable, ValueError):
                continue  # the lock vanished between list and cat
            infos.append(LockInfo(id=lock_id, hostname=str(data.get("hostname", "")), pid=int(data.get("pid", 0)),
                                  time=str(data.get("time", "")), exclusive=bool(data.get("exclusive", False))))
        return infos

    def clear_stale_locks(self) -> list[str]:
        """``restic unlock`` only when every lock's holder on this host is dead; returns what was cleared."""
        stale = [lock for lock in self.locks() if not lock.holder_alive]
        if stale:
            # Without --remove-all, restic itself removes only locks it also judges stale.
            self.run(["unlock"], "restic unlock")
        return [lock.id for lock in stale]
