"""Message catalogs for what users read: ``zh-CN`` (default) and ``en``.

Catalogs are JSON files under ``core/locales/``: ``<lang>.json`` and per-area files
``<area>.<lang>.json`` (so parts built in parallel never edit one file). Keys are prefixed with the
domain (``alerts.status.new``). A missing key falls back to English, then to the key.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


@cache
def catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = {}
    files = sorted((f for f in resources.files("core.locales").iterdir()
                    if f.name == f"{lang}.json" or f.name.endswith(f".{lang}.json")), key=lambda f: f.name)
    for f in files:
        data.update(json.loads(f.read_text("utf-8")))
    return data


def t(key: str, lang: str = DEFAULT_LANGUAGE, **params: Any) -> str:
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalog(lang).get(key) or catalog("en").get(key) or key
    return text.format(**params) if params else text


def negotiate(accept_language: str | None) -> str:
    """Pick ``en`` or ``zh-CN`` from an Accept-Language header."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE
