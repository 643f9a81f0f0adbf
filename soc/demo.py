"""Demo data for ``soc up``: a day in a small district network, plus three attacks.

Normal activity (SSH logins, sudo, cron, web traffic, DNS, flows) and: an SSH brute force that
ends in a successful login, a TCP port scan, DNS tunnelling (long random subdomains of one
domain), and personal information (a citizen portal, a bulk export, a clear-text leak). Events are shaped as the collectors emit them (Filebeat-style ECS for logs, ECS + Zeek
fields for network data) so the platform's own detection rules fire on them. Ids are
deterministic per (seed, position), so loading twice adds nothing.

Departments: the network is shared by three departments under the district (``DEPARTMENTS``),
each with its server and office subnet. The demo does not stamp ``organization.id`` itself: its
events go through the collectors with the maps of ``DEMO_ORG_HOSTS`` / ``DEMO_ORG_SUBNETS``
(``with_demo_departments``), as a deployment's would. So the SSH brute force is the education
commission's (web01), the port scan the health commission's (db01 is its server), the citizen
portal and its bulk export the civil affairs bureau's (app01), and the DNS tunnel and the
clear-text leak come from shared district addresses no map covers (unassigned, on the health card).
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from collectors.models import Event
from core.auditing import Actor, Auditor
from core.errors import Conflict
from core.es import Store
from core.ids import stable_id
from core.settings import DepartmentSeed, OrgSettings, Settings
from core.timeutil import iso, utcnow
from soc.demo_pii import pii_events

HOSTS = {"web01": "10.1.1.5", "db01": "10.2.1.6", "app01": "10.3.1.7", "dns01": "10.10.1.53"}
STAFF = ["zhangwei", "liuyang", "wangfang", "deploy", "backup"]
OFFICE = [f"10.{dept}.20.{i}" for dept in (1, 2, 3) for i in range(10, 20)]
# id -> (zh-CN name, English name); the root of all is the district (全区).
DEPARTMENTS = {"jiaowei": ("教委", "Education Commission"), "weijianwei": ("卫健委", "Health Commission"),
               "minzhengju": ("民政局", "Civil Affairs Bureau")}
DEMO_ORG_HOSTS = {"web*": "jiaowei", "db*": "weijianwei", "app*": "minzhengju"}
DEMO_ORG_SUBNETS = {"10.1.0.0/16": "jiaowei", "10.2.0.0/16": "weijianwei", "10.3.0.0/16": "minzhengju"}


# Each department's graded systems (定级对象), assessed on this host until an auditor gives them theirs.
DEMO_SYSTEMS = (
    {"id": "jw-xueji", "name": {"zh": "学籍管理系统", "en": "Student records system"}, "level": 3,
     "organization": "jiaowei", "hosts": ["local"], "description": "web01 上的学籍管理 Web 应用"},
    {"id": "wj-his", "name": {"zh": "医院信息系统", "en": "Hospital information system"}, "level": 3,
     "organization": "weijianwei", "hosts": ["local"], "description": "db01 上的 HIS 数据库"},
    {"id": "mz-dibao", "name": {"zh": "低保救助管理系统", "en": "Social assistance system"}, "level": 2,
     "organization": "minzhengju", "hosts": ["local"], "description": "app01 上的低保申请门户"},
)


def register_demo_systems(store: Store, settings: Settings, auditor: Auditor) -> int:
    """Register the demo's graded systems (those already there are left as they are)."""
    from compliance.systems import register_system

    added = 0
    for data in DEMO_SYSTEMS:
        try:
            register_system(store, settings, auditor, Actor.system("demo"), data)
            added += 1
        except Conflict:
            pass  # registered before (or by an auditor since): theirs stays
    return added


def with_demo_departments(settings: Settings) -> Settings:
    """The demo network's departments (seeded into ``<prefix>-departments`` on first use) and its
    host/subnet maps, each unless the operator configured their own."""
    collect, org = settings.collect, settings.org
    if not (collect.org_hosts or collect.org_subnets):
        collect = collect.model_copy(update={"org_hosts": dict(DEMO_ORG_HOSTS),
                                             "org_subnets": dict(DEMO_ORG_SUBNETS)})
    if not org.departments:
        org = OrgSettings(departments=[DepartmentSeed(id=dept_id, name_zh=zh, name_en=en)
                                       for dept_id, (zh, en) in DEPARTMENTS.items()])
    return settings.model_copy(update={"collect": collect, "org": org})
ATTACKER_SSH = "203.0.113.50"
ATTACKER_SCAN = "198.51.100.23"
TUNNEL_CLIENT = "10.10.20.77"
TUNNEL_DOMAIN = "t.exfil-cdn.net"
NORMAL_DOMAINS = ["www.gov.cn", "mirrors.aliyun.com", "www.baidu.com", "time.windows.com", "api.weixin.qq.com",
                  "ntp.aliyun.com", "update.example-vendor.cn"]


