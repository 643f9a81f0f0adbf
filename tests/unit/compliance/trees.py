"""Prepared file trees for the root-directory target: one that meets every host check, one that fails each."""

from __future__ import annotations

import os
import time
from pathlib import Path

DAY = 86400


def _w(root: Path, path: str, text: str, *, mode: int = 0o644, uid: int = 0, gid: int = 0, age_days: float = 0,
       owners: list[str] | None = None) -> None:
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, "utf-8")
    if age_days:
        stamp = time.time() - age_days * DAY
        os.utime(p, (stamp, stamp))
    if owners is not None:
        owners.append(f"{mode:o} {uid} {gid} {path}")


def _dir(root: Path, path: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0, owners: list[str]) -> None:
    (root / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
    owners.append(f"{mode:o} {uid} {gid} {path}")


def _dpkg(installed: list[str], removed: list[str]) -> str:
    blocks = [f"Package: {p}\nStatus: install ok installed\nVersion: 1.0\n" for p in installed]
    blocks += [f"Package: {p}\nStatus: deinstall ok config-files\nVersion: 1.0\n" for p in removed]
    return "\n".join(blocks)


def _units(running: list[str]) -> str:
    return "".join(f"{name}.service loaded active running {name}\n" for name in running) + \
        "cron.service loaded inactive dead Regular background program processing daemon\n"


def _proc_tcp(ports: list[int]) -> str:
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    rows = [f"   {n}: 00000000:{port:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 {1000 + n}\n"
            for n, port in enumerate(ports)]
    rows.append("   9: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 2000\n")
    return head + "".join(rows)


def _proc_udp(ports: list[int]) -> str:
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    return head + "".join(f"   {n}: 00000000:{port:04X} 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 {3000 + n}\n"
                          for n, port in enumerate(ports))


def _sysctl(root: Path, values: dict[str, str]) -> None:
    for key, value in values.items():
        _w(root, "/proc/sys/" + key.replace(".", "/"), value + "\n")


def build_compliant(root: Path) -> Path:
    o: list[str] = []
    _w(root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
       "sync:x:4:65534:sync:/bin:/bin/sync\nsshd:x:105:65534::/run/sshd:/usr/sbin/nologin\n"
       "alice:x:1000:1000:Alice:/home/alice:/bin/bash\nbob:x:1001:1001:Bob:/home/bob:/bin/bash\n"
       "carol:x:1002:1002:Carol:/home/carol:/bin/bash\n", owners=o)
    _w(root, "/etc/shadow", "root:$6$abc$hash:19000:1:90:7:35::\ndaemon:*:19000:0:99999:7:::\nsync:*:19000:0:99999:7:::\n"
       "sshd:!:19000::::::\nalice:$6$x$h1:19000:1:90:7:35::\nbob:$6$y$h2:19000:1:90:7:35::\ncarol:$6$z$h3:19000:1:90:7:35::\n",
       mode=0o640, gid=42, owners=o)
    _w(root, "/etc/group", "root:x:0:\nshadow:x:42:\nsudo:x:27:alice\nsysadm:x:2001:alice\nsecadm:x:2002:bob\n"
       "audadm:x:2003:carol\nsshusers:x:2004:alice,bob,carol\n", owners=o)
    _w(root, "/etc/gshadow", "root:*::\nshadow:*::\n", mode=0o640, gid=42, owners=o)
    _w(root, "/etc/security/pwquality.conf", "# quality\nminlen = 12\nminclass = 3\n")
    _w(root, "/etc/pam.d/common-password", "password requisite pam_pwquality.so retry=3\npassword [success=1] pam_unix.so obscure yescrypt\n")
    _w(root, "/etc/pam.d/common-auth", "auth required pam_faillock.so preauth deny=5 unlock_time=900\nauth [success=1] pam_unix.so\n")
    _w(root, "/etc/security/faillock.conf", "deny = 5\nunlock_time = 900\n")
    _w(root, "/etc/login.defs", "PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\nUMASK 027\n")
    _w(root, "/etc/profile.d/tmout.sh", "readonly TMOUT=600\nexport TMOUT\n")
    _w(root, "/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\nClientAliveInterval 300\n"
       "ClientAliveCountMax 0\nMaxAuthTries 4\nPermitEmptyPasswords no\n"
       "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com\nMACs hmac-sha2-512-etm@openssh.com\n"
       "AuthenticationMethods publickey,keyboard-interactive\nAllowGroups sshusers\n", mode=0o600, owners=o)
    _w(root, "/etc/ssh/sshd_config.d/10-local.conf", "PermitRootLogin no\n")
    _w(root, "/etc/ssh/ssh_host_ed25519_key", "KEY\n", mode=0o600, owners=o)
    _w(root, "/etc/pam.d/sshd", "auth required pam_google_authenticator.so\n")
    _w(root, "/var/lib/dpkg/status", _dpkg(["openssh-server", "auditd", "unattended-upgrades", "aide", "clamav",
                                            "clamav-freshclam", "libpam-pwquality", "rsyslog", "chrony", "nftables"],
                                           ["telnet", "xinetd"]))
    _w(root, "/.qinglang/commands/systemd-units.out", _units(["ssh", "auditd", "rsyslog", "chrony", "clamav-freshclam"]))
    _w(root, "/.qinglang/commands/apt-upgradable.out",
       "Listing... Done\nlibfoo/bookworm-updates 1.2 amd64 [upgradable from: 1.1]\n")
    _w(root, "/proc/net/tcp", _proc_tcp([22]))
    _w(root, "/proc/net/tcp6", _proc_tcp([22]))
    _w(root, "/proc/net/udp", _proc_udp([123]))
    _sysctl(root, {"net.ipv4.conf.all.accept_redirects": "0", "net.ipv4.conf.all.send_redirects": "0",
                   "net.ipv4.conf.all.accept_source_route": "0", "net.ipv4.tcp_syncookies": "1",
                   "kernel.randomize_va_space": "2", "fs.suid_dumpable": "0"})
    _w(root, "/etc/sudoers", "Defaults use_pty\nroot ALL=(ALL:ALL) ALL\n%sysadm ALL=(root) /usr/bin/systemctl\n",
       mode=0o440, owners=o)
    _w(root, "/etc/sudoers.d/secadm", "%secadm ALL=(root) /usr/sbin/nft\n", mode=0o440, owners=o)
    _w(root, "/etc/default/useradd", "SHELL=/bin/bash\nINACTIVE=35\n")
    _w(root, "/etc/audit/rules.d/50-identity.rules",
       "-w /etc/passwd -p wa -k identity\n-w /etc/shadow -p wa -k identity\n-w /etc/group -p wa -k identity\n"
       "-w /etc/sudoers -p wa -k scope\n-a always,exit -F arch=b64 -S execve -k exec\n")
    _w(root, "/etc/audit/rules.d/99-finalize.rules", "-e 2\n")
    _w(root, "/etc/audit/auditd.conf", "max_log_file_action = keep_logs\nnum_logs = 5\nspace_left_action = email\n")
    _dir(root, "/var/log/audit", mode=0o750, owners=o)
    _w(root, "/var/log/audit/audit.log", "type=DAEMON_START\n", mode=0o600, owners=o)
    _w(root, "/etc/rsyslog.d/90-forward.conf", "*.* @@10.0.0.5:5514\n")
    _w(root, "/etc/chrony/chrony.conf", "server ntp.internal iburst\n")
    _w(root, "/etc/nftables.conf", "table inet filter {\n chain input { type filter hook input priority 0; policy drop; }\n}\n")
    _w(root, "/etc/apt/apt.conf.d/20auto-upgrades", 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n')
    _w(root, "/var/lib/clamav/daily.cld", "sig", age_days=1)
    _w(root, "/etc/cron.d/backup", "0 2 * * * root restic backup /srv\n", owners=o)
    _w(root, "/var/lib/qinglang/backup/last-success", "ok\n", age_days=0.5)
    _w(root, "/var/lib/qinglang/backup/last-restore-test", "ok\n", age_days=10)
    _w(root, "/sys/module/apparmor/parameters/enabled", "Y\n")
    _w(root, "/etc/crontab", "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n", owners=o)
    _dir(root, "/etc/cron.d", owners=o)
    _w(root, "/.qinglang/owners", "\n".join(o) + "\n")
    return root


def build_noncompliant(root: Path) -> Path:
    o: list[str] = []
    _w(root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/bash\n"
       "daemon:x:1:1:daemon:/usr/sbin:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"
       "eve:x:1000:1000::/home/eve:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/bash\n"
       "bob:x:1003:1003::/home/bob2:/bin/bash\nguest:x:1002:1002::/home/guest:/bin/bash\n", mode=0o666, owners=o)
    _w(root, "/etc/shadow", "root:$6$abc$hash:19000:0:99999:7:::\ntoor:$6$q$h:19000::::::\ndaemon:$6$d$h:19000::::::\n"
       "alice:$6$x$h1:19000:0:99999:7:::\nbob:$6$y$h2:19000:0:99999:7::100:\nguest::19000:0:99999:7:::\n",
       mode=0o644, uid=1000, owners=o)
    _w(root, "/etc/group", "root:x:0:\nsudo:x:27:alice,bob,eve\nusers:x:100:\n", mode=0o666, owners=o)
    _w(root, "/etc/gshadow", "root:*::\n", mode=0o644, owners=o)
    _w(root, "/etc/security/pwquality.conf", "minlen = 6\nminclass = 1\n")
    _w(root, "/etc/pam.d/common-password", "password [success=1] pam_unix.so obscure sha512\n")
    _w(root, "/etc/pam.d/common-auth", "auth [success=1] pam_unix.so nullok\n")
    _w(root, "/etc/login.defs", "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\nPASS_WARN_AGE 3\nUMASK 022\n")
    _w(root, "/etc/profile", "export PATH=/usr/bin:/bin\n# TMOUT=600\n")
    _w(root, "/etc/ssh/sshd_config", "PermitRootLogin yes\nClientAliveInterval 0\nMaxAuthTries 10\nPermitEmptyPasswords yes\n"
       "Ciphers aes128-cbc,3des-cbc\nMACs hmac-md5\nPasswordAuthentication yes\n", mode=0o666, uid=1000, owners=o)
    _w(root, "/etc/ssh/ssh_host_ed25519_key", "KEY\n", mode=0o644, owners=o)
    _w(root, "/var/lib/dpkg/status", _dpkg(["telnetd", "rsh-server", "vsftpd", "xinetd", "nis", "cups"],
                                           ["openssh-server", "auditd", "clamav", "aide", "unattended-upgrades"]))
    _w(root, "/.qinglang/commands/systemd-units.out", _units(["avahi-daemon", "cups", "xinetd"]))
    _w(root, "/.qinglang/commands/apt-upgradable.out",
       "Listing... Done\nopenssl/bookworm-security 3.0.15 amd64 [upgradable from: 3.0.11]\n")
    _w(root, "/proc/net/tcp", _proc_tcp([21, 23, 445, 512]))
    _w(root, "/proc/net/udp", _proc_udp([69]))
    _sysctl(root, {"net.ipv4.conf.all.accept_redirects": "1", "net.ipv4.conf.all.send_redirects": "1",
                   "net.ipv4.conf.all.accept_source_route": "1", "net.ipv4.tcp_syncookies": "0",
                   "kernel.randomize_va_space": "0", "fs.suid_dumpable": "2"})
    _w(root, "/etc/sudoers", "root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) NOPASSWD: ALL\n", mode=0o644, owners=o)
    _w(root, "/etc/default/useradd", "INACTIVE=-1\n")
    _w(root, "/etc/audit/auditd.conf", "max_log_file_action = syslog\nnum_logs = 2\nspace_left_action = ignore\n")
    _w(root, "/etc/rsyslog.conf", "*.* /var/log/syslog\n")
    _w(root, "/etc/ufw/ufw.conf", "ENABLED=no\n")
    _w(root, "/etc/apt/apt.conf.d/20auto-upgrades", 'APT::Periodic::Unattended-Upgrade "0";\n')
    _w(root, "/etc/cron.d/cleanup", "0 3 * * * root find /tmp -mtime +7 -delete\n", owners=o)
    _w(root, "/var/lib/qinglang/backup/last-success", "ok\n", age_days=10)
    _w(root, "/var/lib/qinglang/backup/last-restore-test", "ok\n", age_days=200)
    _w(root, "/sys/module/apparmor/parameters/enabled", "N\n")
    _w(root, "/etc/selinux/config", "SELINUX=disabled\n")
    _w(root, "/etc/crontab", "* * * * * root /tmp/x\n", mode=0o666, owners=o)
    _w(root, "/.qinglang/owners", "\n".join(o) + "\n")
    return root
