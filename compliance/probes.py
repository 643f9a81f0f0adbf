"""Host probes: each rule type reads the target and says whether its expectation holds, with evidence."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from compliance.accounts import accounts
from compliance.models import EXCERPT_CHARS, Evidence, Rule, RuleOutcome
from compliance.targets import Target
from core.errors import InvalidInput


def _paths(target: Target, params: dict[str, Any]) -> list[str]:
    patterns = params.get("paths") or ([params["path"]] if "path" in params else [])
    out: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            out.extend(target.glob(pattern))
        else:
            out.append(pattern)
    return out


def _lines(text: str, ignore_comments: bool = True) -> list[str]:
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or (ignore_comments and stripped.startswith("#")):
            continue
        lines.append(stripped)
    return lines


def _compare(actual: str, op: str, expected: Any) -> bool:
    if op in ("eq", "ne"):
        same = actual.strip().lower() == str(expected).strip().lower()
        return same if op == "eq" else not same
    if op in ("le", "ge", "lt", "gt"):
        try:
            a = float(actual.strip().split()[0])
        except (ValueError, IndexError):
            return False
        e = float(expected)
        return {"le": a <= e, "ge": a >= e, "lt": a < e, "gt": a > e}[op]
    if op == "in":
        return actual.strip().lower() in {str(v).lower() for v in expected}
    if op == "not_in":
        return actual.strip().lower() not in {str(v).lower() for v in expected}
    if op == "regex":
        return re.search(str(expected), actual) is not None
    if op == "not_regex":
        return re.search(str(expected), actual) is None
    raise InvalidInput(f"Unknown comparison {op!r}: use eq, ne, le, ge, lt, gt, in, not_in, regex, not_regex.")


def file_exists(target: Target, p: dict[str, Any]) -> RuleOutcome:
    found = [path for path in _paths(target, p) if target.stat(path) is not None]
    want = p.get("expect", "present")
    ok = bool(found) if want == "present" else not found
    names = ", ".join(found) or "none"
    return RuleOutcome(ok, f"present: {names}", (Evidence.of(f"files:{p.get('paths') or p.get('path')}", names, names),))


def file_regex(target: Target, p: dict[str, Any]) -> RuleOutcome:
    flags = re.IGNORECASE if p.get("case_insensitive") else 0
    pattern = re.compile(p["pattern"], flags)
    hits: list[str] = []
    evidence: list[Evidence] = []
    for path in _paths(target, p):
        text = target.text(path)
        if text is None:
            continue
        matched = [f"{path}: {line}" for line in _lines(text, p.get("ignore_comments", True)) if pattern.search(line)]
        hits.extend(matched)
        evidence.append(Evidence.of(f"file:{path}", text, "\n".join(matched) or "(no matching line)"))
    want = p.get("expect", "match")
    ok = bool(hits) if want == "match" else not hits
    if not evidence:
        evidence.append(Evidence.of(f"file:{p.get('paths') or p.get('path')}", b"", "(file not found)"))
    return RuleOutcome(ok, f"{len(hits)} line(s) match /{p['pattern']}/", tuple(evidence))


def _kv_value(text: str, key: str, separator: str | None, first_wins: bool) -> str | None:
    found: str | None = None
    for line in _lines(text):
        if separator:
            k, sep, v = line.partition(separator)
            if not sep:
                continue
        else:
            parts = line.split(None, 1)
            k, v = parts[0], parts[1] if len(parts) > 1 else ""
        if k.strip().lower() == key.lower():
            found = v.strip().strip('"')
            if first_wins:
                return found
    return found


def file_kv(target: Target, p: dict[str, Any]) -> RuleOutcome:
    key, op, expected = p["key"], p.get("op", "eq"), p.get("value")
    first_wins = bool(p.get("first_wins", False))
    value: str | None = None
    where = ""
    evidence: list[Evidence] = []
    for path in _paths(target, p):
        text = target.text(path)
        if text is None:
            continue
        v = _kv_value(text, key, p.get("separator"), first_wins)
        if v is not None:
            evidence.append(Evidence.of(f"file:{path}", text, f"{key} {v}"))
            if value is None or not first_wins:
                value, where = v, path
            if first_wins:
                break
    if value is None:
        default = p.get("default")
        if default is None:
            evidence.append(Evidence.of(f"file:{p.get('paths') or p.get('path')}", b"", f"{key} not set"))
            return RuleOutcome(p.get("missing", "fail") == "pass", f"{key} not set", tuple(evidence))
        value, where = str(default), "built-in default"
        evidence.append(Evidence.of(f"default:{key}", value, f"{key} {value} (default)"))
    ok = _compare(value, op, expected)
    return RuleOutcome(ok, f"{key} = {value} ({where}); expected {op} {expected}", tuple(evidence))


def _names(target: Target, path: str) -> dict[int, str]:
    text = target.text(path) or ""
    out: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            out[int(parts[2])] = parts[0]
    return out


def file_mode(target: Target, p: dict[str, Any]) -> RuleOutcome:
    max_mode = int(str(p.get("max_mode", "0777")), 8)
    owners = set(p.get("owner") or [])
    groups = set(p.get("group") or [])
    users, grps = _names(target, "/etc/passwd"), _names(target, "/etc/group")
    problems: list[str] = []
    seen: list[str] = []
    for path in _paths(target, p):
        st = target.stat(path)
        if st is None:
            if p.get("missing", "pass") == "fail":
                problems.append(f"{path}: missing")
            continue
        owner, group = users.get(st.uid, str(st.uid)), grps.get(st.gid, str(st.gid))
        line = f"{path} {st.mode:04o} {owner}:{group}"
        seen.append(line)
        if st.mode & ~max_mode:
            problems.append(f"{line}: mode wider than {max_mode:04o}")
        if owners and owner not in owners:
            problems.append(f"{line}: owner not in {sorted(owners)}")
        if groups and group not in groups:
            problems.append(f"{line}: group not in {sorted(groups)}")
    text = "\n".join(seen + problems)
    return RuleOutcome(not problems, "; ".join(problems) or f"{len(seen)} path(s) as required",
                       (Evidence.of(f"stat:{p.get('paths') or p.get('path')}", text, text or "(no such path)"),))


def file_age(target: Target, p: dict[str, Any]) -> RuleOutcome:
    newest: tuple[float, str] | None = None
    for path in _paths(target, p):
        st = target.stat(path)
        if st is not None and (newest is None or st.mtime > newest[0]):
            newest = (st.mtime, path)
    limit = float(p["max_age_days"]) * 86400
    if newest is None:
        return RuleOutcome(False, "no matching file", (Evidence.of(f"age:{p.get('paths')}", b"", "(none found)"),))
    age = time.time() - newest[0]
    text = f"{newest[1]} modified {age / 86400:.1f} days ago"
    return RuleOutcome(age <= limit, text, (Evidence.of(f"age:{newest[1]}", text, text),))


def command(target: Target, p: dict[str, Any]) -> RuleOutcome:
    result = target.run(p["id"], list(p["run"]))
    if result is None:
        ok = p.get("missing", "fail") == "pass"
        return RuleOutcome(ok, f"command {p['id']} not available",
                           (Evidence.of(f"command:{' '.join(p['run'])}", b"", "(not available)"),))
    rc, output = result
    flags = re.IGNORECASE if p.get("case_insensitive") else 0
    matches = [line for line in output.splitlines() if re.search(p["pattern"], line, flags)]
    want = p.get("expect", "match")
    ok = bool(matches) if want == "match" else not matches
    if "rc" in p and rc != int(p["rc"]):
        ok = False
    excerpt = "\n".join(matches[:20]) or output[:EXCERPT_CHARS]
    return RuleOutcome(ok, f"exit {rc}, {len(matches)} matching line(s)",
                       (Evidence.of(f"command:{' '.join(p['run'])}", output, excerpt),))


def sysctl(target: Target, p: dict[str, Any]) -> RuleOutcome:
    path = "/proc/sys/" + p["key"].replace(".", "/")
    text = target.text(path)
    if text is None:
        ok = p.get("missing", "fail") == "pass"
        return RuleOutcome(ok, f"{p['key']} not available", (Evidence.of(f"sysctl:{p['key']}", b"", "(missing)"),))
    value = " ".join(text.split())
    ok = _compare(value, p.get("op", "eq"), p["value"])
    return RuleOutcome(ok, f"{p['key']} = {value}", (Evidence.of(f"sysctl:{p['key']}", text, f"{p['key']} = {value}"),))


SYSTEMD_UNITS = ["systemctl", "list-units", "--type=service", "--all", "--no-legend", "--plain", "--no-pager"]


def _running_services(target: Target) -> tuple[set[str], str, str]:
    """Names of running services (systemd units, else process names), the source and raw text."""
    result = target.run("systemd-units", SYSTEMD_UNITS)
    if result is not None and result[0] == 0 and result[1].strip():
        running = set()
        for line in result[1].splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[3] == "running":
                running.add(parts[0].removesuffix(".service"))
        return running, "systemctl list-units", result[1]
    names = set()
    for comm in target.glob("/proc/[0-9]*/comm"):
        name = (target.text(comm) or "").strip()
        if name:
            names.add(name)
    return names, "/proc/*/comm", "\n".join(sorted(names))


def service(target: Target, p: dict[str, Any]) -> RuleOutcome:
    names = list(p["names"])
    running, source, raw = running_services(target)
    up = [n for n in names if n in running]
    want = p.get("state", "running")
    ok = bool(up) if want == "running" else not up
    text = f"running: {', '.join(up) or 'none'} of {', '.join(names)} (from {source})"
    return RuleOutcome(ok, text, (Evidence.of(f"services:{source}", raw, text),))


_TCP_LISTEN = "0A"


def _listening_ports(target: Target) -> tuple[set[tuple[str, int]], str]:
    found: set[tuple[str, int]] = set()
    raw: list[str] = []
    for proto, path in (("tcp", "/proc/net/tcp"), ("tcp", "/proc/net/tcp6"), ("udp", "/proc/net/udp"),
                        ("udp", "/proc/net/udp6")):
        text = target.text(path)
        if not text:
            continue
        raw.append(text)
        for line in text.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 4 or ":" not in parts[1]:
                continue
            if proto == "tcp" and parts[3] != _TCP_LISTEN:
                continue
            if proto == "udp" and parts[3] != "07":
                continue
            try:
                found.add((proto, int(parts[1].rsplit(":", 1)[1], 16)))
            except ValueError:
                continue
    return found, "\n".join(raw)


def port(target: Target, p: dict[str, Any]) -> RuleOutcome:
    proto = p.get("proto", "tcp")
    ports = [int(x) for x in p["ports"]]
    listening, raw = listening_ports(target)
    open_ports = sorted({n for pr, n in listening if n in ports and (proto == "any" or pr == proto)})
    want = p.get("state", "closed")
    ok = not open_ports if want == "closed" else bool(open_ports)
    text = f"listening among {ports}: {open_ports or 'none'} (all listening: {sorted({n for _, n in listening})})"
    return RuleOutcome(ok, text, (Evidence.of("sockets:/proc/net/{tcp,udp}", raw, text),))


def _installed_packages(target: Target) -> tuple[set[str], str, str]:
    text = target.text("/var/lib/dpkg/status")
    if text is not None:
        pkgs: set[str] = set()
        name = None
        for line in text.splitlines():
            if line.startswith("Package:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("Status:") and name and "installed" in line.split()[-1:]:
                pkgs.add(name)
        return pkgs, "/var/lib/dpkg/status", text
    result = target.run("rpm-qa", ["rpm", "-qa", "--qf", "%{NAME}\\n"])
    if result is not None and result[0] == 0:
        return {x.strip() for x in result[1].splitlines() if x.strip()}, "rpm -qa", result[1]
    return set(), "none", ""


def package(target: Target, p: dict[str, Any]) -> RuleOutcome:
    names = list(p["names"])
    pkgs, source, raw = installed_packages(target)
    present = [n for n in names if n in pkgs]
    want = p.get("installed", True)
    ok = bool(present) if want else not present
    text = f"installed: {', '.join(present) or 'none'} of {', '.join(names)} (from {source})"
    return RuleOutcome(ok, text, (Evidence.of(f"packages:{source}", raw, text),))


def running_services(target: Target) -> tuple[set[str], str, str]:
    if "services" not in target.memo:
        target.memo["services"] = _running_services(target)
    return target.memo["services"]  # type: ignore[no-any-return]


def listening_ports(target: Target) -> tuple[set[tuple[str, int]], str]:
    if "ports" not in target.memo:
        target.memo["ports"] = _listening_ports(target)
    return target.memo["ports"]  # type: ignore[no-any-return]


def installed_packages(target: Target) -> tuple[set[str], str, str]:
    if "packages" not in target.memo:
        target.memo["packages"] = _installed_packages(target)
    return target.memo["packages"]  # type: ignore[no-any-return]


def register(table: dict[str, Callable[[Target, dict[str, Any]], RuleOutcome]]) -> None:
    table.update({"file_exists": file_exists, "file_regex": file_regex, "file_kv": file_kv, "file_mode": file_mode,
                  "file_age": file_age, "command": command, "sysctl": sysctl, "service": service, "port": port,
                  "package": package})


def evaluate(target: Target, rule: Rule) -> RuleOutcome:
    table: dict[str, Callable[[Target, dict[str, Any]], RuleOutcome]] = {"accounts": accounts}
    register(table)
    fn = table.get(rule.type)
    if fn is None:
        raise InvalidInput(f"Unknown rule type {rule.type!r}.")
    return fn(target, rule.params)


RULE_TYPES = ("file_exists", "file_regex", "file_kv", "file_mode", "file_age", "command", "sysctl", "service",
              "port", "package", "accounts")