class _Gen:
    def __init__(self, seed: int, now: datetime) -> None:
        self.rnd = random.Random(seed)
        self.now = now
        self.seq = 0
        self.seed = seed

    def ts(self, minutes_ago: float) -> str:
        return iso(self.now - timedelta(minutes=minutes_ago))

    def event(self, dataset: str, doc: dict[str, Any]) -> Event:
        self.seq += 1
        module = dataset.split(".")[0]
        ev = doc.setdefault("event", {})
        ev.setdefault("kind", "event")
        ev["dataset"] = dataset
        ev.setdefault("module", module)
        ev.setdefault("created", doc["@timestamp"])
        doc.setdefault("tags", []).append("demo")
        return Event(id=stable_id("demo", self.seed, self.seq), dataset=dataset, doc=doc)


def _syslog_line(ts: str, host: str, proc: str, pid: int, msg: str) -> str:
    dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return f"{dt:%b} {dt.day:2d} {dt:%H:%M:%S} {host} {proc}[{pid}]: {msg}"


def _auth(g: _Gen, minutes_ago: float, host: str, user: str, src: str, ok: bool, *, invalid: bool = False) -> Event:
    ts = g.ts(minutes_ago)
    pid = g.rnd.randrange(2000, 60000)
    port = g.rnd.randrange(30000, 65000)
    if ok:
        msg = f"Accepted password for {user} from {src} port {port} ssh2"
    elif invalid:
        msg = f"Failed password for invalid user {user} from {src} port {port} ssh2"
    else:
        msg = f"Failed password for {user} from {src} port {port} ssh2"
    return g.event("system.auth", {
        "@timestamp": ts,
        "message": msg,
        "event": {"category": ["authentication"], "type": ["start"] if ok else ["info"],
                  "outcome": "success" if ok else "failure", "action": "ssh_login",
                  "original": _syslog_line(ts, host, "sshd", pid, msg)},
        "host": {"name": host, "hostname": host, "ip": [HOSTS[host]]},
        "process": {"name": "sshd", "pid": pid},
        "user": {"name": user},
        "source": {"ip": src, "port": port},
        "system": {"auth": {"ssh": {"event": "Accepted" if ok else "Failed", "method": "password"}}},
        "related": {"user": [user], "ip": [src]},
        "log": {"file": {"path": "/var/log/auth.log"}},
    })


def _sudo(g: _Gen, minutes_ago: float, host: str, user: str, command: str) -> Event:
    ts = g.ts(minutes_ago)
    pid = g.rnd.randrange(2000, 60000)
    msg = f"{user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND={command}"
    return g.event("system.auth", {
        "@timestamp": ts, "message": msg,
        "event": {"category": ["process"], "type": ["start"], "outcome": "success", "action": "sudo",
                  "original": _syslog_line(ts, host, "sudo", pid, msg)},
        "host": {"name": host, "hostname": host}, "process": {"name": "sudo", "pid": pid},
        "user": {"name": user, "effective": {"name": "root"}},
        "system": {"auth": {"sudo": {"tty": "pts/0", "pwd": f"/home/{user}", "user": "root", "command": command}}},
        "related": {"user": [user, "root"]}, "log": {"file": {"path": "/var/log/auth.log"}},
    })


def _flow(g: _Gen, minutes_ago: float, src: str, dst: str, dport: int, state: str, *, transport: str = "tcp",
          orig_bytes: int = 0, resp_bytes: int = 0) -> Event:
    ts = g.ts(minutes_ago)
    sport = g.rnd.randrange(32768, 61000)
    pkts_o = 1 if state in ("S0", "REJ") else g.rnd.randrange(4, 40)
    pkts_r = 0 if state == "S0" else (1 if state == "REJ" else g.rnd.randrange(4, 40))
    duration_ns = 0 if state in ("S0", "REJ") else g.rnd.randrange(10_000_000, 9_000_000_000)
    return g.event("network.flow", {
        "@timestamp": ts,
        "event": {"category": ["network"], "type": ["connection", "end"], "action": "network_flow",
                  "duration": duration_ns, "start": ts},
        "source": {"ip": src, "port": sport, "bytes": orig_bytes, "packets": pkts_o},
        "destination": {"ip": dst, "port": dport, "bytes": resp_bytes, "packets": pkts_r},
        "network": {"transport": transport, "type": "ipv4", "bytes": orig_bytes + resp_bytes,
                    "packets": pkts_o + pkts_r, "direction": "inbound" if dst.startswith("10.") else "outbound"},
        "zeek": {"connection": {"conn_state": state, "state": state}},
        "related": {"ip": [src, dst]},
    })


