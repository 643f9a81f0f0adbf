"""Every page of every role, rendered in English and in Chinese: the console's own words (header,
navigation, headings, table headers, buttons, labels) are in the page's language — no Chinese on an
English page, no untranslated English on a Chinese one — and no page throws a script error."""

from __future__ import annotations

import re

from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.conftest import Console, login, wait_ready

ROLES = {"ana": "analyst", "aud": "auditor", "sam": "sysadmin", "adm": "admin"}
CHROME = "nav a, [data-testid=user-role], [data-testid=logout], h1, h2, h3, th, button:not([data-key]), label, summary:not(:has(code)), .kpi-label, .tactic-head strong, dt"
HAN = re.compile(r"[\u4e00-\u9fff]")
# Words that stay as they are in Chinese text: names, standards, protocols, units.
KEEP = {"ATT&CK", "MITRE", "Sigma", "Webhook", "SMTP", "TOTP", "CSV", "PDF", "HTML", "JSON", "API", "ID", "IP", "URL",
        "RPO", "RTO", "Elasticsearch", "restic", "Qinglang", "UTC", "PIPL", "GB/T", "MLPS", "ECS", "DNS", "HTTP", "TLS",
        "SSH", "CES", "ISO", "Zeek", "EVTX", "English", "QR", "OTP", "PII", "DingTalk", "WeCom", "PostgreSQL", "ES"}
WORD = re.compile(r"[A-Za-z][A-Za-z&/]{2,}")


def _chrome_texts(page: Page) -> list[str]:
    return [t.strip() for t in page.locator(CHROME).all_inner_texts() if t.strip()]


def _nav_pages(page: Page) -> list[str]:
    return [tid.removeprefix("nav-") for tid in page.locator("#nav a").evaluate_all("els => els.map(e => e.dataset.testid)")]


def test_every_page_in_both_languages(page: Page, console: Console) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    problems: list[str] = []
    for username in ROLES:
        login(page, console, username)
        page.wait_for_selector("main[data-ready]")
        for lang in ("en", "zh-CN"):
            page.get_by_test_id("lang-switch").select_option(lang)
            for name in _nav_pages(page):
                page.goto(f"{console.url}/console/#/{name}")
                try:
                    wait_ready(page, name)
                except PlaywrightTimeout:
                    problems.append(f"{username} {lang} {name}: did not finish rendering")
                    continue
                for text in _chrome_texts(page):
                    if lang == "en" and HAN.search(text) and not text.startswith(("中文", "简体")):
                        problems.append(f"{username} {lang} {name}: {text!r}")
                    if lang == "zh-CN" and not HAN.search(text):
                        words = [w for w in WORD.findall(text) if w not in KEEP and w.upper() not in KEEP]
                        if words and not re.fullmatch(r"[\w.@:/\-]+", text):  # ids, field names, addresses
                            problems.append(f"{username} {lang} {name}: {text!r}")
        page.get_by_test_id("logout").click()
        wait_ready(page, "login")
    # The login page has its own language switch (the header shows only after signing in).
    page.get_by_test_id("login-lang").select_option("en")
    wait_ready(page, "login")
    assert "Password" in page.get_by_test_id("login-form").inner_text()
    page.get_by_test_id("login-lang").select_option("zh-CN")
    wait_ready(page, "login")
    assert "密码" in page.get_by_test_id("login-form").inner_text()
    assert not problems, "\n".join(sorted(set(problems))[:60])
    assert not errors, errors
