"""The masking policy (first matching rule wins, defaults after configured rules), the guard's
tags and actions, and the hash key rule (placeholder refused outside demo mode)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.pii.config import guard_from_settings
from core.pii.display import mask_for_display
from core.pii.guard import Guard
from core.pii.policy import Policy
from core.settings import load_settings

RIC = "11010519491231002X"
MOBILE = "13812345678"


def test_defaults_mask_sensitive_kinds_and_keep_the_rest() -> None:
    policy = Policy()
    assert policy.action("any.ds", "message", "cn_ric") == "mask"
    assert policy.action("any.ds", "message", "bank_card") == "mask"
    assert policy.action("any.ds", "message", "passport") == "mask"
    assert policy.action("any.ds", "message", "hk_macau_permit") == "mask"
    assert policy.action("any.ds", "message", "cn_mobile") == "keep"
    assert policy.action("any.ds", "message", "email") == "keep"


def test_configured_rules_come_first_with_globs() -> None:
    policy = Policy.build([{"dataset": "nginx.*", "field": "url.*", "type": "cn_mobile", "action": "hash"},
                           {"dataset": "hr.app", "type": "cn_ric", "action": "keep"}], ["system.*"])
    assert policy.action("nginx.access", "url.query", "cn_mobile") == "hash"
    assert policy.action("nginx.access", "message", "cn_mobile") == "keep"
    assert policy.action("hr.app", "message", "cn_ric") == "keep"
    assert policy.action("hr.apps", "message", "cn_ric") == "mask"
    assert policy.forbidden("system.auth") and not policy.forbidden("nginx.access")
    assert policy.uses_hash


def test_guard_tags_and_actions() -> None:
    guard = Guard(Policy.build([{"field": "labels.secret", "action": "drop"}], ["app.*"]), b"k")
    doc = {"message": f"id {RIC} tel {MOBILE}", "labels": {"secret": f"{MOBILE}", "other": "x"},
           "list": [f"tel {MOBILE}", 7], "n": 5}
    out = guard.protect("app.log", doc)
    assert out is not doc and doc["message"] == f"id {RIC} tel {MOBILE}"      # the input is not modified
    assert out["message"] == f"id 110105********002X tel {MOBILE}"
    assert "secret" not in out["labels"] and out["labels"]["other"] == "x"
    assert out["list"] == [f"tel {MOBILE}", 7] and out["n"] == 5
    pii = out["pii"]
    assert pii["types"] == ["cn_mobile", "cn_ric"] and pii["count"] == 4
    assert pii["fields"] == ["labels.secret", "list", "message"]
    assert "message|cn_ric" in pii["locations"] and pii["policy_violation"] is True
    assert len(pii["ids"]) == 2 and guard.token("cn_mobile", MOBILE) in pii["ids"]   # same person, one id
    assert sorted(pii["actions"]) == ["drop", "keep", "mask"]
    assert guard.protect("x", {"message": "nothing 12345"}) == {"message": "nothing 12345"}


def test_display_masking_masks_everything_but_leaves_the_stored_doc() -> None:
    stored = {"message": f"tel {MOBILE} mail li@example.org", "pii": {"types": ["cn_mobile"]}, "_id": "abc"}
    shown = mask_for_display(stored)
    assert shown["message"] == "tel 138****5678 mail l*@example.org"
    assert stored["message"].startswith(f"tel {MOBILE}") and shown["pii"] == stored["pii"]


def test_hash_key_placeholder_refused_outside_demo(tmp_path: Path) -> None:
    rules = [{"type": "cn_mobile", "action": "hash"}]
    with pytest.raises(InvalidInput, match="SOC_PII_HASH_KEY"):
        guard_from_settings(load_settings(data_dir=tmp_path, pii={"rules": rules}))
    demo = guard_from_settings(load_settings(data_dir=tmp_path, demo=True, pii={"rules": rules}))
    assert demo is not None and (tmp_path / "pii" / "token.key").stat().st_mode & 0o077 == 0
    keyed = guard_from_settings(load_settings(data_dir=tmp_path, pii={"rules": rules, "hash_key": "k" * 40}))
    assert keyed is not None and keyed.token("cn_mobile", MOBILE) != demo.token("cn_mobile", MOBILE)
    assert guard_from_settings(load_settings(data_dir=tmp_path, pii={"enabled": False})) is None
    with pytest.raises(InvalidInput):
        load_settings(data_dir=tmp_path, pii={"rules": [{"type": "cn_ric", "action": "encrypt"}]})
    named = guard_from_settings(load_settings(data_dir=tmp_path, pii={"names": True}))
    assert named is not None and named.protect("app", {"message": "姓名：张三"})["pii"]["types"] == ["cn_name"]
    plain = guard_from_settings(load_settings(data_dir=tmp_path))
    assert plain is not None and "pii" not in plain.protect("app", {"message": "姓名：张三"})


@pytest.mark.parametrize("text", [
    f"id {RIC}", "旧证110105491231002", f"tel +86 {MOBILE[:3]} {MOBILE[3:7]} {MOBILE[7:]}", "６２２２０２１２３４５６７８９０１２８",
    "code 91310000MA1FL5ABC4", "code 91110108551385082Q", "护照E12345678", "EA1234567", "C12345678", "H1234567890",
    "mail li@example.org", "ｌｉ＠ｅｘａｍｐｌｅ．ｏｒｇ",
])
def test_prescan_lets_every_kind_through(text: str) -> None:
    # the ingest guard finds what the scanner finds: the one-pass pre-scan must never be narrower
    from core.pii.scanner import scan

    assert scan(text), text
    assert "pii" in Guard(Policy(), b"k").protect("d", {"message": text}), text


def test_prescan_engines_agree_on_real_logs(shared_dir: Path) -> None:
    import orjson

    from core.pii.scanner import PRESCAN

    assert PRESCAN.engine == "hyperscan"           # the wheel is installed on the platform's machines
    lines = [line for p in sorted((shared_dir / "logs").rglob("*.log")) for line in p.read_text("utf-8", "replace")
             .splitlines()][:5000]
    lines += [f"id {RIC}", f"tel {MOBILE}", "a@b.cn", "ＩＤ", "code 91310000MA1FL5ABC4", "nothing here"]
    hits = 0
    for line in lines:
        raw = orjson.dumps({"message": line})
        assert PRESCAN.search(raw) == PRESCAN.search_re2(raw), line
        hits += PRESCAN.search(raw)
    assert 5 <= hits < len(lines) // 5


def test_prescan_is_safe_across_threads() -> None:
    # collector inputs emit from several threads; each has its own Hyperscan scratch space
    from concurrent.futures import ThreadPoolExecutor

    from core.pii.scanner import PRESCAN

    data = [f"x {RIC} y".encode(), b"plain text 2026-12-07", f"tel {MOBILE}".encode(), b"nothing"] * 500

    def run(_n: int) -> list[bool]:
        return [PRESCAN.search(d) for d in data]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(8)))
    assert all(r == [True, False, True, False] * 500 for r in results)
