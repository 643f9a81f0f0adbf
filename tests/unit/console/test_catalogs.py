"""The console's message catalogs: every key the pages use exists in Chinese and in English."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from api.console import STATIC_DIR, console_config
from core.permissions import TABLE

SOURCES = sorted(p for p in STATIC_DIR.rglob("*.js") if "vendor" not in p.parts)
# Keys built at run time from a prefix and an API value: their expected members.
DYNAMIC = {
    "alerts.col.": ["time", "level", "rule", "host", "user", "source", "status", "assignee"],
    "nav.": ["overview", "alerts", "attack", "cases", "hunt", "rules", "compliance", "backups", "audit", "users",
             "privacy", "notifications"],
    "notify.type.": ["webhook", "smtp", "dingtalk", "wecom"],
    "notify.status.": ["sent", "retry", "failed"],
    "notify.col.": ["name", "type", "target", "minLevel", "state", "time", "channel", "alert", "status", "error"],
    "overview.top.": ["rules", "hosts", "users", "sources"],
    "overview.col.": ["rules", "hosts", "users", "sources"],
    "privacy.type.": ["cn_ric", "cn_mobile", "bank_card", "cn_uscc", "passport", "hk_macau_permit", "email", "cn_name"],
    "privacy.action.": ["keep", "mask", "hash", "drop"],
    "privacy.col.": ["dataset", "field", "type", "events", "first_seen", "last_seen", "action", "hosts", "endpoints"],
    "role.": ["admin", "sysadmin", "analyst", "auditor"],
    "home.role.": ["admin", "sysadmin", "analyst", "auditor"],
    "level.": ["informational", "low", "medium", "high", "critical"],
    "status.": ["new", "acknowledged", "in_progress", "closed"],
    "close_reason.": ["true_positive", "false_positive", "benign", "duplicate", "resolved"],
    "compliance.band.": ["优", "良", "中", "差"],
    "systems.col.": ["department", "system", "level", "latest", "score", "band", "high", "systems", "assessed",
                     "average", "lowest", "worst"],
    "share.for.": ["8h", "1d", "3d", "7d", "14d", "30d"],
    "share.state.": ["active", "expired", "revoked"],
    "share.col.": ["grantees", "expires", "state", "by", "reason"],
    "shared.col.": ["case", "owner", "by", "expires"],
}


def _catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((STATIC_DIR / "locales" / f"{lang}.json").read_text("utf-8"))
    return data


def _static_keys() -> set[str]:
    keys: set[str] = set()
    for path in SOURCES:
        keys.update(re.findall(r"\bt\('([a-zA-Z0-9_.]+)'", path.read_text("utf-8")))
    return keys


def test_sources_found() -> None:
    assert len(SOURCES) >= 10
    assert len(_static_keys()) > 100


def test_every_used_key_is_translated_in_both_languages() -> None:
    wanted = _static_keys() | {prefix + member for prefix, members in DYNAMIC.items() for member in members}
    for lang in ("zh-CN", "en"):
        missing = sorted(wanted - set(_catalog(lang)))
        assert not missing, f"{lang} lacks {missing}"


def test_catalogs_have_the_same_keys_and_real_translations() -> None:
    zh, en = _catalog("zh-CN"), _catalog("en")
    assert set(zh) == set(en)
    # The Chinese catalog is Chinese: most entries contain CJK characters.
    cjk = sum(1 for v in zh.values() if re.search(r"[\u4e00-\u9fff]", v))
    assert cjk / len(zh) > 0.9
    # Placeholders match between languages.
    for key in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_config_carries_the_permission_table(offline_settings) -> None:
    config = console_config(offline_settings)
    assert config["permissions"]["audit.verify"] == sorted(TABLE["audit.verify"])
    assert config["idle_timeout_minutes"] == offline_settings.api.idle_timeout_minutes
    assert config["default_language"] == "zh-CN"


def test_app_serves_the_console(offline_settings) -> None:
    from api.app import create_app
    from core.auditing import MemoryAuditor

    client = TestClient(create_app(offline_settings, auditor=MemoryAuditor()))
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/console/"
    index = client.get("/console/")
    assert index.status_code == 200 and '<script type="module" src="app.js">' in index.text
    assert client.get("/console/pages/alerts.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/console/config.json").json()["languages"] == ["zh-CN", "en"]
    assert client.get("/console/../app.py").status_code == 404
    assert Path(STATIC_DIR / "index.html").is_file()
