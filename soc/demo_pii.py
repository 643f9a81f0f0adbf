"""Demo personal information: a citizen-services portal whose logs carry identity, mobile and
bank card numbers and e-mail (masked or tagged at ingest, so the console shows masking and the
inventory), a bulk export of citizen records from app01, and a workstation sending an identity
number in clear text over HTTP and a mobile number inside a DNS query to the internet."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from stdnum import luhn
from stdnum.cn import ric

from collectors.models import Event


class _Gen(Protocol):
    """What these events need of the demo's generator (``soc.demo._Gen``, which calls them)."""

    rnd: random.Random

    def ts(self, minutes_ago: float) -> str: ...

    def event(self, dataset: str, doc: dict[str, Any]) -> Event: ...

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英"]
REGIONS = ["110105", "110108", "310104", "440305", "330106", "510107", "420102", "320102"]
MOBILE = ["138", "139", "150", "186", "135", "177", "199"]
LEAK_HOST = "45.77.10.23"
LEAK_CLIENT = "10.10.20.88"


def _person(g: _Gen) -> dict[str, str]:
    rnd = g.rnd
    while True:
        body = (rnd.choice(REGIONS) + f"{rnd.randint(1955, 2004)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}"
                + f"{rnd.randint(0, 999):03d}")
        idno = body + ric.calc_check_digit(body + "0")
        if ric.is_valid(idno):
            break
    card = "622202" + "".join(str(rnd.randint(0, 9)) for _ in range(12))
    card += luhn.calc_check_digit(card)
    mobile = rnd.choice(MOBILE) + f"{rnd.randint(0, 99999999):08d}"
    name = rnd.choice(SURNAMES) + rnd.choice(GIVEN)
    return {"name": name, "id": idno, "card": card, "mobile": mobile, "email": f"user{rnd.randint(100, 9999)}@example.cn"}


def _portal(g: _Gen, minutes_ago: float, client: str, p: dict[str, str]) -> Event:
    ts = g.ts(minutes_ago)
    dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    path = "/zwfw/api/citizen/verify"
    query = f"idcard={p['id']}&mobile={p['mobile']}"
    line = f'{client} - - [{dt:%d/%b/%Y:%H:%M:%S} +0000] "GET {path}?{query} HTTP/1.1" 200 512 "-" "Mozilla/5.0"'
    return g.event("nginx.access", {
        "@timestamp": ts, "message": line,
        "event": {"category": ["web"], "type": ["access"], "outcome": "success", "original": line},
        "host": {"name": "app01"}, "source": {"ip": client},
        "http": {"request": {"method": "GET"}, "response": {"status_code": 200, "body": {"bytes": 512}}},
        "url": {"original": f"{path}?{query}", "path": path, "query": query},
        "related": {"ip": [client]}, "log": {"file": {"path": "/var/log/nginx/zwfw-access.log"}},
    })


def _applog(g: _Gen, minutes_ago: float, p: dict[str, str], what: str) -> Event:
    ts = g.ts(minutes_ago)
    msg = (f"{what}: 申请人 {p['name']} 身份证 {p['id']} 手机 {p['mobile']} "
           f"社保卡银行账户 {p['card']} 邮箱 {p['email']}")
    return g.event("app.log", {
        "@timestamp": ts, "message": msg, "event": {"category": ["web"], "type": ["info"], "original": msg},
        "host": {"name": "app01"}, "service": {"name": "zwfw-portal"},
        "log": {"level": "info", "file": {"path": "/opt/zwfw/logs/app.log"}},
    })


def _egress_http(g: _Gen, minutes_ago: float, p: dict[str, str]) -> Event:
    path, query = "/collect", f"sfz={p['id']}&tel={p['mobile']}"
    return g.event("network.http", {
        "@timestamp": g.ts(minutes_ago),
        "event": {"category": ["network", "web"], "type": ["protocol"], "action": "http_request"},
        "source": {"ip": LEAK_CLIENT, "port": g.rnd.randrange(32768, 61000)},
        "destination": {"ip": LEAK_HOST, "port": 80, "domain": "paste.example.net"},
        "network": {"transport": "tcp", "protocol": "http", "type": "ipv4", "direction": "outbound"},
        "http": {"request": {"method": "GET"}, "response": {"status_code": 200}, "version": "1.1"},
        "url": {"original": f"{path}?{query}", "path": path, "query": query, "domain": "paste.example.net"},
        "related": {"ip": [LEAK_CLIENT, LEAK_HOST]},
    })


def _egress_dns(g: _Gen, minutes_ago: float, p: dict[str, str]) -> Event:
    name = f"{p['mobile']}.q.leak-example.net"
    return g.event("network.dns", {
        "@timestamp": g.ts(minutes_ago),
        "event": {"category": ["network"], "type": ["protocol"], "action": "dns_query"},
        "source": {"ip": LEAK_CLIENT, "port": g.rnd.randrange(32768, 61000)},
        "destination": {"ip": "8.8.8.8", "port": 53},
        "network": {"transport": "udp", "protocol": "dns", "type": "ipv4"},
        "dns": {"type": "query", "question": {"name": name, "type": "A", "class": "IN",
                                              "registered_domain": "leak-example.net"}},
        "related": {"ip": [LEAK_CLIENT, "8.8.8.8"]},
    })


def pii_events(g: _Gen, office: list[str]) -> Iterator[Event]:
    rnd = g.rnd
    people: list[dict[str, Any]] = [_person(g) for _ in range(120)]
    # Normal business: the portal verifies citizens, the application logs their requests.
    for _ in range(80):
        yield _portal(g, rnd.uniform(5, 360), rnd.choice(office), rnd.choice(people))
    for _ in range(60):
        yield _applog(g, rnd.uniform(5, 360), rnd.choice(people), "社保申请已受理")
    # Attack 4: bulk export of 70 citizens' records from app01 within five minutes.
    for i, p in enumerate(people[:70]):
        yield _applog(g, 30 - i * 0.07, p, "批量导出")
    # Attack 5: personal information sent in clear text to the internet (HTTP and DNS).
    for i, p in enumerate(people[70:73]):
        yield _egress_http(g, 20 - i, p)
        yield _egress_dns(g, 19.5 - i, p)
