"""Line parsers: text lines in, ECS documents out.

``get_parser(name, timezone)`` returns a ``LineParser``; ``Assembler`` turns a stream of lines
into events (multi-line continuation, auditd records grouped by serial) and knows the earliest
offset it still holds, so a checkpoint never skips a line that is buffered but not yet emitted.
A line that does not fit its parser is still an event: ``message`` and ``event.original`` are
kept and ``error.message`` says what did not match (counted as a parse failure).
"""

from __future__ import annotations

import re
from typing import Any

from collectors.parsers import auditd, auth, web
from collectors.parsers.base import LineParser as LineParser
from collectors.parsers.common import add_related
from collectors.parsers.syslog import AUTH_PROGRAMS, base_doc, parse_header
from core.errors import InvalidInput

PARSERS = ("auto", "syslog", "system.syslog", "system.auth", "auditd.log", "nginx.access", "nginx.error",
           "apache.access", "apache.error", "iptables.log", "journald", "plain")

_IPTABLES_KV = re.compile(r"([A-Z]+)=(\S*)")
_IPTABLES_PREFIX = re.compile(r"(?:\[\s*\d+\.\d+\]\s*)?(.*?)(?=IN=)")
_NGINX_ERROR_START = re.compile(r"\d{4}/\d{2}/\d{2} ")
MAX_GROUP_LINES = 1000


class SyslogParser(LineParser):
    """Syslog files and messages. Lines of authentication programs go to ``system.auth``
    (enriched), kernel firewall lines to ``iptables.log``, everything else ``system.syslog``."""

    name = "syslog"
    module = "system"
    dataset = "system.syslog"
    route = True

    def continues(self, text: str) -> bool:
        return text[:1] in (" ", "\t")

    def parse(self, lines: list[str]) -> tuple[str, dict[str, Any], bool]:
        text = "\n".join(lines) if len(lines) > 1 else lines[0]
        h = parse_header(text, self.clock)
        dataset = self.dataset
        if self.route and h.program:
            if h.program in AUTH_PROGRAMS or h.program.split("(")[0] in AUTH_PROGRAMS:
                dataset = "system.auth"
            elif h.program == "kernel" and "IN=" in h.message and "OUT=" in h.message:
                dataset = "iptables.log"
        module = {"system.auth": "system", "iptables.log": "iptables"}.get(dataset, self.module)
        doc = base_doc(h, text, dataset, module, self.tz_label)
        ok = h.error is None and h.timestamp is not None
        if dataset == "system.auth" and h.timestamp is not None:
            auth.enrich_auth(doc, h.message.lstrip(" "))
        elif dataset == "iptables.log":
            _iptables(doc, h.message)
        return dataset, doc, ok


class AuthParser(SyslogParser):
    name = "system.auth"
    dataset = "system.auth"
    route = False

    def parse(self, lines: list[str]) -> tuple[str, dict[str, Any], bool]:
        text = "\n".join(lines) if len(lines) > 1 else lines[0]
        h = parse_header(text, self.clock)
        doc = base_doc(h, text, "system.auth", "system", self.tz_label)
        if h.timestamp is not None:
            auth.enrich_auth(doc, h.message.lstrip(" "))
        return "system.auth", doc, h.error is None and h.timestamp is not None


class StrictSyslogParser(SyslogParser):
    name = "system.syslog"
    route = False


class IptablesParser(SyslogParser):
    name = "iptables.log"
    dataset = "iptables.log"
    module = "iptables"
    route = False

    def continues(self, text: str) -> bool:
        return False

    def parse(self, lines: list[str]) -> tuple[str, dict[str, Any], bool]:
        h = parse_header(lines[0], self.clock)
        doc = base_doc(h, lines[0], self.dataset, self.module, self.tz_label)
        found = _iptables(doc, h.message)
        return self.dataset, doc, h.error is None and found


