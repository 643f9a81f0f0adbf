"""Notification channels (create, update, delete, list, test) and the dispatcher that sends each
new alert once per matching channel, retrying with backoff and auditing every send.

Exactly once per (alert, channel): a delivery document with a deterministic id records each
outcome; the dispatcher re-reads a few minutes before its checkpoint (alerts become visible after
a refresh) and skips what a delivery document says is done.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from core.alerting import LEVELS, ROLES_ACTING, alerts_index, build_alert, raise_alert, resolve_condition
from core.auditing import Actor, Auditor
from core.errors import InvalidInput, NotFound
from core.es import Store
from core.ids import stable_id
from core.permissions import requires
from core.settings import Settings
from core.timeutil import iso, parse_iso, utcnow
from notifications import senders, templates
from notifications.models import (
    CHANNEL_TYPES,
    CHANNELS_MAPPING,
    DELIVERIES_MAPPING,
    MAX_ATTEMPTS,
    SECRET_KEYS,
    Channel,
    SendResult,
)

OVERLAP = timedelta(minutes=5)
MAX_PER_TICK = 500
SYSTEM = Actor.system("notify")
_EMAIL = re.compile(r"^[^@\s<>,;]{1,64}@[^@\s<>,;]{1,255}$")


def channels_index(settings: Settings) -> str:
    return settings.index("notify-channels")


def deliveries_index(settings: Settings) -> str:
    return settings.index("notify-deliveries")


def _fernet(settings: Settings) -> Fernet:
    key = hashlib.sha256(b"qinglang-notify:" + settings.api.secret_key.get_secret_value().encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", detail=[{"field": field, "message": message}])


def _url(value: Any, field: str) -> str:
    url = str(value or "")
    if not re.match(r"^https?://[^\s/]+", url) or len(url) > 2000:
        raise _bad(field, "an http(s) URL")
    return url


def validate(body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a channel (secrets still clear); raises InvalidInput naming the field."""
    name = str(body.get("name") or "").strip()
    if not 1 <= len(name) <= 100:
        raise _bad("name", "1-100 characters")
    kind = body.get("type")
    if kind not in CHANNEL_TYPES:
        raise _bad("type", f"one of {', '.join(CHANNEL_TYPES)}")
    level = body.get("min_level", "high")
    if level not in LEVELS:
        raise _bad("min_level", f"one of {', '.join(LEVELS)}")
    rules = [str(r) for r in body.get("rules") or []]
    if len(rules) > 200 or any(not 1 <= len(r) <= 200 for r in rules):
        raise _bad("rules", "up to 200 rule ids or names")
    audience = list(body.get("audience") or [])
    if any(a not in ROLES_ACTING for a in audience):
        raise _bad("audience", f"roles among {', '.join(ROLES_ACTING)}")
    language = body.get("language", "zh-CN")
    if language not in ("zh-CN", "en"):
        raise _bad("language", "zh-CN or en")
    cfg = dict(body.get("config") or {})
    if kind == "smtp":
        if not re.match(r"^[A-Za-z0-9.\-:\[\]]{1,255}$", str(cfg.get("host") or "")):
            raise _bad("config.host", "an SMTP server host name")
        port = cfg.get("port", 25)
        if not isinstance(port, int) or not 1 <= port <= 65535:
            raise _bad("config.port", "1-65535")
        to = cfg.get("to") or []
        if isinstance(to, str):
            to = [to]
        if not to or len(to) > 50 or any(not _EMAIL.match(str(a)) for a in to):
            raise _bad("config.to", "1-50 e-mail addresses")
        if not _EMAIL.match(str(cfg.get("from") or "")):
            raise _bad("config.from", "an e-mail address")
        if cfg.get("tls", "none") not in ("none", "starttls", "ssl"):
            raise _bad("config.tls", "none, starttls or ssl")
        cfg = {k: cfg[k] for k in ("host", "port", "from", "tls", "username", "password") if k in cfg} | {"to": to}
        cfg.setdefault("port", port)
    else:
        cfg = {"url": _url(cfg.get("url"), "config.url"), **({"secret": str(cfg["secret"])} if cfg.get("secret") else {})}
    return {"name": name, "type": kind, "enabled": bool(body.get("enabled", True)), "min_level": level,
            "rules": rules, "audience": audience, "language": language, "config": cfg}


