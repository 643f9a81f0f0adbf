"""Department maps of the collect settings, checked when the settings load (no I/O, no ES).

``collect.org_hosts`` maps host-name glob patterns and ``collect.org_subnets`` CIDR subnets to
department ids (``organization.id``); ``collectors.organization`` applies them to events.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

# The department id of core.departments: a lower-case slug, a letter first.
ORG_ID_PATTERN = r"^[a-z][a-z0-9_-]{1,39}$"
_ORG_RE = re.compile(ORG_ID_PATTERN)
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def check_org_id(value: str, what: str) -> str:
    """A department id as used in ``organization.id``."""
    if not isinstance(value, str) or not _ORG_RE.match(value):
        raise ValueError(f"{what}: {value!r} is not a department id (a lower-case slug of 2-40 characters: a "
                         "letter, then letters, digits, '-' or '_'; e.g. jiaowei)")
    return value


def check_host_patterns(raw: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pattern, org in raw.items():
        if not isinstance(pattern, str) or not pattern.strip():
            raise ValueError("an empty host-name pattern (use e.g. 'jw-*')")
        out[pattern.strip()] = check_org_id(org, f"host pattern {pattern!r}")
    return out


def check_subnets(raw: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for cidr, org in raw.items():
        net = parse_subnet(cidr)
        out[str(net)] = check_org_id(org, f"subnet {cidr!r}")
    return out


def parse_subnet(cidr: str) -> _Network:
    text = str(cidr).strip()
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{cidr!r} is not a subnet in CIDR notation (e.g. 10.1.0.0/16)") from exc
        raise ValueError(f"{cidr!r} has host bits set (the subnet is {loose})") from exc
