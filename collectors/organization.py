"""Which department (ECS ``organization.id``) an event belongs to, decided once before the spool.

Precedence, first that applies:

1. the input's own ``organization`` (inputs file) or ``--org`` of a one-shot import;
2. ``collect.org_hosts``: host-name glob patterns (``host.name``, else ``host.hostname``),
   case-insensitive, tried in the order configured;
3. ``collect.org_subnets``: the longest prefix containing an address of ``host.ip``, else of
   ``source.ip``, else of ``destination.ip`` (inbound traffic belongs to the department it
   reaches);
4. the fallback: ``district``. Events that end here are *unassigned*: counted per input and
   tagged ``organization_unassigned`` so health can say how many are stored.

An import run inside a department's scope keeps everything in that department: its fallback is
the department, and a map pointing outside the scope gives way to it (``--org`` outside the scope
is refused before anything is read).

Whatever ``organization`` the raw data claims is replaced: a log line must not choose which
department reads it.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from core.errors import InvalidInput
from core.orgmap import check_org_id, parse_subnet
from core.scope import DISTRICT

UNASSIGNED_TAG = "organization_unassigned"


def _first_text(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class Organizer:
    """Assigns ``organization.id`` from the collect settings' maps (built once per daemon/import)."""

    def __init__(self, hosts: Mapping[str, str] | None = None, subnets: Mapping[str, str] | None = None, *,
                 fallback: str = DISTRICT, allowed: Callable[[str], bool] | None = None) -> None:
        self._hosts = [(p.lower(), o) for p, o in (hosts or {}).items()]
        nets = [(parse_subnet(c), o) for c, o in (subnets or {}).items()]
        # Per family and prefix length, a dict of network address -> department: a lookup masks
        # the address once per configured length, longest first (longest prefix wins).
        self._by_len: dict[int, list[tuple[int, dict[int, str]]]] = {4: [], 6: []}
        for version in (4, 6):
            lengths = sorted({n.prefixlen for n, _o in nets if n.version == version}, reverse=True)
            bits = 32 if version == 4 else 128
            for length in lengths:
                table = {int(n.network_address): o for n, o in nets if n.version == version and n.prefixlen == length}
                mask = ((1 << bits) - 1) ^ ((1 << (bits - length)) - 1)
                self._by_len[version].append((mask, table))
        self.fallback = fallback
        # Inside a department's scope the importer owns what it imports: a map pointing elsewhere
        # must not write into another department's data (the shipper thread writes unscoped).
        self.allowed = allowed
        self.by_host: Callable[[str], str | None] = lru_cache(maxsize=4096)(self._host_uncached)
        self.by_address: Callable[[str], str | None] = lru_cache(maxsize=65536)(self._address_uncached)

    @classmethod
    def from_settings(cls, collect: Any, *, fallback: str = DISTRICT,
                      allowed: Callable[[str], bool] | None = None) -> Organizer:
        return cls(collect.org_hosts, collect.org_subnets, fallback=fallback, allowed=allowed)

    def _host_uncached(self, name: str) -> str | None:
        lowered = name.lower()
        for pattern, org in self._hosts:
            if fnmatch.fnmatchcase(lowered, pattern):
                return org
        return None

    def _address_uncached(self, text: str) -> str | None:
        try:
            addr = ipaddress.ip_address(text.strip())
        except ValueError:
            return None
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        value = int(addr)
        for mask, table in self._by_len[addr.version]:
            org = table.get(value & mask)
            if org is not None:
                return org
        return None

    def decide(self, doc: Mapping[str, Any], fixed: str | None = None) -> tuple[str, bool]:
        """``(organization, unassigned)`` for one event document."""
        org, unassigned = self._decide(doc, fixed)
        if self.allowed is not None and not unassigned and not self.allowed(org):
            return self.fallback, False
        return org, unassigned

    def _decide(self, doc: Mapping[str, Any], fixed: str | None) -> tuple[str, bool]:
        if fixed:
            return fixed, False
        host = doc.get("host")
        if isinstance(host, Mapping):
            if self._hosts:
                for name in _first_text(host.get("name")) or _first_text(host.get("hostname")):
                    org = self.by_host(name)
                    if org is not None:
                        return org, False
            if self._by_len[4] or self._by_len[6]:
                org = self._best(_first_text(host.get("ip")))
                if org is not None:
                    return org, False
        if self._by_len[4] or self._by_len[6]:
            for side in ("source", "destination"):
                part = doc.get(side)
                if isinstance(part, Mapping):
                    org = self._best(_first_text(part.get("ip")))
                    if org is not None:
                        return org, False
        # Only the district is "no department": an import's own department is a real one.
        return self.fallback, self.fallback == DISTRICT

    def _best(self, addresses: list[str]) -> str | None:
        """Of several addresses (``host.ip`` is a list), the one in the longest matching prefix."""
        if len(addresses) == 1:
            return self.by_address(addresses[0])
        best: tuple[int, str] | None = None
        for text in addresses:
            org = self.by_address(text)
            if org is None:
                continue
            length = self._match_length(text)
            if best is None or length > best[0]:
                best = (length, org)
        return best[1] if best else None

    def _match_length(self, text: str) -> int:
        addr = ipaddress.ip_address(text.strip())
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        bits = 32 if addr.version == 4 else 128
        for mask, table in self._by_len[addr.version]:
            if int(addr) & mask in table:
                return bits - (((1 << bits) - 1) ^ mask).bit_length()
        return -1

    def apply(self, doc: dict[str, Any], fixed: str | None = None) -> tuple[dict[str, Any], bool]:
        """A copy of ``doc`` (top level only) carrying the decided ``organization.id``; whether it
        fell back (unassigned, tagged). ``collectors.shipper.encode`` does the same in place of
        its own copy."""
        org, unassigned = self.decide(doc, fixed)
        out = {**doc, "organization": {"id": org}}
        if unassigned:
            out["tags"] = with_unassigned_tag(out.get("tags"))
        return out, unassigned


def with_unassigned_tag(tags: Any) -> list[Any]:
    listed = [tags] if isinstance(tags, str) else list(tags) if isinstance(tags, list) else []
    if UNASSIGNED_TAG not in listed:
        listed.append(UNASSIGNED_TAG)
    return listed


def fixed_org(value: str | None) -> str | None:
    """An ``--org`` / per-input ``organization`` value, checked (``InvalidInput`` → exit 2 / 400)."""
    if value is None:
        return None
    try:
        return check_org_id(value.strip(), "--org")
    except ValueError as exc:
        raise InvalidInput(f"{exc}.") from exc