def _dns(g: _Gen, minutes_ago: float, client: str, name: str, qtype: str = "A") -> Event:
    ts = g.ts(minutes_ago)
    answers = [] if qtype == "TXT" else [{"name": name, "type": "A", "data": f"93.184.{g.rnd.randrange(256)}.{g.rnd.randrange(1, 255)}",
                                         "ttl": 300}]
    labels = name.split(".")
    return g.event("network.dns", {
        "@timestamp": ts,
        "event": {"category": ["network"], "type": ["protocol"], "action": "dns_query"},
        "source": {"ip": client, "port": g.rnd.randrange(32768, 61000)},
        "destination": {"ip": HOSTS["dns01"], "port": 53},
        "network": {"transport": "udp", "protocol": "dns", "type": "ipv4"},
        "dns": {"type": "answer", "id": g.rnd.randrange(65536), "response_code": "NOERROR",
                "question": {"name": name, "type": qtype, "class": "IN",
                             "registered_domain": ".".join(labels[-2:]),
                             "subdomain": ".".join(labels[:-2])},
                "answers": answers},
        "zeek": {"dns": {"qtype_name": qtype, "query": name}},
        "related": {"ip": [client, HOSTS["dns01"]]},
    })


def _http(g: _Gen, minutes_ago: float, client: str, path: str, status: int) -> Event:
    ts = g.ts(minutes_ago)
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
    size = g.rnd.randrange(300, 40000)
    dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    line = f'{client} - - [{dt:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/1.1" {status} {size} "-" "{ua}"'
    return g.event("nginx.access", {
        "@timestamp": ts, "message": line,
        "event": {"category": ["web"], "type": ["access"], "outcome": "success" if status < 400 else "failure",
                  "original": line},
        "host": {"name": "web01"}, "source": {"ip": client},
        "http": {"request": {"method": "GET"}, "response": {"status_code": status, "body": {"bytes": size}},
                 "version": "1.1"},
        "url": {"original": path, "path": path.split("?")[0]},
        "user_agent": {"original": ua}, "related": {"ip": [client]},
        "log": {"file": {"path": "/var/log/nginx/access.log"}},
    })


def demo_events(seed: int = 20261126, now: datetime | None = None) -> Iterator[Event]:
    """All demo events; deterministic for a given seed and ``now`` (rounded to the hour)."""
    now = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
    g = _Gen(seed, now)
    rnd = g.rnd
    # Normal office activity over the last six hours.
    for _ in range(240):
        yield _auth(g, rnd.uniform(5, 360), rnd.choice(list(HOSTS)[:3]), rnd.choice(STAFF), rnd.choice(OFFICE), True)
    for _ in range(12):  # the odd typo
        yield _auth(g, rnd.uniform(5, 360), rnd.choice(list(HOSTS)[:3]), rnd.choice(STAFF), rnd.choice(OFFICE), False)
    for _ in range(40):
        yield _sudo(g, rnd.uniform(5, 360), rnd.choice(list(HOSTS)[:3]), "zhangwei",
                    rnd.choice(["/usr/bin/systemctl restart nginx", "/usr/bin/apt-get update", "/usr/bin/journalctl -u sshd"]))
    for _ in range(300):
        yield _http(g, rnd.uniform(1, 360), rnd.choice(OFFICE), rnd.choice(["/", "/portal/login", "/static/app.js",
                                                                              "/api/notice?page=2", "/favicon.ico"]),
                    rnd.choice([200, 200, 200, 304, 404]))
    for _ in range(300):
        yield _dns(g, rnd.uniform(1, 360), rnd.choice(OFFICE), rnd.choice(NORMAL_DOMAINS))
    for _ in range(300):
        yield _flow(g, rnd.uniform(1, 360), rnd.choice(OFFICE), rnd.choice(list(HOSTS.values())),
                    rnd.choice([22, 80, 443, 5432, 53]), "SF", orig_bytes=rnd.randrange(200, 90000),
                    resp_bytes=rnd.randrange(200, 900000))
    # Attack 1: SSH brute force against web01, ending in a successful root login.
    start = 95.0
    users = ["root"] * 30 + ["admin", "oracle", "test", "ubuntu", "guest", "postgres"]
    for i, user in enumerate(users):
        yield _auth(g, start - i * 0.08, "web01", user, ATTACKER_SSH, False, invalid=user not in ("root", "postgres"))
    yield _auth(g, start - len(users) * 0.08 - 0.1, "web01", "root", ATTACKER_SSH, True)
    # Attack 2: a TCP port scan of db01.
    ports = sorted(rnd.sample(range(1, 10000), 240))
    for i, port in enumerate(ports):
        state = "SF" if port in (22, 5432) else rnd.choice(["REJ", "REJ", "REJ", "S0"])
        yield _flow(g, 60 - i * 0.005, ATTACKER_SCAN, HOSTS["db01"], port, state)
    # Attack 3: DNS tunnelling: long random labels under one domain, TXT queries.
    alphabet = string.ascii_lowercase + "234567"
    for i in range(150):
        label = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(38, 60)))
        yield _dns(g, 40 - i * 0.05, TUNNEL_CLIENT, f"{label}.{TUNNEL_DOMAIN}", "TXT")
    # Personal information: a citizen portal, a bulk export and a clear-text leak (soc/demo_pii.py).
    yield from pii_events(g, OFFICE)
