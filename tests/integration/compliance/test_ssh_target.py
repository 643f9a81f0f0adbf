"""SSH targets: a real sshd on 127.0.0.1 (own config, host key and authorised key), paramiko as client."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance.checkset import builtin_dir, load_checks
from compliance.engine import run_host_checks
from compliance.models import TargetSpec
from compliance.targets import LocalTarget, SshTarget
from core.errors import Unavailable
from tests.conftest import free_port

SSHD = "/usr/sbin/sshd"


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30)
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[dict[str, object]]:
    assert os.path.exists(SSHD), "openssh-server is installed by scripts/bootstrap.sh"
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    host_pub = _keygen(tmp_path / "host_key")
    client_pub = _keygen(tmp_path / "client_key")
    (tmp_path / "authorized_keys").write_text(client_pub + "\n")
    os.chmod(tmp_path / "authorized_keys", 0o600)
    port = free_port()
    config = tmp_path / "sshd_config"
    config.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp_path / 'host_key'}\n"
                      f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}\nPidFile {tmp_path / 'sshd.pid'}\n"
                      "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
                      "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\nLogLevel ERROR\n")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None:
            raise AssertionError(f"sshd exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.1)
    try:
        yield {"port": port, "key": str(tmp_path / "client_key"), "known": str(known), "tmp": tmp_path}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _spec(sshd: dict[str, object], **over: object) -> TargetSpec:
    base = dict(kind="ssh", name="loopback", host="127.0.0.1", port=sshd["port"], user="root",
                key_file=sshd["key"], known_hosts=sshd["known"])
    base.update(over)
    return TargetSpec(**base)  # type: ignore[arg-type]


def test_ssh_target_agrees_with_local_target(sshd: dict[str, object]) -> None:
    # Commands, processes and sockets change between two runs on a shared machine; files do not.
    checks = [c for c in load_checks([builtin_dir()]).values() if c.kind == "host"
              and not any(r.type in ("command", "service", "port") for r in c.rules)]
    remote = SshTarget(_spec(sshd))
    try:
        assert remote.read("/etc/hostname") == Path("/etc/hostname").read_bytes()
        assert remote.stat("/etc/passwd") is not None and remote.stat("/nope") is None
        assert "/etc/passwd" in remote.glob("/etc/pass*")
        assert remote.run("echo", ["echo", "hello"]) == (0, "hello\n")
        assert remote.run("missing", ["definitely-not-a-command-xyz"]) is None
        over_ssh = {r.check_id: r.result for r in run_host_checks(remote, checks)}
    finally:
        remote.close()
    local = LocalTarget()
    try:
        here = {r.check_id: r.result for r in run_host_checks(local, checks)}
    finally:
        local.close()
    assert len(over_ssh) == len(checks) >= 35
    assert over_ssh == here


def test_wrong_key_and_unknown_host_are_refused(sshd: dict[str, object]) -> None:
    other = Path(str(sshd["tmp"])) / "other_key"
    _keygen(other)
    with pytest.raises(Unavailable, match="authentication failed"):
        SshTarget(_spec(sshd, key_file=str(other)))
    empty = Path(str(sshd["tmp"])) / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(Unavailable, match="known_hosts"):
        SshTarget(_spec(sshd, known_hosts=str(empty)))
