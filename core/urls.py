"""Elasticsearch URLs as users give them: one node or several, maybe with credentials."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def split_urls(value: str) -> list[str]:
    """``SOC_ES_URL`` is one URL or several, comma-separated (the nodes of one cluster)."""
    return [u.strip() for u in value.split(",") if u.strip()]


def redact_url(url: str) -> str:
    """The URL(s) with any ``user:password@`` replaced, for display and logs."""
    out = []
    for one in split_urls(url):
        parts = urlsplit(one)
        if "@" in parts.netloc:
            netloc = "******@" + parts.netloc.rsplit("@", 1)[1]
            one = urlunsplit(parts._replace(netloc=netloc))
        out.append(one)
    return ",".join(out)
