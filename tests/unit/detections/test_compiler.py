"""Compilation of Sigma rules to Elasticsearch DSL (no node needed) and lint reasons."""

from __future__ import annotations

import pytest

from detections.compiler import UnsupportedRule, translate_regex
from detections.loader import load_sources


def rule(detection: str, logsource: str = "product: windows\n    category: process_creation") -> str:
    return (f"title: t\nid: 22222222-0000-4000-8000-000000000001\nstatus: test\nlogsource:\n    {logsource}\n"
            f"detection:\n{detection}\nlevel: high\n")


def compile_one(text: str):
    report = load_sources([("r.yml", text)])
    return report


def test_windows_process_creation_is_sysmon_1_or_security_4688_and_case_insensitive():
    rep = compile_one(rule("    sel:\n        Image|endswith: '\\\\Cmd.EXE'\n    condition: sel"))
    query = rep.rules[0].query
    filters = query["bool"]["filter"]
    sources = next(f["bool"]["should"] for f in filters if "should" in f.get("bool", {}))
    assert {"bool": {"filter": [{"term": {"winlog.channel.lower": {"value": "microsoft-windows-sysmon/operational"}}},
                                {"term": {"event.code.lower": {"value": "1"}}}]}} in sources
    assert {"bool": {"filter": [{"term": {"winlog.channel.lower": {"value": "security"}}},
                                {"term": {"event.code.lower": {"value": "4688"}}}]}} in sources
    assert {"wildcard": {"process.executable.lower": {"value": "*\\\\cmd.exe"}}} in filters


def test_cased_keeps_base_field_and_case():
    rep = compile_one(rule("    sel:\n        CommandLine|cased: 'Foo'\n    condition: sel"))
    assert {"term": {"process.command_line": {"value": "Foo"}}} in rep.rules[0].query["bool"]["filter"]


def test_or_of_terms_becomes_terms():
    rep = compile_one(rule("    sel:\n        OriginalFileName: ['A.exe', 'B.exe']\n    condition: sel"))
    assert {"terms": {"process.pe.original_file_name.lower": ["a.exe", "b.exe"]}} in rep.rules[0].query["bool"]["filter"]


@pytest.mark.parametrize("text,category", [
    ("title: x\n  bad: [", "yaml_error"),
    ("title: x\ntitle: y\n", "yaml_error"),
    (rule("    sel:\n        Image: x\n    condition: sel", "product: aws\n    service: cloudtrail"), "unmapped_logsource"),
    (rule("    sel:\n        Image|expand: '%tools%'\n    condition: sel"), "unresolved_placeholder"),
    (rule("    sel:\n        Image|re: '(?<=a)b'\n    condition: sel"), "unsupported_regex"),
    (rule("    sel:\n        Foo: x\n    condition: sel", "product: linux\n    category: process_creation"),
     "unmapped_field"),
    (rule("    sel:\n        Image|nosuchmod: x\n    condition: sel"), "sigma_error"),
])
def test_rejections_name_the_reason(text, category):
    rep = compile_one(text)
    assert rep.loaded == 0
    assert rep.entries[0].category == category, rep.entries[0]
    assert rep.entries[0].reason


def test_one_bad_rule_does_not_stop_the_others():
    good = rule("    sel:\n        Image: x\n    condition: sel")
    rep = load_sources([("bad.yml", "{{{"), ("good.yml", good)])
    assert (rep.loaded, rep.rejected) == (1, 1)


@pytest.mark.parametrize("pcre,lucene", [
    (r"abc", ".*abc.*"),
    (r"^abc$", "abc"),
    (r"a|b", ".*(a|b).*"),
    (r"(?i)x@y", ".*x\\@y.*"),
    (r"(?:a|)b", ".*(a)?b.*"),
    (r"[^\\]{1,256}", ".*[^\\\\]{1,}.*"),
    (r"[a-z_-]+", ".*[a-z_\\-]+.*"),
])
def test_regex_translation(pcre, lucene):
    assert translate_regex(pcre)[0] == lucene


def test_regex_flags_and_unsupported():
    assert translate_regex("(?i)abc")[1] is True
    with pytest.raises(UnsupportedRule):
        translate_regex(r"\bword\b")
    with pytest.raises(UnsupportedRule):
        translate_regex(r"a.{1000,}")


def test_fieldref_is_a_superset_search_plus_a_residual_check():
    from detections.compiler import residual_matches

    rep = compile_one(rule("    sel:\n        Image: x\n    same:\n        User|fieldref: ParentUser\n"
                           "    condition: sel and not same"))
    compiled = rep.rules[0]
    assert compiled.residual is not None
    # Every searchable clause matched (the hit's matched_queries); only the fieldref decides.
    leaf_names = {f"q{i}" for i in range(20)}
    same = {"user": {"name": "Bob"}, "winlog": {"event_data": {"ParentUser": "bob"}}}
    other = {"user": {"name": "Bob"}, "winlog": {"event_data": {"ParentUser": "alice"}}}
    assert not residual_matches(compiled.residual, same, leaf_names)
    assert residual_matches(compiled.residual, other, leaf_names)
