"""The sealed head of the trail, kept outside both copies.

Deleting the newest records from Elasticsearch *and* the mirror leaves a chain that is intact
as far as it goes; only something written elsewhere can tell that it used to be longer. After
every append (and every verification) the head ``(seq, hash, time)`` is

- appended to a separate head file (``<data_dir>/audit/head.log``), each line sealed with the
  audit key so a lower head cannot be forged; as root the file (and the mirror) get the
  append-only attribute (``chattr +a``) so even a truncating writer needs to remove it first;
- sent to the local syslog socket (the system journal where journald runs) and, if configured,
  to a remote syslog receiver, where the operator of this host cannot take it back.
"""

from __future__ import annotations

import array
import errno
import fcntl
import hashlib
import hmac
import os
import socket
from pathlib import Path

import orjson

from audit.models import Head

_TAIL_BYTES = 64 * 1024
# linux/fs.h
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_APPEND_FL = 0x00000020
_LOCAL_SYSLOG = ("/run/systemd/journal/dev-log", "/dev/log")
_SYSLOG_PRI = 4 * 8 + 5  # facility auth, severity notice
TAG = "qinglang-audit"


def append_only(path: Path) -> bool:
    """Whether the file carries the append-only attribute."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        buf = array.array("l", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf, True)
        return bool(buf[0] & _FS_APPEND_FL)
    except OSError:
        return False
    finally:
        os.close(fd)


def make_append_only(path: Path) -> str | None:
    """Set ``chattr +a`` (needs root and a filesystem that supports it); the reason if not."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "not running as root"
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = array.array("l", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf, True)
        if not buf[0] & _FS_APPEND_FL:
            buf[0] |= _FS_APPEND_FL
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, buf, True)
        return None
    except OSError as exc:
        if exc.errno in (errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL):
            return "the filesystem does not support the append-only attribute"
        return os.strerror(exc.errno or 0)
    finally:
        os.close(fd)


class HeadAnchor:
    def __init__(self, path: Path, secret: bytes, trail: str, *, syslog_address: str | None = None,
                 want_append_only: bool = False) -> None:
        self.path = path
        self.trail = trail
        self._secret = secret
        self._syslog_address = syslog_address
        self._want_append_only = want_append_only
        self.append_only_error: str | None = None
        self._prepared = False

    # -- sealing ----------------------------------------------------------------------------

    def _mac(self, head: Head) -> str:
        text = f"{self.trail}|{head.seq}|{head.hash}|{head.time}|{head.kind}".encode()
        return hmac.new(self._secret, text, hashlib.sha256).hexdigest()

    def prepare(self) -> None:
        if self._prepared:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
        if self._want_append_only:
            self.append_only_error = make_append_only(self.path)
        self._prepared = True

    def seal(self, head: Head) -> str:
        """Append the head to the file and send it to syslog; returns the journal status."""
        self.prepare()
        line = {"trail": self.trail, **head.to_dict(), "mac": self._mac(head)}
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, orjson.dumps(line) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        return self._send(line)

    def _send(self, line: dict[str, object]) -> str:
        text = " ".join(f"{k}={line[k]}" for k in ("trail", "seq", "hash", "time", "kind", "mac"))
        message = f"<{_SYSLOG_PRI}>{TAG}[{os.getpid()}]: head {text}".encode()
        sent = False
        targets: list[str] = [p for p in _LOCAL_SYSLOG if os.path.exists(p)][:1]
        if self._syslog_address:
            targets.append(self._syslog_address)
        for target in targets:
            try:
                _send_datagram(target, message)
                sent = True
            except OSError:
                continue  # the head file still holds it; verify reports the journal as unavailable
        return "sent" if sent else "unavailable"

    # -- reading ----------------------------------------------------------------------------

    def sealed(self) -> tuple[Head | None, list[str]]:
        """The highest authentic head among the newest lines, and the lines that are not."""
        if not self.path.exists():
            return None, []
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh:
            fh.seek(max(0, size - _TAIL_BYTES))
            data = fh.read()
        lines = data.splitlines()
        if size > _TAIL_BYTES and lines:
            lines = lines[1:]  # the first line of the tail is cut
        best: Head | None = None
        problems: list[str] = []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                item = orjson.loads(raw)
                head = Head(seq=int(item["seq"]), hash=str(item["hash"]), time=str(item["time"]),
                            kind=str(item.get("kind", "append")))
                ok = item.get("trail") == self.trail and hmac.compare_digest(str(item.get("mac")), self._mac(head))
            except (ValueError, KeyError, TypeError):
                problems.append(f"unreadable line in {self.path}")
                continue
            if not ok:
                problems.append(f"a line for seq={head.seq} in {self.path} is not sealed by the audit key")
                continue
            if best is None or head.seq > best.seq or (head.seq == best.seq and head.kind == "append"):
                best = head
        return best, problems


def _send_datagram(target: str, message: bytes) -> None:
    if target.startswith("unix:") or target.startswith("/"):
        path = target.removeprefix("unix:")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(path)
            sock.send(message)
        return
    address = target.removeprefix("udp://")
    host, _, port = address.rpartition(":")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(message, (host.strip("[]"), int(port or 514)))
