"""systemd journal entries (``journalctl -o json``, one JSON object per line) to ECS.

Layout as Filebeat's journald input: ``message``, ``host.hostname``, ``host.id``,
``process.name/pid/executable/command_line``, ``systemd.unit``, ``log.syslog.*``,
``journald.*`` for the rest. Entries of authentication programs (or the auth/authpriv
facilities) go to ``system.auth`` with the same enrichment as auth.log lines; the others to
``journald``. The entry's ``__CURSOR`` is its identity: ``journald.cursor`` (ids use it).
"""

from __future__ import annotations

from typing import Any

import orjson

from collectors.parsers import auth
from collectors.parsers.base import LineParser
from collectors.parsers.common import add_related
from collectors.parsers.syslog import AUTH_PROGRAMS, FACILITIES, SEVERITIES


def _text(value: Any) -> str:
    if isinstance(value, list):  # binary fields are exported as byte arrays
        try:
            return bytes(int(b) & 0xFF for b in value).decode("utf-8", "replace")
        except (TypeError, ValueError):
            return str(value)
    return str(value)


class JournaldParser(LineParser):
    name = "journald"
    module = "journald"
    dataset = "journald"

    def parse(self, lines: list[str]) -> tuple[str, dict[str, Any], bool]:
        text = "\n".join(lines)
        try:
            entry = orjson.loads(text)
        except orjson.JSONDecodeError:
            entry = None
        if not isinstance(entry, dict):
            return self.dataset, {"message": text, "event": {"kind": "event", "dataset": self.dataset,
                                                             "module": self.module, "original": text},
                                  "error": {"message": "not a journal JSON entry"}}, False
        fields = {k: _text(v) for k, v in entry.items()}
        ident = fields.get("SYSLOG_IDENTIFIER") or fields.get("_COMM") or ""
        facility = int(fields["SYSLOG_FACILITY"]) if fields.get("SYSLOG_FACILITY", "").isdigit() else None
        auth_like = ident in AUTH_PROGRAMS or facility in (4, 10)
        dataset = "system.auth" if auth_like else "journald"
        message = fields.get("MESSAGE", "")
        doc: dict[str, Any] = {"message": message,
                               "event": {"kind": "event", "dataset": dataset,
                                         "module": "system" if auth_like else "journald", "original": text}}
        ts = fields.get("__REALTIME_TIMESTAMP") or fields.get("_SOURCE_REALTIME_TIMESTAMP")
        if ts and ts.isdigit():
            doc["@timestamp"] = self.clock.epoch(int(ts) / 1e6)
        host: dict[str, Any] = {}
        if fields.get("_HOSTNAME"):
            host["hostname"] = fields["_HOSTNAME"]
            add_related(doc, "hosts", fields["_HOSTNAME"])
        if fields.get("_MACHINE_ID"):
            host["id"] = fields["_MACHINE_ID"]
        if host:
            doc["host"] = host
        proc: dict[str, Any] = {}
        if ident:
            proc["name"] = ident
        pid = fields.get("_PID") or fields.get("SYSLOG_PID")
        if pid and pid.isdigit():
            proc["pid"] = int(pid)
        if fields.get("_EXE"):
            proc["executable"] = fields["_EXE"]
        if fields.get("_CMDLINE"):
            proc["command_line"] = fields["_CMDLINE"]
        if proc:
            doc["process"] = proc
        if fields.get("_SYSTEMD_UNIT"):
            doc["systemd"] = {"unit": fields["_SYSTEMD_UNIT"]}
        if fields.get("_UID"):
            doc["user"] = {"id": fields["_UID"]}
        syslog: dict[str, Any] = {}
        if fields.get("PRIORITY", "").isdigit():
            sev = int(fields["PRIORITY"])
            syslog["priority"] = sev if facility is None else facility * 8 + sev
            if sev < len(SEVERITIES):
                syslog["severity"] = {"code": sev, "name": SEVERITIES[sev]}
        if facility is not None:
            syslog["facility"] = {"code": facility, "name": FACILITIES[facility] if facility < len(FACILITIES)
                                  else str(facility)}
        if syslog:
            doc["log"] = {"syslog": syslog}
        journald: dict[str, Any] = {}
        if fields.get("__CURSOR"):
            journald["cursor"] = fields["__CURSOR"]
        if fields.get("_TRANSPORT"):
            journald["transport"] = fields["_TRANSPORT"]
        if fields.get("_BOOT_ID"):
            journald["boot_id"] = fields["_BOOT_ID"]
        if journald:
            doc["journald"] = journald
        if auth_like and message:
            existing_user = doc.pop("user", None)
            auth.enrich_auth(doc, message.lstrip(" "))
            if existing_user:
                doc["user"] = {**existing_user, **doc.get("user", {})}
        return dataset, doc, True
