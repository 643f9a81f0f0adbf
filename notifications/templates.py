"""Message texts for an alert, in Chinese or English (catalog keys ``notify.*``)."""

from __future__ import annotations

from typing import Any

from core.i18n import t
from core.schema import field_text
from notifications.models import Message


def render(alert: dict[str, Any], lang: str, console_url: str | None = None) -> Message:
    al = alert.get("alert", {})
    level = t(f"notify.level.{al.get('level', 'medium')}", lang)
    rule = field_text(alert, "rule.name") or "-"
    fields = [("time", field_text(alert, "@timestamp")), ("host", field_text(alert, "host.name")),
              ("user", field_text(alert, "user.name")), ("source", field_text(alert, "source.ip")),
              ("reason", al.get("reason") or "")]
    rows = [(t(f"notify.field.{k}", lang), v) for k, v in fields if v]
    link = f"{console_url.rstrip('/')}/console/#/alert/{al.get('id')}" if console_url else ""
    subject = t("notify.subject", lang, level=level, rule=rule)
    text = "\n".join([subject, *(f"{k}: {v}" for k, v in rows), *([link] if link else []),
                      f"{t('notify.field.id', lang)}: {al.get('id')}"])
    markdown = "\n\n".join([f"### {subject}", *(f"**{k}**: {v}" for k, v in rows),
                            *([f"[{t('notify.open', lang)}]({link})"] if link else []),
                            f"{t('notify.field.id', lang)}: `{al.get('id')}`"])
    summary = {"id": al.get("id"), "level": al.get("level"), "rule": {"id": field_text(alert, "rule.id"), "name": rule},
               "time": field_text(alert, "@timestamp"), "host": field_text(alert, "host.name") or None,
               "user": field_text(alert, "user.name") or None, "source_ip": field_text(alert, "source.ip") or None,
               "reason": al.get("reason"), "link": link or None}
    return Message(subject=subject, text=text, markdown=markdown, summary=summary)


def sample_alert() -> dict[str, Any]:
    """What the "send a test" button sends."""
    return {"@timestamp": "2026-01-01T00:00:00.000Z",
            "alert": {"id": "test-notification", "level": "high", "reason": "Qinglang test notification"},
            "rule": {"id": "test", "name": "Qinglang test / 测试通知"}, "host": {"name": "soc"}}
