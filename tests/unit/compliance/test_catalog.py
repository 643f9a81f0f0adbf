"""The MLPS catalogs: exact counts, unique string ids, every item assessed by some method."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from compliance.catalog import builtin_dir, load_catalogs, parse_catalog
from compliance.checkset import builtin_dir as checks_dir
from compliance.checkset import load_checks
from compliance.engine import relevant_checks
from core import yamlio
from core.errors import InvalidInput

CATALOGS = load_catalogs([builtin_dir()])
CHECKS = load_checks([checks_dir()])
L3 = CATALOGS["mlps-2.0-l3"]
L2 = CATALOGS["mlps-2.0-l2"]

L3_COUNTS = {"安全物理环境": 22, "安全通信网络": 8, "安全区域边界": 20, "安全计算环境": 34, "安全管理中心": 12,
             "安全管理制度": 7, "安全管理机构": 14, "安全管理人员": 12, "安全建设管理": 34, "安全运维管理": 48}


def _per_family(cat):  # type: ignore[no-untyped-def]
    names = {f.code: f.name.zh for f in cat.families}
    return Counter(names[i.family] for i in cat.items)


def test_level3_counts_per_family_and_total() -> None:
    assert dict(_per_family(L3)) == L3_COUNTS
    assert len(L3.items) == 211
    assert len({(i.family, i.control_point.zh) for i in L3.items}) == 71


def test_level2_total() -> None:
    assert len(L2.items) == 135
    assert set(_per_family(L2)) == set(L3_COUNTS)


@pytest.mark.parametrize("cat", [L3, L2], ids=["l3", "l2"])
def test_ids_unique_strings_in_test_standard_form(cat) -> None:  # type: ignore[no-untyped-def]
    ids = [i.id for i in cat.items]
    assert len(ids) == len(set(ids))
    prefix = f"L{cat.level}-"
    for item in cat.items:
        assert isinstance(item.id, str)
        assert re.fullmatch(rf"{prefix}{item.family}1-\d\d", item.id), item.id
        assert item.requirement and item.summary and item.control_point.zh and item.control_point.en


def test_level3_has_no_ces1_16() -> None:
    ids = {i.id for i in L3.items}
    assert "L3-CES1-16" not in ids
    assert {"L3-CES1-15", "L3-CES1-17", "L3-CES1-35"} <= ids


@pytest.mark.parametrize("cat", [L3, L2], ids=["l3", "l2"])
def test_every_item_is_assessed_by_some_method(cat) -> None:  # type: ignore[no-untyped-def]
    mapping = relevant_checks(cat, CHECKS)
    for item in cat.items:
        assert item.method in ("host", "platform", "manual")
        kinds = {CHECKS[c].kind for c in mapping[item.id]}
        if item.method == "host":
            assert "host" in kinds, f"{item.id} says host but no host check maps to it"
        if item.method == "platform":
            assert "platform" in kinds, f"{item.id} says platform but no platform check maps to it"


def test_every_check_maps_to_existing_items_and_has_remediation() -> None:
    ids = {i.id for c in CATALOGS.values() for i in c.items}
    for check in CHECKS.values():
        assert set(check.items) <= ids, check.id
        assert check.remediation.zh and check.remediation.en


def test_level2_items_map_to_level3() -> None:
    l3_ids = {i.id for i in L3.items}
    mapped = [i for i in L2.items if i.maps_to]
    assert len(mapped) > 100
    assert all(set(i.maps_to) <= l3_ids for i in mapped)


def test_second_framework_is_just_another_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "iso27001.yaml").write_text(yamlio.dumps({
        "catalog": {"id": "iso27001-2022", "framework": "ISO/IEC 27001:2022", "title": "ISO 27001 Annex A"},
        "families": [{"code": "A8", "name": {"zh-CN": "技术控制", "en": "Technological controls"}}],
        "items": [{"id": "A.8.5", "family": "A8", "control_point": "Secure authentication",
                   "requirement": "Secure authentication", "summary": "MFA and lockout", "method": "host",
                   "maps_to": ["L3-CES1-02", "L3-CES1-04"]},
                  {"id": "A.8.15", "family": "A8", "control_point": "Logging", "requirement": "Logging",
                   "summary": "Logs kept", "method": "platform", "checks": ["plat-event-retention"]}]}))
    cats = load_catalogs([builtin_dir(), tmp_path])
    iso = cats["iso27001-2022"]
    mapping = relevant_checks(iso, CHECKS)
    assert "login-lockout" in mapping["A.8.5"] and "ssh-mfa" in mapping["A.8.5"]
    assert mapping["A.8.15"] == ["plat-event-retention"]


@pytest.mark.parametrize("bad, message", [
    ({"catalog": {"id": "x"}, "families": [{"code": "F", "name": "f"}], "items": [{"id": 12, "family": "F"}]}, "id must be a string"),
    ({"catalog": {"id": "x"}, "families": [{"code": "F", "name": "f"}],
      "items": [{"id": "a", "family": "F"}, {"id": "a", "family": "F"}]}, "duplicate item id"),
    ({"catalog": {"id": "x"}, "families": [{"code": "F", "name": "f"}], "items": [{"id": "a", "family": "G"}]}, "not declared"),
    ({"catalog": {"id": "x"}, "families": [{"code": "F", "name": "f"}],
      "items": [{"id": "a", "family": "F", "method": "magic"}]}, "method must be"),
    ({"catalog": {"id": "x", "evil": 1}, "families": [], "items": []}, "unknown catalog keys"),
    (["not", "a", "mapping"], "starts with a `catalog:`"),
])
def test_malformed_catalogs_are_rejected_with_a_reason(bad, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=message):
        parse_catalog(bad, "test.yaml")


def test_duplicate_yaml_keys_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "dup.yaml").write_text("catalog: {id: a}\ncatalog: {id: b}\n")
    with pytest.raises(InvalidInput, match="duplicate key"):
        load_catalogs([tmp_path])
