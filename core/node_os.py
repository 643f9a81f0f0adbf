"""Process and file-system helpers of the managed node: who it runs as (Elasticsearch refuses
root), ports, whether a pid is alive, ownership and permissions of its directories."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from pathlib import Path

from core.errors import Conflict, InvalidInput


def is_root() -> bool:
    return os.geteuid() == 0


def run_as(user: str) -> tuple[int | None, int | None]:
    """The uid/gid the node runs as: none as an ordinary user; as root ``user``, created on demand."""
    if not is_root():
        return None, None
    import pwd

    name = user
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        proc = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode not in (0, 9):
            raise InvalidInput(
                f"Elasticsearch refuses to run as root and the user {name!r} could not be created "
                f"({proc.stderr.strip()}). Create it yourself or run `soc` as an ordinary user."
            ) from None
        entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise Conflict(
                f"Port {port} on {host} is already in use ({exc.strerror}), so the managed "
                "Elasticsearch node cannot start. Stop whatever holds it, choose another port with "
                "SOC_ES_PORT (transport: SOC_ES_TRANSPORT_PORT), or point SOC_ES_URL at a running cluster."
            ) from exc


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def chown_tree(root: Path, uid: int, gid: int | None) -> None:
    os.chown(root, uid, gid if gid is not None else -1)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(dirpath, name), uid, gid if gid is not None else -1, follow_symlinks=False)


def ensure_traversable(path: Path) -> None:
    """Give others +x on every parent so the unprivileged user can reach ``path``."""
    for parent in [path, *path.parents]:
        with contextlib.suppress(OSError):
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
