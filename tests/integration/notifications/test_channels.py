"""Notifications end to end against real receivers: a local SMTP server and a local HTTP server
standing in for a webhook, DingTalk and WeCom robots; a real Elasticsearch for alerts/deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from datetime import timedelta

from core.alerting import alerts_index, build_alert, raise_alert
from core.auditing import Actor, MemoryAuditor
from core.es import Store
from core.settings import Settings
from core.timeutil import utcnow
from notifications import service
from tests.integration.notifications.receivers import http_receiver, smtp_receiver

SYSADMIN = Actor("alice", "sysadmin")
ANALYST = Actor("li", "analyst")


def _alert(store: Store, settings: Settings, key: str, level: str = "high", rule: str = "r-brute",
           source: str = "detection") -> str:
    alert_id, doc = build_alert(rule_id=rule, rule_name="SSH 暴力破解 / brute force", level=level,
                                reason=f"failed logins ({key})", key=key, source=source,
                                entities={"host": {"name": "web01"}, "source": {"ip": "203.0.113.50"}})
    assert raise_alert(store, settings.index_prefix, alert_id, doc)
    return alert_id


def test_every_channel_type_delivers_each_alert_once(settings: Settings, store: Store) -> None:
    auditor = MemoryAuditor()
    with http_receiver() as http, smtp_receiver() as smtp:
        chans = {
            "webhook": service.save_channel(store, settings, auditor, {
                "name": "SIEM", "type": "webhook", "min_level": "high", "language": "en",
                "config": {"url": f"{http.url}/hook", "secret": "s3cret"}}, actor=SYSADMIN),
            "dingtalk": service.save_channel(store, settings, auditor, {
                "name": "值班群", "type": "dingtalk", "min_level": "high",
                "config": {"url": f"{http.url}/robot/send?access_token=abc", "secret": "SECxyz"}}, actor=SYSADMIN),
            "wecom": service.save_channel(store, settings, auditor, {
                "name": "企业微信", "type": "wecom", "min_level": "critical",
                "config": {"url": f"{http.url}/cgi-bin/webhook/send?key=k"}}, actor=SYSADMIN),
            "smtp": service.save_channel(store, settings, auditor, {
                "name": "SOC mail", "type": "smtp", "min_level": "medium", "language": "zh-CN",
                "config": {"host": smtp.host, "port": smtp.port, "from": "soc@example.gov.cn",
                           "to": ["duty@example.gov.cn"]}}, actor=SYSADMIN),
        }
        assert chans["webhook"]["config"]["secret"] == "(set)"  # never handed back
        raw = store.get(service.channels_index(settings), chans["webhook"]["id"])["_source"]
        assert "s3cret" not in str(raw)  # sealed at rest

        high = _alert(store, settings, "a1", "high")
        _alert(store, settings, "a2", "low")
        crit = _alert(store, settings, "a3", "critical")
        store.refresh(alerts_index(settings.index_prefix))
        first = service.dispatch(store, settings, auditor)
        assert first[chans["webhook"]["id"]]["sent"] == 2 and first[chans["wecom"]["id"]]["sent"] == 1
        assert first[chans["smtp"]["id"]]["sent"] == 2

        hooks = [r for r in http.requests if r["path"] == "/hook"]
        assert sorted(r["body"]["alert"]["id"] for r in hooks) == sorted([high, crit])
        sig = hmac.new(b"s3cret", hooks[0]["raw"], hashlib.sha256).hexdigest()
        assert hooks[0]["headers"]["x-qinglang-signature"] == f"sha256={sig}"
        assert hooks[0]["body"]["subject"].startswith("[High]") or hooks[0]["body"]["subject"].startswith("[Critical]")

        ding = [r for r in http.requests if r["path"].startswith("/robot/send")]
        assert len(ding) == 2 and ding[0]["body"]["msgtype"] == "markdown"
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(ding[0]["path"]).query))
        expected = base64.b64encode(hmac.new(b"SECxyz", f"{query['timestamp']}\nSECxyz".encode(),
                                             hashlib.sha256).digest()).decode()
        assert query["sign"] == expected and query["access_token"] == "abc"
        assert "主机" in ding[0]["body"]["markdown"]["text"]  # zh template

        wecom = [r for r in http.requests if r["path"].startswith("/cgi-bin")]
        assert len(wecom) == 1 and crit in wecom[0]["body"]["markdown"]["content"]

        assert len(smtp.box.messages) == 2
        subjects = sorted(str(m["Subject"]) for m in smtp.box.messages)
        assert subjects[0].startswith("【") and "暴力破解" in subjects[0]
        assert smtp.box.envelopes[0][1] == ["duty@example.gov.cn"]

        # Exactly once: a second pass (overlapping window) sends nothing new.
        before = len(http.requests), len(smtp.box.messages)
        again = service.dispatch(store, settings, auditor)
        assert (len(http.requests), len(smtp.box.messages)) == before
        assert all(c["sent"] == 0 for c in again.values())
        sends = [r for r in auditor.records if r["action"] == "notifications.send"]
        assert len(sends) == 7 and all(r["outcome"] == "success" for r in sends)


def test_failures_retry_with_backoff_and_raise_a_platform_alert_until_delivered(settings: Settings,
                                                                               store: Store) -> None:
    auditor = MemoryAuditor()
    with http_receiver() as http:
        chan = service.save_channel(store, settings, auditor, {
            "name": "hook", "type": "webhook", "min_level": "high", "config": {"url": f"{http.url}/hook"}},
            actor=SYSADMIN)  # (the medium "channel failing" alert itself is not sent here)
        alert_id = _alert(store, settings, "x1")
        store.refresh(alerts_index(settings.index_prefix))
        http.fail_next = 3  # all three in-process attempts fail
        out = service.dispatch(store, settings, auditor)[chan["id"]]
        assert out == {"sent": 0, "failed": 0, "retry": 1, "skipped": 0}
        assert [r["failed"] for r in http.requests] == [True, True, True]
        delivery = service.list_deliveries(store, settings, actor=SYSADMIN)[0]
        assert delivery["status"] == "retry" and delivery["attempts"] == 3 and "HTTP 500" in delivery["error"]
        failing = store.search(alerts_index(settings.index_prefix),
                               {"query": {"term": {"rule.id": "notify.channel_failing"}}})["hits"]["hits"]
        assert len(failing) == 1 and failing[0]["_source"]["alert"]["audience"] == ["sysadmin"]
        # Not due yet: nothing is sent.
        service.dispatch(store, settings, auditor)
        assert len(http.requests) == 3
        # Later, the receiver is back: the retry is delivered and the platform alert resolves.
        later = utcnow() + timedelta(minutes=30)
        out = service.dispatch(store, settings, auditor, now=later)[chan["id"]]
        assert out["sent"] == 1 and http.requests[-1]["body"]["alert"]["id"] == alert_id
        delivery = service.list_deliveries(store, settings, actor=SYSADMIN)[0]
        assert delivery["status"] == "sent" and delivery["attempts"] == 4
        alert = store.get(alerts_index(settings.index_prefix), failing[0]["_id"])["_source"]["alert"]
        assert alert["status"] == "closed" and alert["close_reason"] == "resolved"
        outcomes = [r["outcome"] for r in auditor.records if r["action"] == "notifications.send"]
        assert outcomes == ["failure", "success"]


def test_robot_refusal_is_final_and_reported(settings: Settings, store: Store) -> None:
    auditor = MemoryAuditor()
    with http_receiver() as http:
        http.answer = {"errcode": 310000, "errmsg": "sign not match"}
        chan = service.save_channel(store, settings, auditor, {
            "name": "ding", "type": "dingtalk", "min_level": "low", "config": {"url": f"{http.url}/robot"}},
            actor=SYSADMIN)
        result = service.test_channel(store, settings, auditor, chan["id"], actor=SYSADMIN)
        assert result["ok"] is False and "310000" in result["error"] and "sign not match" in result["error"]
        assert auditor.records[-1]["action"] == "notifications.test" and auditor.records[-1]["outcome"] == "failure"
        _alert(store, settings, "y1")
        store.refresh(alerts_index(settings.index_prefix))
        out = service.dispatch(store, settings, auditor)[chan["id"]]
        assert out["failed"] == 1 and len(http.requests) == 2  # the test + one attempt: no retry storm


def test_filters_by_rule_and_audience(settings: Settings, store: Store) -> None:
    auditor = MemoryAuditor()
    with http_receiver() as http:
        ops = service.save_channel(store, settings, auditor, {
            "name": "ops", "type": "webhook", "min_level": "low", "audience": ["sysadmin"],
            "config": {"url": f"{http.url}/ops"}}, actor=SYSADMIN)
        soc = service.save_channel(store, settings, auditor, {
            "name": "soc", "type": "webhook", "min_level": "low", "rules": ["r-scan"],
            "config": {"url": f"{http.url}/soc"}}, actor=SYSADMIN)
        _alert(store, settings, "b1", rule="r-brute")
        scan = _alert(store, settings, "b2", rule="r-scan")
        backup = _alert(store, settings, "b3", rule="backup.run_failed", source="backup")
        store.refresh(alerts_index(settings.index_prefix))
        out = service.dispatch(store, settings, auditor)
        assert out[ops["id"]]["sent"] == 1 and out[soc["id"]]["sent"] == 1
        by_path = {r["path"]: r["body"]["alert"]["id"] for r in http.requests}
        assert by_path == {"/ops": backup, "/soc": scan}
