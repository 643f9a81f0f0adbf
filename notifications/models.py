"""Notification channels and deliveries (documents in ``<prefix>-notify-channels`` and
``<prefix>-notify-deliveries``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CHANNEL_TYPES = ("webhook", "smtp", "dingtalk", "wecom")
ChannelType = Literal["webhook", "smtp", "dingtalk", "wecom"]
# Config keys whose values are secrets: stored encrypted, never returned by the API.
SECRET_KEYS = frozenset({"secret", "password"})
MAX_ATTEMPTS = 6

CHANNELS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"id": {"type": "keyword"}, "name": {"type": "keyword"}, "type": {"type": "keyword"},
                   "enabled": {"type": "boolean"}, "created": {"type": "date"}, "updated": {"type": "date"}},
}
DELIVERIES_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"alert_id": {"type": "keyword"}, "channel_id": {"type": "keyword"},
                   "status": {"type": "keyword"}, "attempts": {"type": "integer"},
                   "next_attempt": {"type": "date"}, "time": {"type": "date"}, "rule_id": {"type": "keyword"},
                   "level": {"type": "keyword"}},
}


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    type: ChannelType
    enabled: bool = True
    min_level: str = "high"
    rules: tuple[str, ...] = ()          # rule ids or names; empty = every rule
    audience: tuple[str, ...] = ()       # roles the alert is routed to; empty = any
    language: Literal["zh-CN", "en"] = "zh-CN"
    config: dict[str, Any] = field(default_factory=dict)  # url, to, host, port, … (secrets decrypted)
    checkpoint: str | None = None        # alerts created up to here have been considered
    created: str | None = None


@dataclass(frozen=True)
class Message:
    subject: str
    text: str       # plain text (e-mail body, webhook "text")
    markdown: str   # DingTalk / WeCom markdown
    summary: dict[str, Any]


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None
    attempts: int = 1
    permanent: bool = False  # the receiver refused for good (bad credentials, errcode): no retry
    detail: dict[str, Any] = field(default_factory=dict)
