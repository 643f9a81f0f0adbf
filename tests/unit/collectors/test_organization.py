"""The department decision itself: precedence, longest prefix over several host addresses, IPv6."""

from __future__ import annotations

import pytest

from collectors.organization import UNASSIGNED_TAG, Organizer
from core.orgmap import ORG_ID_PATTERN, check_subnets
from core.settings import DEPARTMENT_ID


def test_precedence_and_longest_prefix() -> None:
    org = Organizer({"jw-*": "jiaowei"}, {"10.0.0.0/8": "weijianwei", "10.3.0.0/16": "minzhengju",
                                          "2001:db8::/32": "jiaowei"})
    assert org.decide({"host": {"name": "JW-PC1"}}, "minzhengju") == ("minzhengju", False)
    assert org.decide({"host": {"name": "jw-pc1", "ip": ["10.3.0.1"]}}) == ("jiaowei", False)
    # host.ip is a list: the address in the longest matching prefix wins, whatever its position
    assert org.decide({"host": {"name": "x", "ip": ["10.9.0.1", "10.3.4.5"]}}) == ("minzhengju", False)
    assert org.decide({"host": {"ip": "192.0.2.1"}, "source": {"ip": "10.3.1.1"}}) == ("minzhengju", False)
    assert org.decide({"source": {"ip": "198.51.100.7"}, "destination": {"ip": "10.1.1.1"}}) == ("weijianwei", False)
    assert org.decide({"source": {"ip": "2001:db8::5"}}) == ("jiaowei", False)
    assert org.decide({"source": {"ip": "::ffff:10.3.0.9"}}) == ("minzhengju", False)
    assert org.decide({"host": {"hostname": "jw-x"}}) == ("jiaowei", False)
    assert org.decide({"source": {"ip": "garbage"}, "host": {"name": 7}}) == ("district", True)
    doc, unassigned = org.apply({"tags": "demo", "organization": {"id": "jiaowei", "name": "spoof"}})
    assert unassigned and doc["organization"] == {"id": "district"} and doc["tags"] == ["demo", UNASSIGNED_TAG]


def test_first_pattern_in_order_wins() -> None:
    org = Organizer({"jw-lab-*": "minzhengju", "jw-*": "jiaowei"}, fallback="weijianwei")
    assert org.decide({"host": {"name": "jw-lab-3"}}) == ("minzhengju", False)
    assert org.decide({"host": {"name": "jw-3"}}) == ("jiaowei", False)
    assert org.decide({"host": {"name": "other"}}) == ("weijianwei", False)  # a department: not unassigned


@pytest.mark.parametrize("bad, message", [({"10.1.0.0/33": "x"}, "CIDR"), ({"10.1.0.1/16": "x"}, "host bits"),
                                          ({"10.1.0.0/16": "X Y"}, "department id")])
def test_bad_subnet_maps(bad: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_subnets(bad)


def test_map_ids_are_department_ids() -> None:
    assert DEPARTMENT_ID.pattern == ORG_ID_PATTERN
