"""A second site (政务灾备份中心) for tests: a real sshd on 127.0.0.1 with its own host key and
authorized_keys, serving SFTP; restic reaches it through the ssh_config this writes."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port


@dataclass
class SecondSite:
    root: Path
    ssh_config: Path
    proc: subprocess.Popen[bytes]
    sshd_config: Path
    port: int

    def repo(self, name: str) -> str:
        return f"sftp:drsite:{self.root / name}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)

    def restart(self) -> None:
        self.proc = _sshd(self.sshd_config, self.port)


def _sshd(sshd_config: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(sshd_config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("sshd did not start")


def start(base: Path) -> SecondSite:
    base.mkdir(parents=True, exist_ok=True)
    keys = base / "keys"
    keys.mkdir(mode=0o700)
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    (keys / "authorized_keys").write_text((keys / "client.pub").read_text())
    port = free_port()
    (keys / "known_hosts").write_text(f"[127.0.0.1]:{port} {(keys / 'host.pub').read_text()}")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    sshd_config = keys / "sshd_config"
    sshd_config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {keys / 'host'}
AuthorizedKeysFile {keys / 'authorized_keys'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile {keys / 'sshd.pid'}
Subsystem sftp internal-sftp
""")
    proc = _sshd(sshd_config, port)
    ssh_config = keys / "ssh_config"
    ssh_config.write_text(f"""Host drsite
  HostName 127.0.0.1
  Port {port}
  User root
  IdentityFile {keys / 'client'}
  IdentitiesOnly yes
  UserKnownHostsFile {keys / 'known_hosts'}
  StrictHostKeyChecking yes
""")
    root = base / "site"
    root.mkdir()
    return SecondSite(root=root, ssh_config=ssh_config, proc=proc, sshd_config=sshd_config, port=port)
