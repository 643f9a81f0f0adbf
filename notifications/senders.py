"""One sender per channel type: each turns a ``Message`` into a request and raises ``SendError``
with the receiver's own words when it refuses. Retries with backoff live in ``send``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import ssl
import time
import urllib.parse
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import httpx
import orjson

from notifications.models import Channel, Message, SendResult

TIMEOUT = 10.0
IN_PROCESS_TRIES = 3


class SendError(Exception):
    """The receiver refused or could not be reached; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _post_json(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    data = orjson.dumps(body)
    try:
        resp = httpx.post(url, content=data, timeout=TIMEOUT, follow_redirects=False,
                          headers={"content-type": "application/json; charset=utf-8", **(headers or {})})
    except httpx.HTTPError as exc:
        raise SendError(f"{urllib.parse.urlsplit(url).netloc}: {exc.__class__.__name__}: {exc}") from exc
    if resp.status_code >= 400:
        raise SendError(f"HTTP {resp.status_code}: {resp.text[:300]}",
                        permanent=400 <= resp.status_code < 500 and resp.status_code not in (408, 429))
    return resp


def webhook(channel: Channel, msg: Message) -> dict[str, Any]:
    """Generic JSON; with a secret, ``X-Qinglang-Signature: sha256=<hmac of the body>``."""
    body = {"subject": msg.subject, "text": msg.text, "alert": msg.summary}
    headers = {}
    secret = channel.config.get("secret")
    if secret:
        digest = hmac.new(str(secret).encode(), orjson.dumps(body), hashlib.sha256).hexdigest()
        headers["x-qinglang-signature"] = f"sha256={digest}"
    resp = _post_json(str(channel.config["url"]), body, headers)
    return {"status": resp.status_code}


def _robot_errcode(resp: httpx.Response) -> None:
    """DingTalk and WeCom answer HTTP 200 with ``errcode`` != 0 when they refuse a message."""
    try:
        data = resp.json()
    except ValueError as exc:
        raise SendError(f"unexpected answer: {resp.text[:200]}") from exc
    if int(data.get("errcode", 0)) != 0:
        raise SendError(f"errcode {data.get('errcode')}: {data.get('errmsg')}", permanent=True)


def dingtalk(channel: Channel, msg: Message) -> dict[str, Any]:
    """DingTalk custom robot; with a secret, the signed URL (timestamp + HMAC-SHA256 of both)."""
    url = str(channel.config["url"])
    secret = channel.config.get("secret")
    if secret:
        ts = str(int(time.time() * 1000))
        sign = base64.b64encode(hmac.new(str(secret).encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest())
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"timestamp": ts, "sign": sign.decode()})
    resp = _post_json(url, {"msgtype": "markdown", "markdown": {"title": msg.subject, "text": msg.markdown}})
    _robot_errcode(resp)
    return {"status": resp.status_code}


def wecom(channel: Channel, msg: Message) -> dict[str, Any]:
    """WeCom (企业微信) group robot."""
    resp = _post_json(str(channel.config["url"]), {"msgtype": "markdown", "markdown": {"content": msg.markdown}})
    _robot_errcode(resp)
    return {"status": resp.status_code}


def smtp(channel: Channel, msg: Message) -> dict[str, Any]:
    cfg = channel.config
    email = EmailMessage()
    email["Subject"] = msg.subject
    email["From"] = str(cfg["from"])
    email["To"] = ", ".join(cfg["to"])
    email.set_content(msg.text)
    try:
        if cfg.get("tls") == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(str(cfg["host"]), int(cfg.get("port", 465)), timeout=TIMEOUT,
                                                    context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(str(cfg["host"]), int(cfg.get("port", 25)), timeout=TIMEOUT)
        with server:
            if cfg.get("tls") == "starttls":
                server.starttls(context=ssl.create_default_context())
            if cfg.get("username"):
                server.login(str(cfg["username"]), str(cfg.get("password") or ""))
            refused = server.send_message(email)
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(f"SMTP login refused: {exc.smtp_code} {exc.smtp_error!r}", permanent=True) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError(f"SMTP recipients refused: {sorted(exc.recipients)}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(f"SMTP {cfg.get('host')}:{cfg.get('port', 25)}: {exc}") from exc
    return {"refused": sorted(refused)}


SENDERS: dict[str, Callable[[Channel, Message], dict[str, Any]]] = {
    "webhook": webhook, "dingtalk": dingtalk, "wecom": wecom, "smtp": smtp,
}


def send(channel: Channel, msg: Message, *, tries: int = IN_PROCESS_TRIES,
         sleep: Callable[[float], None] = time.sleep) -> SendResult:
    """Send with up to ``tries`` attempts and exponential backoff (0.5 s, 1 s, …)."""
    error = ""
    for attempt in range(1, tries + 1):
        try:
            return SendResult(ok=True, attempts=attempt, detail=SENDERS[channel.type](channel, msg))
        except SendError as exc:
            error = str(exc)
            if exc.permanent:
                return SendResult(ok=False, error=error, attempts=attempt, permanent=True)
        if attempt < tries:
            sleep(0.5 * 2 ** (attempt - 1))
    return SendResult(ok=False, error=error, attempts=tries)
