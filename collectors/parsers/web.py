"""Web server logs: nginx and Apache access (combined/common, vhost and SSL variants), nginx and
Apache error logs. Fields as Filebeat's nginx/apache modules: ``source.*``, ``url.*``,
``http.*``, ``user_agent.original``, ``event.category: web``, outcome by status (< 400 success).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from collectors.parsers.common import Clock, add_related

_ACCESS = re.compile(
    r'(?P<addrs>.*?) - (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<req>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) '
    r'(?P<bytes>\d+|-)(?: "(?P<ref>(?:[^"\\]|\\.)*)")?(?: "(?P<ua>(?:[^"\\]|\\.)*)")?(?P<rest>.*)$', re.S)
_SSL_ACCESS = re.compile(
    r'\[(?P<ts>[^\]]+)\] (?P<addr>\S+) (?P<proto>\S+) (?P<cipher>\S+) "(?P<req>(?:[^"\\]|\\.)*)" (?P<bytes>\d+|-)$')
_REQUEST = re.compile(r"(\S+) (\S+)(?: HTTP/(\d+(?:\.\d+)?))?$")
_NGINX_ERROR = re.compile(
    r"(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) \[(\w+)\] (\d+)#(\d+): (?:\*(\d+) )?(.*)$", re.S)
_APACHE_ERROR = re.compile(
    r"\[(?P<ts>[^\]]+)\] \[(?:(?P<module>[^:\]]+):)?(?P<level>[^\]]+)\](?: \[pid (?P<pid>\d+)(?::tid (?P<tid>\d+))?\])?"
    r"(?: \[client (?P<client>[^\]]+)\])? (?P<msg>.*)$", re.S)
_ADDR_TOKEN = re.compile(r'[^\s,"]+')


def _is_private(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return True
    return ip.is_private or ip.is_loopback or ip.is_link_local


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _request(doc: dict[str, Any], req: str) -> None:
    m = _REQUEST.match(req)
    if not m:
        return
    method, target, version = m.groups()
    doc["http"] = {**doc.get("http", {}), "request": {"method": method}}
    if version:
        doc["http"]["version"] = version
    url: dict[str, Any] = {"original": target}
    try:
        parts = urlsplit(target)
        if parts.path:
            url["path"] = parts.path
        if parts.query:
            url["query"] = parts.query
        if parts.fragment:
            url["fragment"] = parts.fragment
        if parts.hostname:
            url["domain"] = parts.hostname
        if parts.scheme:
            url["scheme"] = parts.scheme
        ext = parts.path.rsplit("/", 1)[-1]
        if "." in ext:
            url["extension"] = ext.rsplit(".", 1)[-1]
    except ValueError:
        pass
    doc["url"] = url


def _status(doc: dict[str, Any], status: str, size: str | None) -> None:
    code = int(status)
    resp: dict[str, Any] = {"status_code": code}
    if size and size != "-":
        resp["body"] = {"bytes": int(size)}
    doc.setdefault("http", {})["response"] = resp
    doc["event"]["outcome"] = "success" if code < 400 else "failure"


def _source_from_list(doc: dict[str, Any], addrs: str) -> None:
    """The client address as Filebeat's nginx module picks it: an optional leading virtual host,
    then the forwarded-for list, of which the first public address wins (else the first)."""
    addrs = addrs.strip()
    host_m = re.match(r'([^\s,"]+) (?=\S)', addrs)
    if host_m and not addrs[host_m.end():].startswith("-"):
        host = host_m.group(1)
        addrs = addrs[host_m.end():]
        dest: dict[str, Any] = {}
        name, sep, port = host.rpartition(":")
        if sep and port.isdigit() and name.count(":") == 0:
            host, dest["port"] = name, int(port)
        dest["ip" if _valid_ip(host) else "domain"] = host
        doc["destination"] = dest
    tokens = _ADDR_TOKEN.findall(addrs)
    if not tokens:
        return
    chosen = next((t for t in tokens if _valid_ip(t) and not _is_private(t)), tokens[0])
    src: dict[str, Any] = {"address": chosen}
    if _valid_ip(chosen):
        src["ip"] = chosen
        add_related(doc, "ip", chosen)
    doc["source"] = src
    if len(tokens) > 1:
        doc.setdefault("nginx", {}).setdefault("access", {})["remote_ip_list"] = tokens


def parse_access(doc: dict[str, Any], line: str, clock: Clock, server: str) -> bool:
    ev = doc["event"]
    ev["category"] = ["web"]
    ev["type"] = ["access"]
    m = _ACCESS.match(line)
    if m:
        _source_from_list(doc, m.group("addrs"))
        if server == "apache" and "nginx" in doc:
            doc.pop("nginx")
        user = m.group("user")
        if user != "-":
            doc["user"] = {"name": user}
            add_related(doc, "user", user)
        ts = clock.clf(m.group("ts"))
        if ts:
            doc["@timestamp"] = ts
        _request(doc, m.group("req"))
        _status(doc, m.group("status"), m.group("bytes"))
        ref, ua = m.group("ref"), m.group("ua")
        if ref and ref != "-":
            doc["http"].setdefault("request", {})["referrer"] = ref
        if ua and ua != "-":
            doc["user_agent"] = {"original": ua}
        return True
    m = _SSL_ACCESS.match(line)
    if m:
        addr = m.group("addr")
        doc["source"] = {"address": addr, **({"ip": addr} if _valid_ip(addr) else {})}
        add_related(doc, "ip", doc["source"].get("ip"))
        ts = clock.clf(m.group("ts"))
        if ts:
            doc["@timestamp"] = ts
        proto = m.group("proto")
        doc["tls"] = {"cipher": m.group("cipher")}
        if proto.startswith("TLSv"):
            doc["tls"].update(version=proto[4:], version_protocol="tls")
        _request(doc, m.group("req"))
        size = m.group("bytes")
        if size != "-":
            doc.setdefault("http", {}).setdefault("response", {})["body"] = {"bytes": int(size)}
        return True
    return False


def parse_nginx_error(doc: dict[str, Any], line: str, clock: Clock) -> bool:
    m = _NGINX_ERROR.match(line)
    if not m:
        return False
    ts, level, pid, tid, cid, msg = m.groups()
    stamp = clock.iso8601(ts.replace("/", "-"))
    if stamp:
        doc["@timestamp"] = stamp
    doc["log"] = {**doc.get("log", {}), "level": level}
    doc["process"] = {"pid": int(pid), "thread": {"id": int(tid)}}
    if cid:
        doc["nginx"] = {"error": {"connection_id": int(cid)}}
    doc["message"] = msg
    doc["event"].update(category=["web"], type=["error"])
    return True


def parse_apache_error(doc: dict[str, Any], line: str, clock: Clock) -> bool:
    from datetime import datetime

    m = _APACHE_ERROR.match(line)
    if not m:
        return False
    ts = m.group("ts")
    for fmt in ("%a %b %d %H:%M:%S.%f %Y", "%a %b %d %H:%M:%S %Y"):
        try:
            dt = datetime.strptime(ts, fmt).replace(tzinfo=clock.tz)
            from core.timeutil import iso

            doc["@timestamp"] = iso(dt)
            break
        except ValueError:
            continue
    doc["log"] = {**doc.get("log", {}), "level": m.group("level")}
    if m.group("pid"):
        doc["process"] = {"pid": int(m.group("pid"))}
    client = m.group("client")
    if client:
        host = client.rsplit(":", 1)[0] if client.count(":") == 1 else client
        doc["source"] = {"address": host, **({"ip": host} if _valid_ip(host) else {})}
    doc["message"] = m.group("msg")
    doc["event"].update(category=["web"], type=["error"])
    return True
