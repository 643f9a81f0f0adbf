"""Sigma matching semantics against the real node: case-insensitivity by default, |cased,
wildcards, regular expressions, |cidr on ip fields, |windash, |base64offset, |contains|all,
|exists and null values. Each case lists exactly which sample events must match."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from core.schema import events_template
from detections.loader import load_sources
from detections.service import load_scratch

EVENTS: dict[str, dict[str, Any]] = {
    "lower": {"process": {"command_line": "powershell.exe -enc abc", "name": "powershell.exe"}},
    "upper": {"process": {"command_line": "POWERSHELL.EXE -ENC ABC", "name": "POWERSHELL.EXE"}},
    "mixed": {"process": {"command_line": "PowerShell.exe /enc Zm9v", "name": "PowerShell.exe"}},
    "endash": {"process": {"command_line": "pwsh \u2013enc x", "name": "pwsh"}},
    "star": {"process": {"command_line": "echo a*b", "name": "cmd.exe"}},
    "b64": {"process": {"command_line": "x " + base64.b64encode(b"GET http://evil.example/a").decode(), "name": "x"}},
    "ip10": {"source": {"ip": "10.1.2.3"}, "process": {"name": "sshd"}},
    "ip192": {"source": {"ip": "192.168.7.7"}, "process": {"name": "sshd"}},
    "empty": {"user": {"name": ""}, "process": {"name": "login"}},
    "withuser": {"user": {"name": "Alice"}, "process": {"name": "login"}},
    "port": {"destination": {"port": 443}, "process": {"name": "curl"}},
}

CASES: list[tuple[str, str, set[str]]] = [
    ("equals is case-insensitive", "process.name: 'powershell.EXE'", {"lower", "upper", "mixed"}),
    ("|cased keeps case", "process.name|cased: 'PowerShell.exe'", {"mixed"}),
    ("contains", "process.command_line|contains: 'SHELL.exe -e'", {"lower", "upper"}),
    ("startswith", "process.command_line|startswith: 'PowerShell'", {"lower", "upper", "mixed"}),
    ("endswith", "process.command_line|endswith: 'abc'", {"lower", "upper"}),
    ("? wildcard", "process.name: 'p?wershell.exe'", {"lower", "upper", "mixed"}),
    ("escaped star is literal", "process.command_line: 'echo a\\*b'", {"star"}),
    ("regex is case-sensitive", "process.command_line|re: 'Power[Ss]hell\\.exe'", {"mixed"}),
    ("regex |i", "process.command_line|re|i: 'power[s]hell\\.exe\\s+[-/]enc'", {"lower", "upper", "mixed"}),
    ("regex anchors", "process.command_line|re: '^pwsh .*x$'", {"endash"}),
    ("cidr on ip field", "source.ip|cidr: '10.0.0.0/8'", {"ip10"}),
    ("windash", "process.command_line|windash|contains: ' -enc '", {"lower", "upper", "mixed", "endash"}),
    ("base64offset", "process.command_line|base64offset|contains: 'http://'", {"b64"}),
    ("contains|all", "process.command_line|contains|all: ['-enc', 'ABC']", {"lower", "upper"}),
    ("exists true", "user.name|exists: true", {"empty", "withuser"}),
    ("exists false", "source.ip|exists: false", set(EVENTS) - {"ip10", "ip192"}),
    ("null value", "user.name: null", set(EVENTS) - {"empty", "withuser"}),
    ("empty string", "user.name: ''", {"empty"}),
    ("number on long field", "destination.port: 443", {"port"}),
    ("list is OR", "process.name: ['sshd', 'CURL']", {"ip10", "ip192", "port"}),
]


def rule_yaml(i: int, condition: str) -> str:
    return (f"title: case {i}\nid: 00000000-0000-4000-8000-{i:012d}\nstatus: test\n"
            "logsource:\n    product: linux\n    service: auth\n"
            f"detection:\n    sel:\n        {condition}\n    condition: sel\nlevel: low\n")


@pytest.fixture
def scratch(store, prefix):
    index = f"{prefix}-events-system.auth-scratch"
    template = events_template(prefix)["template"]
    store.ensure_index(index, mappings=template["mappings"], settings=template["settings"])
    docs = []
    for name, doc in EVENTS.items():
        docs.append((name, {"@timestamp": "2026-11-26T10:00:00.000Z", "event": {"dataset": "system.auth"},
                            "labels": {"case": name}, **doc}))
    load_scratch(store, index, docs)
    return index


def test_semantics_against_real_node(store, scratch):
    report = load_sources((f"case{i}.yml", rule_yaml(i, cond)) for i, (_n, cond, _e) in enumerate(CASES))
    assert report.rejected == 0, [e for e in report.entries if e.status == "rejected"]
    by_id = {r.id: r for r in report.rules}
    searches = [(scratch, {"query": by_id[f"00000000-0000-4000-8000-{i:012d}"].query, "size": 50})
                for i in range(len(CASES))]
    responses = store.msearch(searches)
    wrong = []
    for (name, cond, expected), resp in zip(CASES, responses, strict=True):
        assert "error" not in resp, (name, resp["error"])
        got = {h["_id"] for h in resp["hits"]["hits"]}
        if got != expected:
            wrong.append(f"{name} ({cond}): got {sorted(got)}, expected {sorted(expected)}")
    assert not wrong, "\n".join(wrong)
