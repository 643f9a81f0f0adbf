"""Syslog lines (RFC 3164 / BSD, RFC 5424, ISO-timestamped files) and the programs behind them.

Field layout follows Filebeat's ``system`` module: ``host.hostname``, ``process.name``,
``process.pid``, ``message`` (the text after ``prog[pid]:``), ``log.syslog.*`` for a priority.
Lines from authentication programs go to ``system.auth`` (see ``collectors.parsers.auth``),
kernel firewall lines to ``iptables.log``, the rest to ``system.syslog``.
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers.common import Clock, add_related

_BSD = re.compile(r"([A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) (.*)", re.S)
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:[Zz]|[+-]\d{2}:?\d{2})?) (.*)", re.S)
_HOST_PROG = re.compile(r"([^\s\[\]:]+) ([^\s\[\]:]+)(?:\[(\d+)\])?:(?: (.*)|$)", re.S)
_NOHOST_PROG = re.compile(r"([^\s\[\]:]+)(?:\[(\d+)\])?:(?: (.*)|$)", re.S)
_PRI = re.compile(r"<(\d{1,3})>")
_RFC5424 = re.compile(
    r"1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (.*))?$", re.S)

FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
              "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
              "local4", "local5", "local6", "local7")
SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")

AUTH_PROGRAMS = frozenset({
    "sshd", "sudo", "su", "login", "passwd", "useradd", "userdel", "usermod", "groupadd", "groupdel", "groupmod",
    "chpasswd", "chage", "gpasswd", "newgrp", "systemd-logind", "polkitd", "pkexec", "unix_chkpwd", "sshd-session",
    "dropbear", "vsftpd", "chsh", "chfn", "pam", "gdm-password", "lightdm", "cron", "CRON", "crond",
})


class SyslogHeader:
    __slots__ = ("timestamp", "hostname", "program", "pid", "message", "priority", "error", "structured", "msgid")

    def __init__(self) -> None:
        self.timestamp: str | None = None
        self.hostname: str | None = None
        self.program: str | None = None
        self.pid: int | None = None
        self.message: str = ""
        self.priority: int | None = None
        self.error: str | None = None
        self.structured: str | None = None
        self.msgid: str | None = None


def parse_header(text: str, clock: Clock, *, allow_pri: bool = True) -> SyslogHeader:
    """Split a syslog line into its header fields; ``error`` says what did not match."""
    h = SyslogHeader()
    rest = text
    if allow_pri and rest.startswith("<"):
        m = _PRI.match(rest)
        if m and int(m.group(1)) <= 191:
            h.priority = int(m.group(1))
            rest = rest[m.end():]
        else:
            end = rest.find(">", 0, 8)
            h.error = f"invalid syslog priority {rest[:end + 1] if end > 0 else rest[:8]!r}"
            if end > 0:
                rest = rest[end + 1:]
    if rest.startswith("1 "):
        m5 = _RFC5424.match(rest)
        if m5:
            ts, host, app, procid, msgid, sd, msg = m5.groups()
            h.timestamp = clock.iso8601(ts) if ts != "-" else None
            h.hostname = None if host == "-" else host
            h.program = None if app == "-" else app
            h.pid = int(procid) if procid.isdigit() else None
            h.msgid = None if msgid == "-" else msgid
            h.structured = None if sd == "-" else sd
            msg = msg or ""
            h.message = msg[1:] if msg.startswith("\ufeff") else msg
            return h
    m = _BSD.match(rest)
    if m:
        h.timestamp = clock.bsd(m.group(1))
    else:
        m = _ISO.match(rest)
        if m:
            h.timestamp = clock.iso8601(m.group(1))
    if m is None:
        h.message = rest
        h.error = h.error or "no syslog timestamp"
        return h
    if h.timestamp is None and h.error is None:
        h.error = f"unreadable timestamp {m.group(1)!r}"
    body = m.group(2)
    hp = _HOST_PROG.match(body)
    if hp:
        h.hostname, h.program = hp.group(1), hp.group(2)
        h.pid = int(hp.group(3)) if hp.group(3) else None
        h.message = hp.group(4) or ""
        return h
    np_ = _NOHOST_PROG.match(body)
    if np_:
        # Network senders often omit the hostname ("<13>Feb 5 17:32:18 sshd[1]: ..."), and so do
        # some file layouts (RHEL's secure log as exported by some tools): the token is a program.
        h.program = np_.group(1)
        h.pid = int(np_.group(2)) if np_.group(2) else None
        h.message = np_.group(3) or ""
        return h
    h.message = body
    return h


def base_doc(h: SyslogHeader, original: str, dataset: str, module: str, tz_label: str) -> dict[str, Any]:
    event: dict[str, Any] = {"kind": "event", "dataset": dataset, "module": module, "timezone": tz_label,
                             "original": original}
    doc: dict[str, Any] = {"message": h.message, "event": event}
    if h.timestamp:
        doc["@timestamp"] = h.timestamp
    if h.hostname:
        doc["host"] = {"hostname": h.hostname}
        add_related(doc, "hosts", h.hostname)
    if h.program:
        proc: dict[str, Any] = {"name": h.program}
        if h.pid is not None:
            proc["pid"] = h.pid
        doc["process"] = proc
    if h.priority is not None:
        fac, sev = divmod(h.priority, 8)
        doc["log"] = {"syslog": {
            "priority": h.priority,
            "facility": {"code": fac, "name": FACILITIES[fac] if fac < len(FACILITIES) else str(fac)},
            "severity": {"code": sev, "name": SEVERITIES[sev]},
        }}
        if h.msgid:
            doc["log"]["syslog"]["msgid"] = h.msgid
        if h.structured:
            doc["log"]["syslog"]["structured_data"] = h.structured
    if h.error:
        doc["error"] = {"message": h.error}
    return doc