def _seal(settings: Settings, cfg: dict[str, Any]) -> dict[str, Any]:
    f = _fernet(settings)
    return {k: ({"sealed": f.encrypt(str(v).encode()).decode()} if k in SECRET_KEYS and v else v) for k, v in cfg.items()}


def _open(settings: Settings, cfg: dict[str, Any]) -> dict[str, Any]:
    f = _fernet(settings)
    out = {}
    for k, v in cfg.items():
        if isinstance(v, dict) and "sealed" in v:
            try:
                v = f.decrypt(str(v["sealed"]).encode()).decode()
            except InvalidToken:
                v = None  # sealed under another API key: the sysadmin must enter it again
        out[k] = v
    return out


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """A channel as the API shows it: secrets replaced by whether they are set."""
    out = dict(doc)
    out["config"] = {k: ("(set)" if k in SECRET_KEYS else v) for k, v in (doc.get("config") or {}).items()}
    return out


def _channel(settings: Settings, doc: dict[str, Any]) -> Channel:
    return Channel(id=doc["id"], name=doc["name"], type=doc["type"], enabled=doc.get("enabled", True),
                   min_level=doc.get("min_level", "high"), rules=tuple(doc.get("rules") or ()),
                   audience=tuple(doc.get("audience") or ()), language=doc.get("language", "zh-CN"),
                   config=_open(settings, doc.get("config") or {}), checkpoint=doc.get("checkpoint"),
                   created=doc.get("created"))


def _ensure(store: Store, settings: Settings) -> None:
    store.ensure_index(channels_index(settings), mappings=CHANNELS_MAPPING)
    store.ensure_index(deliveries_index(settings), mappings=DELIVERIES_MAPPING)


@requires("notifications.read")
def list_channels(store: Store, settings: Settings, *, actor: Actor) -> list[dict[str, Any]]:
    _ensure(store, settings)
    resp = store.search(channels_index(settings), {"size": 200, "sort": [{"name": "asc"}]})
    return [_public(h["_source"]) for h in resp["hits"]["hits"]]


@requires("notifications.manage")
def save_channel(store: Store, settings: Settings, auditor: Auditor, body: dict[str, Any], *, actor: Actor,
                 channel_id: str | None = None) -> dict[str, Any]:
    """Create (no id) or replace a channel; on update, secrets left out (or "(set)") are kept."""
    _ensure(store, settings)
    doc = validate(body)
    now = iso(utcnow())
    if channel_id is None:
        channel_id = "ch-" + secrets.token_hex(5)
        doc.update(id=channel_id, created=now, checkpoint=now)
    else:
        old = store.get(channels_index(settings), channel_id)
        if old is None:
            raise NotFound(f"No notification channel {channel_id!r}.")
        prev = old["_source"]
        for k in SECRET_KEYS:
            if doc["config"].get(k) in (None, "(set)") and k in (prev.get("config") or {}):
                doc["config"][k] = _open(settings, {k: prev["config"][k]})[k]
        doc.update(id=channel_id, created=prev.get("created"), checkpoint=prev.get("checkpoint") or now)
    doc["updated"] = now
    doc["config"] = _seal(settings, {k: v for k, v in doc["config"].items() if v not in (None, "(set)")})
    store.put(channels_index(settings), channel_id, doc, refresh=True)
    auditor.record(actor, "notifications.save", channel_id, detail={"type": doc["type"], "name": doc["name"]})
    return _public(doc)