def _iptables(doc: dict[str, Any], msg: str) -> bool:
    kv = dict(_IPTABLES_KV.findall(msg))
    if "IN" not in kv and "SRC" not in kv:
        return False
    pre = _IPTABLES_PREFIX.match(msg)
    ev = doc["event"]
    ev.update(category=["network"], type=["connection"])
    ipt: dict[str, Any] = {}
    if pre and pre.group(1).strip():
        prefix = pre.group(1).strip()
        ipt["prefix"] = prefix
        upper = prefix.upper()
        if any(w in upper for w in ("BLOCK", "DROP", "DENY", "REJECT")):
            ev["type"] = ["connection", "denied"]
            ev["outcome"] = "failure"
            ev["action"] = "dropped"
        elif any(w in upper for w in ("ALLOW", "ACCEPT")):
            ev["type"] = ["connection", "allowed"]
            ev["outcome"] = "success"
            ev["action"] = "accepted"
    if kv.get("SRC"):
        doc["source"] = {"ip": kv["SRC"]}
        add_related(doc, "ip", kv["SRC"])
        if kv.get("SPT", "").isdigit():
            doc["source"]["port"] = int(kv["SPT"])
    if kv.get("DST"):
        doc["destination"] = {"ip": kv["DST"]}
        add_related(doc, "ip", kv["DST"])
        if kv.get("DPT", "").isdigit():
            doc["destination"]["port"] = int(kv["DPT"])
    if kv.get("PROTO"):
        doc["network"] = {"transport": kv["PROTO"].lower()}
    observer: dict[str, Any] = {}
    if kv.get("IN"):
        observer["ingress"] = {"interface": {"name": kv["IN"]}}
    if kv.get("OUT"):
        observer["egress"] = {"interface": {"name": kv["OUT"]}}
    if observer:
        doc["observer"] = observer
    for key in ("LEN", "TOS", "PREC", "TTL", "ID", "WINDOW", "RES", "URGP", "MAC"):
        if kv.get(key):
            ipt[key.lower()] = kv[key]
    doc["iptables"] = ipt
    return True


class AuditdParser(LineParser):
    name = "auditd.log"
    module = "auditd"
    dataset = "auditd.log"

    def group_key(self, text: str) -> str | None:
        return auditd.record_key(text)

    def parse(self, lines: list[str]) -> tuple[str, dict[str, Any], bool]:
        text = "\n".join(lines)
        doc: dict[str, Any] = {"message": text, "event": {"kind": "event", "dataset": self.dataset,
                                                         "module": self.module, "original": text}}
        ok = auditd.parse_group(lines, doc, self.clock)
        if not ok:
            doc["error"] = {"message": "not an audit record (expected type=... msg=audit(...))"}
        return self.dataset, doc, ok


class AccessParser(LineParser):
    server = "nginx"

    def __init__(self, timezone: str = "UTC") -> None:
        super().__init__(timezone)
        self.dataset = f"{self.server}.access"
        self.module = self.server

    def parse(self, lines: list[str]) -> tuple[str, dict[str, Any], bool]:
        text = lines[0]
        doc: dict[str, Any] = {"message": text, "event": {"kind": "event", "dataset": self.dataset,
                                                         "module": self.module, "original": text,
                                                         "timezone": self.tz_label}}
        ok = web.parse_access(doc, text, self.clock, self.server)
        if not ok:
            doc["error"] = {"message": f"not a {self.server} access log line"}
        return self.dataset, doc, ok


class NginxAccessParser(AccessParser):
    name = "nginx.access"
    server = "nginx"


class ApacheAccessParser(AccessParser):
    name = "apache.access"
    server = "apache"


class NginxErrorParser(LineParser):
    name = "nginx.error"
    module = "nginx"
    dataset = "nginx.error"

    def continues(self, text: str) -> bool:
        return not _NGINX_ERROR_START.match(text)

    def parse(self, lines: list[str]) -> tuple[str, dict[str, Any], bool]:
        text = "\n".join(lines)
        doc: dict[str, Any] = {"message": text, "event": {"kind": "event", "dataset": self.dataset,
                                                         "module": self.module, "original": text,
                                                         "timezone": self.tz_label}}
        ok = web.parse_nginx_error(doc, text, self.clock)
        if not ok:
            doc["error"] = {"message": "not an nginx error log line"}
        return self.dataset, doc, ok


