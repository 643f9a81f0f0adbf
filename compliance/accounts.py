"""Account probes over ``/etc/passwd``, ``/etc/shadow`` and ``/etc/group`` of a target."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

from compliance.models import Evidence, RuleOutcome
from compliance.targets import Target
from core.errors import InvalidInput

NOLOGIN = re.compile(r"(nologin|/bin/false|/bin/sync|/sbin/shutdown|/sbin/halt)$")


def _table(text: str | None, width: int) -> list[list[str]]:
    rows = []
    for line in (text or "").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":")
        parts += [""] * (width - len(parts))
        rows.append(parts)
    return rows


def accounts(target: Target, p: dict[str, Any]) -> RuleOutcome:
    prop = p.get("property")
    passwd_text = target.text("/etc/passwd")
    shadow_text = target.text("/etc/shadow")
    passwd = _table(passwd_text, 7)
    shadow = {r[0]: r for r in _table(shadow_text, 9)}
    uid_min = int(p.get("uid_min", 1000))
    problems: list[str] = []
    source, content = "/etc/passwd", passwd_text
    if passwd_text is None:
        return RuleOutcome(False, "/etc/passwd not readable", (Evidence.of("file:/etc/passwd", b"", "(missing)"),))
    if prop == "unique_uids":
        counts = Counter(r[2] for r in passwd)
        problems = [f"uid {uid} shared by {[r[0] for r in passwd if r[2] == uid]}" for uid, n in counts.items() if n > 1]
    elif prop == "unique_names":
        counts = Counter(r[0] for r in passwd)
        problems = [f"user {name} appears {n} times" for name, n in counts.items() if n > 1]
    elif prop == "only_root_uid0":
        problems = [f"{r[0]} has uid 0" for r in passwd if r[2] == "0" and r[0] != "root"]
    elif prop in ("no_empty_passwords", "no_expired_unlocked"):
        source, content = "/etc/shadow", shadow_text
        if shadow_text is None:
            return RuleOutcome(False, "/etc/shadow not readable (run as root)",
                               (Evidence.of("file:/etc/shadow", b"", "(not readable)"),))
        today = int(time.time() // 86400)
        for name, row in shadow.items():
            locked = row[1].startswith(("!", "*"))
            if prop == "no_empty_passwords" and row[1] == "":
                problems.append(f"{name} has an empty password")
            if prop == "no_expired_unlocked" and row[7].isdigit() and int(row[7]) < today and not locked:
                problems.append(f"{name} expired on day {row[7]} but is not locked")
    elif prop == "system_accounts_no_login":
        for r in passwd:
            uid = int(r[2]) if r[2].isdigit() else -1
            if 0 < uid < uid_min and r[0] not in set(p.get("allow", [])):
                pw = shadow.get(r[0], ["", "*"])[1]
                if not NOLOGIN.search(r[6].strip()) and not pw.startswith(("!", "*")):
                    problems.append(f"{r[0]} (uid {uid}) has shell {r[6]} and an unlocked password")
    elif prop == "no_names_like":
        pattern = re.compile(p["pattern"], re.IGNORECASE)
        problems = [f"account {r[0]} matches {p['pattern']}" for r in passwd if pattern.fullmatch(r[0])]
    elif prop == "groups_have_members":
        source = "/etc/group"
        content = target.text("/etc/group")
        groups = {r[0]: [m for m in r[3].split(",") if m] for r in _table(content, 4)}
        gids = {r[0]: r[2] for r in _table(content, 4)}
        primary = Counter(r[3] for r in passwd)
        for group in p["groups"]:
            alternatives = group if isinstance(group, list) else [group]
            if not any(groups.get(g) or primary.get(gids.get(g, "-")) for g in alternatives):
                problems.append(f"no account in group {'/'.join(alternatives)}")
    else:
        raise InvalidInput(f"Unknown accounts property {prop!r}.")
    excerpt = "\n".join(problems) or f"{prop}: no problem found in {source}"
    return RuleOutcome(not problems, "; ".join(problems) or f"{prop} holds", (Evidence.of(f"file:{source}", content, excerpt),))