@requires("notifications.manage")
def delete_channel(store: Store, settings: Settings, auditor: Auditor, channel_id: str, *, actor: Actor) -> None:
    _ensure(store, settings)
    if not store.delete(channels_index(settings), channel_id, refresh=True):
        raise NotFound(f"No notification channel {channel_id!r}.")
    auditor.record(actor, "notifications.delete", channel_id)


def _load(store: Store, settings: Settings, channel_id: str) -> Channel:
    doc = store.get(channels_index(settings), channel_id)
    if doc is None:
        raise NotFound(f"No notification channel {channel_id!r}; list them with GET /api/v1/notifications/channels.")
    return _channel(settings, doc["_source"])


def console_url(settings: Settings) -> str:
    return f"http://{settings.api.host}:{settings.api.port}"


@requires("notifications.manage")
def test_channel(store: Store, settings: Settings, auditor: Auditor, channel_id: str, *,
                 actor: Actor) -> dict[str, Any]:
    """Send a sample message now (the console's "send a test" button); audited like every send."""
    _ensure(store, settings)
    channel = _load(store, settings, channel_id)
    result = senders.send(channel, templates.render(templates.sample_alert(), channel.language,
                                                    console_url(settings)), tries=1)
    auditor.record(actor, "notifications.test", channel_id, outcome="success" if result.ok else "failure",
                   detail={"type": channel.type, "error": result.error})
    return asdict(result)


@requires("notifications.read")
def list_deliveries(store: Store, settings: Settings, *, actor: Actor, channel_id: str | None = None,
                    size: int = 100) -> list[dict[str, Any]]:
    _ensure(store, settings)
    query: dict[str, Any] = {"term": {"channel_id": channel_id}} if channel_id else {"match_all": {}}
    resp = store.search(deliveries_index(settings), {"size": max(1, min(size, 500)), "query": query,
                                                     "sort": [{"time": "desc"}]})
    return [h["_source"] for h in resp["hits"]["hits"]]


# -- the dispatcher ---------------------------------------------------------------------------------

def _alert_query(channel: Channel, lo: str, hi: str) -> dict[str, Any]:
    levels = list(LEVELS[LEVELS.index(channel.min_level):])
    filters: list[dict[str, Any]] = [{"range": {"alert.created": {"gt": lo, "lte": hi}}},
                                     {"terms": {"alert.level": levels}}]
    if channel.rules:
        filters.append({"bool": {"should": [{"terms": {"rule.id": list(channel.rules)}},
                                            {"terms": {"rule.name": list(channel.rules)}}], "minimum_should_match": 1}})
    if channel.audience:
        filters.append({"terms": {"alert.audience": list(channel.audience)}})
    return {"bool": {"filter": filters, "must_not": [{"term": {"alert.status": "closed"}}]}}


def _record(store: Store, settings: Settings, auditor: Auditor, channel: Channel, alert: dict[str, Any],
            previous: dict[str, Any] | None, result: SendResult, now: datetime) -> dict[str, Any]:
    attempts = int((previous or {}).get("attempts", 0)) + result.attempts
    if result.ok:
        status = "sent"
    elif attempts >= MAX_ATTEMPTS or result.permanent:
        status = "failed"
    else:
        status = "retry"
    al = alert.get("alert", {})
    doc = {"alert_id": al.get("id"), "channel_id": channel.id, "status": status, "attempts": attempts,
           "error": result.error, "time": iso(now), "rule_id": alert.get("rule", {}).get("id"),
           "level": al.get("level"),
           "next_attempt": iso(now + timedelta(seconds=60 * 2 ** min(attempts, 6))) if status == "retry" else None}
    store.put(deliveries_index(settings), stable_id("delivery", channel.id, str(al.get("id"))), doc, refresh=False)
    auditor.record(SYSTEM, "notifications.send", f"{channel.id}/{al.get('id')}",
                   outcome="success" if result.ok else "failure",
                   detail={"type": channel.type, "attempts": attempts, "status": status, "error": result.error})
    return doc