class ApacheErrorParser(LineParser):
    name = "apache.error"
    module = "apache"
    dataset = "apache.error"

    def parse(self, lines: list[str]) -> tuple[str, dict[str, Any], bool]:
        text = lines[0]
        doc: dict[str, Any] = {"message": text, "event": {"kind": "event", "dataset": self.dataset,
                                                         "module": self.module, "original": text,
                                                         "timezone": self.tz_label}}
        ok = web.parse_apache_error(doc, text, self.clock)
        if not ok:
            doc["error"] = {"message": "not an apache error log line"}
        return self.dataset, doc, ok


_CLASSES: dict[str, type[LineParser]] = {
    "syslog": SyslogParser, "system.syslog": StrictSyslogParser, "system.auth": AuthParser,
    "auditd.log": AuditdParser, "nginx.access": NginxAccessParser, "nginx.error": NginxErrorParser,
    "apache.access": ApacheAccessParser, "apache.error": ApacheErrorParser, "iptables.log": IptablesParser,
    "plain": LineParser,
}


def get_parser(name: str, timezone: str = "UTC", *, path: str | None = None) -> LineParser:
    """A parser by name; ``auto`` picks one from the file name."""
    if name == "auto":
        name = guess_parser(path or "")
    if name == "journald":
        from collectors.parsers.journald import JournaldParser

        return JournaldParser(timezone)
    cls = _CLASSES.get(name)
    if cls is None:
        raise InvalidInput(f"Unknown parser {name!r}; use one of: {', '.join(PARSERS)}.")
    return cls(timezone)


def guess_parser(path: str) -> str:
    base = path.rsplit("/", 1)[-1].lower()
    lower = path.lower()
    if base.startswith(("auth.log", "secure")):
        return "system.auth"
    if base.startswith("audit") and ".log" in base:
        return "auditd.log"
    if "nginx" in lower:
        return "nginx.error" if "error" in base else "nginx.access"
    if "apache" in lower or "httpd" in lower:
        return "apache.error" if "error" in base else "apache.access"
    if base.startswith(("access", "ssl_access", "ssl-access")):
        return "nginx.access"
    if base.endswith((".json", ".jsonl")) and "journal" in base:
        return "journald"
    return "syslog"


class Assembler:
    """Groups lines into events: continuation lines join the previous event, auditd records with
    the same serial form one event. Bounded: at most ``MAX_GROUP_LINES`` lines per event."""

    def __init__(self, parser: LineParser, *, multiline: bool = True) -> None:
        self.parser = parser
        self.multiline = multiline
        self._offset: int | None = None
        self._end = 0
        self._lines: list[str] = []
        self._key: str | None = None
        self._grouping = type(parser).group_key is not LineParser.group_key
        self._continuing = type(parser).continues is not LineParser.continues

    @property
    def pending_offset(self) -> int | None:
        """Offset of the first line held back (a safe resume point), None when nothing is held."""
        return self._offset

    def push(self, offset: int, end: int, text: str) -> list[tuple[int, int, list[str]]]:
        """Feed one line at ``offset`` (``end`` = offset after it); returns completed events."""
        if self._grouping:
            key = self.parser.group_key(text)
            if self._lines and key is not None and key == self._key and len(self._lines) < MAX_GROUP_LINES:
                self._lines.append(text)
                self._end = end
                return []
            done = self.flush()
            self._offset, self._end, self._lines, self._key = offset, end, [text], key
            if key is None:
                return done + self.flush()
            return done
        if self._continuing and self.multiline:
            if self._lines and self.parser.continues(text) and len(self._lines) < MAX_GROUP_LINES:
                self._lines.append(text)
                self._end = end
                return []
            done = self.flush()
            self._offset, self._end, self._lines = offset, end, [text]
            return done
        return [(offset, end, [text])]

    def flush(self) -> list[tuple[int, int, list[str]]]:
        if not self._lines or self._offset is None:
            return []
        out = [(self._offset, self._end, self._lines)]
        self._offset, self._lines, self._key = None, [], None
        return out
