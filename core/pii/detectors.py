"""One small declarative plugin per identifier (the shape of detect-secrets' plugins).

Each detector has a ``name`` (the value of ``pii.types``), a candidate ``pattern`` (matched on
text whose full-width characters were folded to ASCII), ``validate`` (returns the canonical value,
or None for a near miss: wrong check digit, impossible date, unknown region, unknown BIN) and
``keep`` (how many significant characters stay visible at each end when masked). Checksums come
from ``python-stdnum`` and ``phonenumbers``, not hand-written code.

Numeric identifiers share one candidate (a run of digits with single spaces or hyphens): the run
is classified by its length and shape, so an 18-digit run is tried as an identity card, then as a
bank card, instead of one regex per identifier racing for the same span.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from stdnum import luhn
from stdnum.cn import ric, uscc


@dataclass(frozen=True)
class Detector:
    name: str
    # PIPL 敏感个人信息: masked in every dataset by default
    sensitive: bool
    keep: tuple[int, int]
    optional: bool = False

    def validate(self, text: str) -> str | None:
        raise NotImplementedError


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit() or c in "Xx").upper()


def _groups_ok(text: str, allowed: tuple[tuple[int, ...], ...]) -> bool:
    """Separators, where present, must split the number the way people write it (3-4-4 for a
    mobile, 4-4-4-4 for a card): ``4655-000000004002`` is a record id, not a card number."""
    if not any(c in " -" for c in text):
        return True
    parts = tuple(len(p) for p in text.replace("-", " ").split(" "))
    return parts in allowed or parts[1:] in allowed and parts[0] in (2, 4)  # +86 / 0086 before a mobile


@functools.lru_cache(maxsize=4096)
def _ric_region_ok(region: str) -> bool:
    """A region code stdnum's GB/T 2260 table knows (at any time; ric.validate checks the period)."""
    from stdnum import numdb

    return any(props.get("county") for _part, props in numdb.get("cn/loc").info(region))


class ResidentId(Detector):
    """居民身份证号码: GB 11643 check digit (stdnum.cn.ric), known region, real birth date."""

    def validate(self, text: str) -> str | None:
        if not _groups_ok(text, ((6, 8, 4), (6, 6, 3))):
            return None
        num = _digits(text)
        if len(num) == 15 and num.isdigit():
            body = num[:6] + "19" + num[6:]
            body += ric.calc_check_digit(body + "0")
            return num if _ric_ok(body) else None
        if len(num) != 18 or not num[:17].isdigit():
            return None
        return num if _ric_ok(num) else None


def _ric_ok(num: str) -> bool:
    """``stdnum.cn.ric.validate`` split so its costly part (the region's validity in the birth
    year, a table lookup) is cached per (region, year) rather than per number."""
    if ric.calc_check_digit(num) != num[-1]:
        return False
    try:
        born = ric.get_birth_date(num)
    except Exception:  # noqa: BLE001 - stdnum raises InvalidComponent for impossible dates
        return False
    return _region_in_year(num[:6], born.year)


@functools.lru_cache(maxsize=65536)
def _region_in_year(region: str, year: int) -> bool:
    try:
        ric.get_birth_place(f"{region}{year:04d}0101000X")
    except Exception:  # noqa: BLE001
        return False
    return True


def ric_shaped(text: str) -> bool:
    """An 18-digit run with a known region and a real birth date is an identity number, right or
    wrong: a wrong check digit must not let it pass as a bank card or credit code instead."""
    num = _digits(text)
    return len(num) == 18 and num[:17].isdigit() and num[6:8] in ("18", "19", "20") and _ric_region_ok(num[:6])


class Mobile(Detector):
    """Mainland mobile number (phonenumbers: valid and a mobile range), with or without +86."""

    def validate(self, text: str) -> str | None:
        if not _groups_ok(text, ((3, 4, 4), (11,))):
            return None
        num = _digits(text)
        if len(num) == 13 and num.startswith("86"):
            num = num[2:]
        elif len(num) == 15 and num.startswith("0086"):
            num = num[4:]
        if len(num) != 11 or num[0] != "1" or num[1] not in "3456789":
            return None
        return num if _mobile_ok(num) else None