def _failing(store: Store, settings: Settings, channel: Channel, error: str | None) -> None:
    """A channel that cannot deliver is the sysadmin's problem: one platform alert until it works."""
    alert_id, doc = build_alert(rule_id="notify.channel_failing", rule_name="Notification channel failing",
                                level="medium", reason=f"Channel {channel.name} ({channel.type}): {error}",
                                key=f"{channel.id}:{utcnow():%Y-%m-%d}", source="platform", tags=["notify"],
                                condition=f"notify.channel_failing:{channel.id}")
    raise_alert(store, settings.index_prefix, alert_id, doc)


def dispatch_channel(store: Store, settings: Settings, auditor: Auditor, channel: Channel,
                     now: datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    lo = iso(parse_iso(channel.checkpoint or channel.created or iso(now)) - OVERLAP)
    hi = iso(now)
    resp = store.search(alerts_index(settings.index_prefix),
                        {"size": MAX_PER_TICK, "query": _alert_query(channel, lo, hi),
                         "sort": [{"alert.created": "asc"}, {"alert.id": "asc"}],
                         "_source": {"excludes": ["event_copy", "alert.history", "alert.comments"]}})
    hits = resp["hits"]["hits"]
    ids = [stable_id("delivery", channel.id, h["_id"]) for h in hits]
    previous = store.mget(deliveries_index(settings), ids)
    counts = {"sent": 0, "failed": 0, "retry": 0, "skipped": 0}
    last_error = None
    for hit, prev_doc in zip(hits, previous, strict=True):
        prev = prev_doc["_source"] if prev_doc else None
        if prev and (prev["status"] in ("sent", "failed") or (prev.get("next_attempt") or "") > hi):
            counts["skipped"] += 1
            continue
        msg = templates.render(hit["_source"], channel.language, console_url(settings))
        result = senders.send(channel, msg)
        doc = _record(store, settings, auditor, channel, hit["_source"], prev, result, now)
        counts[doc["status"]] += 1
        last_error = result.error or last_error
    # Retries of alerts older than the re-read window.
    due = store.search(deliveries_index(settings), {"size": 100, "query": {"bool": {"filter": [
        {"term": {"channel_id": channel.id}}, {"term": {"status": "retry"}},
        {"range": {"next_attempt": {"lte": hi}}}]}}})["hits"]["hits"]
    for d in due:
        if d["_id"] in ids:
            continue
        found = store.get(alerts_index(settings.index_prefix), d["_source"]["alert_id"])
        if found is None:
            continue
        result = senders.send(channel, templates.render(found["_source"], channel.language, console_url(settings)))
        counts[_record(store, settings, auditor, channel, found["_source"], d["_source"], result, now)["status"]] += 1
        last_error = result.error or last_error
    if counts["sent"] or counts["failed"] or counts["retry"]:
        store.refresh(deliveries_index(settings))  # the next pass and the deliveries list search them
    if counts["failed"] or counts["retry"]:
        _failing(store, settings, channel, last_error)
    elif counts["sent"]:
        resolve_condition(store, settings.index_prefix, f"notify.channel_failing:{channel.id}",
                          "the channel delivered again")
    # Carry over: with a full page, continue after the last alert seen instead of skipping ahead.
    checkpoint = hits[-1]["_source"]["alert"]["created"] if len(hits) == MAX_PER_TICK else hi
    store.update(channels_index(settings), channel.id, {"checkpoint": checkpoint}, refresh=True)
    return counts


def dispatch(store: Store, settings: Settings, auditor: Auditor, now: datetime | None = None) -> dict[str, Any]:
    """One pass over every enabled channel (the scheduled job)."""
    _ensure(store, settings)
    resp = store.search(channels_index(settings), {"size": 200, "query": {"term": {"enabled": True}}})
    out: dict[str, Any] = {}
    for hit in resp["hits"]["hits"]:
        channel = _channel(settings, hit["_source"])
        out[channel.id] = dispatch_channel(store, settings, auditor, channel, now)
    return out

