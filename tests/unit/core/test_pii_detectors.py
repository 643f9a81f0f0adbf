"""Each personal-information detector: valid, wrong check digit, boundary lengths, full-width
digits, separators; and the masking of what was found."""

from __future__ import annotations

import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc

from core.pii.scanner import mask_span, scan

RIC = "11010519491231002X"           # GB 11643 example (Beijing Chaoyang, 1949-12-31)
RIC_BAD = "110105194912310021"       # same digits, wrong check digit
UNIONPAY = "622202123456789" + luhn.calc_check_digit("622202123456789")   # 16 digits
UNIONPAY19 = "622202123456789012" + luhn.calc_check_digit("622202123456789012")
USCC = "91110108551385082Q"
_FW = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.detector.name, f.value) for f in scan(text)]


def test_resident_id_valid_and_masked() -> None:
    assert ric.is_valid(RIC)
    text = f"身份证号：{RIC}，请核对"
    [f] = scan(text)
    assert (f.detector.name, f.value) == ("cn_ric", RIC)
    assert mask_span(text[f.start:f.end], f.detector) == "110105********002X"


@pytest.mark.parametrize("bad", [
    RIC_BAD,                       # check digit
    "11010519491331002X",          # month 13 (check digit recomputed below)
    "99010519491231002X",          # unknown region
])
def test_resident_id_near_misses(bad: str) -> None:
    body = bad[:17]
    if bad != RIC_BAD:
        bad = body + ric.calc_check_digit(body)
    assert kinds(f"id={bad}") == []


def test_resident_id_boundaries_fullwidth_separators_and_legacy() -> None:
    assert kinds(f"x{RIC}") == []                  # glued to a word: not an identifier
    assert kinds(f"1{RIC}") == []                  # 19 digits: part of a longer number
    assert kinds(RIC[:-1]) == []                   # 17 digits
    assert kinds(RIC.translate(_FW)) == [("cn_ric", RIC)]
    assert kinds("110105 19491231 002X") == [("cn_ric", RIC)]
    assert kinds("旧证110105491231002号") == [("cn_ric", "110105491231002")]
    assert kinds("110105491331002") == []          # legacy with month 13


def test_resident_id_table_gaps_do_not_crash_ingest() -> None:
    # stdnum.cn.ric.is_valid raises KeyError for this region (a table entry without a county);
    # a hostile or odd number must never stop the collector.
    odd = "510273199001011239"
    with pytest.raises(KeyError):
        ric.is_valid(odd)
    assert kinds(f"x {odd} y") == []


@pytest.mark.parametrize("text", [
    "13812345678", "+8613812345678", "+86 138 1234 5678", "138-1234-5678", "0086 13812345678",
    "手机：１３８１２３４５６７８", "tel=13812345678&x=1",
])
def test_mobile_forms(text: str) -> None:
    assert kinds(text) == [("cn_mobile", "13812345678")]


@pytest.mark.parametrize("text", ["12812345678", "1381234567", "138123456789", "a13812345678", "10012345678"])
def test_mobile_near_misses(text: str) -> None:
    assert kinds(text) == []


def test_mobile_mask_keeps_country_code_and_ends() -> None:
    for text, masked in (("13812345678", "138****5678"), ("+86 138 1234 5678", "86 138 **** 5678")):
        [f] = scan(text)
        assert mask_span(text[f.start:f.end], f.detector) == masked


def test_bank_card_luhn_bin_lengths_separators() -> None:
    assert kinds(UNIONPAY) == [("bank_card", UNIONPAY)]
    assert kinds(UNIONPAY19) == [("bank_card", UNIONPAY19)]
    grouped = " ".join(UNIONPAY[i:i + 4] for i in range(0, 16, 4))
    assert kinds(f"卡号 {grouped} 。") == [("bank_card", UNIONPAY)]
    assert kinds(UNIONPAY.translate(_FW)) == [("bank_card", UNIONPAY)]
    wrong = UNIONPAY[:-1] + str((int(UNIONPAY[-1]) + 1) % 10)
    assert kinds(wrong) == []                      # Luhn fails
    no_bin = "8" + UNIONPAY[1:-1]
    no_bin += luhn.calc_check_digit(no_bin)
    assert kinds(no_bin) == []                     # Luhn-valid but no known issuer prefix
    body = "62220212345678901234"[:19]             # 20 digits is too long
    assert kinds(body + luhn.calc_check_digit(body)) == []
    [f] = scan(UNIONPAY)
    assert mask_span(UNIONPAY, f.detector) == UNIONPAY[:6] + "******" + UNIONPAY[-4:]


def test_credit_code() -> None:
    assert uscc.is_valid(USCC)
    assert kinds(f"统一社会信用代码{USCC}") == [("cn_uscc", USCC)]
    assert kinds(USCC[:-1] + ("A" if USCC[-1] != "A" else "B")) == []
    assert kinds(USCC.translate(_FW).replace("Q", "Ｑ")) == [("cn_uscc", USCC)]


def test_passport_and_permits() -> None:
    assert kinds("护照E12345678") == [("passport", "E12345678")]
    assert kinds("passport EA1234567 ok") == [("passport", "EA1234567")]
    assert kinds("通行证C12345678 回乡证H12345678 M1234567890") == [
        ("hk_macau_permit", "C12345678"), ("hk_macau_permit", "H12345678"), ("hk_macau_permit", "M1234567890")]
    assert kinds("E1234567") == [] and kinds("E123456789") == [] and kinds("XE12345678") == []
    assert kinds("E00000000") == []                # a filler, not a document number


def test_email() -> None:
    assert kinds("from zhang.san+x@mail.example.com.cn;") == [("email", "zhang.san+x@mail.example.com.cn")]
    assert kinds("root@localhost") == [] and kinds("user@10.0.0.1") == []
    [f] = scan("li@example.org")
    assert mask_span("li@example.org", f.detector) == "l*@example.org"


@pytest.mark.parametrize("text", [
    "2026-12-07T09:04:01.123Z", "order 20261207090401123456", "ts=1733561041000", "pid 4294967295",
    "S-1-5-21-3623811015-3361044348-30300820-1013", "sha1 3f786850e387550fdab836ed7e6dc881de23001b",
    "127.0.0.1:13812", "{E1234567-89AB-CDEF-0123-456789ABCDEF}", "计数 1381234567 次",
])
def test_negatives(text: str) -> None:
    assert kinds(text) == []


def test_names_only_with_the_flag_after_a_label() -> None:
    text = "姓名：张三，联系人=欧阳娜娜；申请人 已提交；王五来了"
    assert kinds(text) == []                                          # off by default
    found = [(f.detector.name, f.value) for f in scan(text, names=True)]
    assert found == [("cn_name", "张三"), ("cn_name", "欧阳娜娜")]     # "已提交": no surname; 王五: no label
    [f] = scan("患者 李四", names=True)
    assert mask_span("李四", f.detector) == "李*"