@functools.lru_cache(maxsize=1)
def _cn_mobile_ranges() -> re.Pattern[str]:
    """The allocated mainland mobile ranges from phonenumbers' own metadata, compiled once:
    the same answer as ``parse`` + ``is_valid_number`` + ``number_type`` at a tenth of the cost."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    desc = meta.mobile if meta is not None else None
    if desc is None or not desc.national_number_pattern:
        raise RuntimeError("phonenumbers has no mainland mobile ranges; reinstall phonenumbers")
    return re.compile(f"(?:{desc.national_number_pattern})")


def _mobile_ok(num: str) -> bool:
    return _cn_mobile_ranges().fullmatch(num) is not None


# Issuer prefixes we accept: UnionPay 62, Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37,
# JCB 35. A Luhn-valid run with another prefix is far more often an order or transaction number.
_BIN = re.compile(r"(?:62|4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|3[47]|35)")


class BankCard(Detector):
    """银行卡号: 16–19 digits, a known issuer prefix, Luhn (stdnum.luhn)."""

    def validate(self, text: str) -> str | None:
        if not _groups_ok(text, ((4, 4, 4, 4), (4, 4, 4, 4, 1), (4, 4, 4, 4, 2), (4, 4, 4, 4, 3), (6, 13))):
            return None
        num = _digits(text)
        if not (16 <= len(num) <= 19) or not num.isdigit() or not _BIN.match(num):
            return None
        # luhn.checksum on the digits we already have (is_valid would clean the string again)
        if len(set(num)) < 3 or luhn.checksum(num) != 0:
            return None
        return num


class CreditCode(Detector):
    """统一社会信用代码: GB 32100 check character (stdnum.cn.uscc)."""

    def validate(self, text: str) -> str | None:
        num = "".join(c for c in text if c.isalnum()).upper()
        if len(num) != 18 or num.isdigit() and num[:2] not in ("11", "12", "13", "19", "51", "52", "53", "59",
                                                                "91", "92", "93"):
            return None
        return num if uscc.is_valid(num) else None


class Passport(Detector):
    """Mainland passport (E+8 digits, E+letter+7 digits, G+8 digits); no check digit exists."""

    def validate(self, text: str) -> str | None:
        num = text.upper()
        return num if len(set(num[-7:])) > 1 else None


class Permit(Detector):
    """往来港澳通行证 (C+8 / W+8) and 港澳居民来往内地通行证 (H/M + 8 or 10 digits)."""

    def validate(self, text: str) -> str | None:
        num = text.upper()
        return num if len(set(num[-7:])) > 1 else None


_TLD = re.compile(r"\.[A-Za-z]{2,24}$")


class Email(Detector):
    """E-mail address with a dotted domain and an alphabetic top-level domain."""

    def validate(self, text: str) -> str | None:
        local, _, domain = text.rpartition("@")
        if not local or len(local) > 64 or not _TLD.search(domain) or ".." in domain:
            return None
        return local + "@" + domain.lower()


# The most common surnames (百家姓, covering most of the population): a name candidate after a
# label such as 姓名 must start with one, so "申请人 已提交" is not taken for a name.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛"
    "邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝"
    "路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂"
    "全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕"
    "楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈"
    "晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉"
    "冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由")


class PersonName(Detector):
    """A Chinese personal name after a label (姓名, 申请人, 联系人, …); only with SOC_PII_NAMES."""

    def validate(self, text: str) -> str | None:
        if not 2 <= len(text) <= 4 or text[0] not in SURNAMES:
            return None
        return text


RESIDENT_ID = ResidentId("cn_ric", sensitive=True, keep=(6, 4))
MOBILE = Mobile("cn_mobile", sensitive=False, keep=(3, 4))
BANK_CARD = BankCard("bank_card", sensitive=True, keep=(6, 4))
CREDIT_CODE = CreditCode("cn_uscc", sensitive=False, keep=(8, 2))
PASSPORT = Passport("passport", sensitive=True, keep=(1, 2))
PERMIT = Permit("hk_macau_permit", sensitive=True, keep=(1, 2))
EMAIL = Email("email", sensitive=False, keep=(1, 0))
PERSON_NAME = PersonName("cn_name", sensitive=False, keep=(1, 0), optional=True)

DETECTORS: tuple[Detector, ...] = (RESIDENT_ID, MOBILE, BANK_CARD, CREDIT_CODE, PASSPORT, PERMIT, EMAIL,
                                   PERSON_NAME)
BY_NAME = {d.name: d for d in DETECTORS}

# Numeric runs, by digit count (a trailing X counts): which detectors to try, in order.
NUMERIC_BY_LENGTH: dict[int, tuple[Detector, ...]] = {
    11: (MOBILE,), 13: (MOBILE,), 15: (RESIDENT_ID, MOBILE), 16: (BANK_CARD,), 17: (BANK_CARD,),
    18: (RESIDENT_ID, CREDIT_CODE, BANK_CARD), 19: (BANK_CARD,),
}

# Letter-led identifiers: (detector, pattern). The boundaries are added by the scanner.
ALPHA_PATTERNS: tuple[tuple[Detector, str], ...] = (
    (CREDIT_CODE, r"[1-9ANY][1-9]\d{6}[0-9A-HJ-NPQRTUWXY]{10}"),
    (PASSPORT, r"E[A-HJ-NP-Z0-9]\d{7}|G\d{8}"),
    (PERMIT, r"C[A-HJ-NP-Z0-9]\d{7}|W\d{8}|[HM]\d{8}(?:\d{2})?"),
)

# Labels a name follows in Chinese logs and forms (names are found only after one of them).
NAME_LABELS = ("姓名", "户名", "联系人", "申请人", "收件人", "收货人", "持卡人", "患者", "学生")
