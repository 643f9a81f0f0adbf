from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest

from core.auditing import Actor
from core.errors import PermissionDenied
from core.event_layout import alias_of, backing_index, daily_alias, events_alias
from core.i18n import negotiate, t
from core.ids import stable_id
from core.permissions import TABLE, allowed, requires
from core.schema import events_template, get_field, set_field
from core.timeutil import iso, parse_iso


def test_event_index_names_follow_design() -> None:
    # One write alias per dataset, backing indices by ingest order, never by the event's day.
    assert events_alias("soc", "system.auth") == "soc-events-system.auth"
    assert events_alias("t1", "Network.DNS") == "t1-events-network.dns"
    assert events_alias("soc", "bad/name*") == "soc-events-bad_name_"
    assert backing_index("soc-events-system.auth", 12) == "soc-events-system.auth-000012"
    # Old spool records name a per-day index; they are routed to the dataset's alias.
    assert alias_of("soc-events-system.auth-2026.11.26") == "soc-events-system.auth"
    assert alias_of("soc-events-system.auth-000003") == "soc-events-system.auth"
    assert alias_of("soc-events-system.auth") == "soc-events-system.auth"
    assert daily_alias("soc-events-windows.sysmon-2016.01.02") == "soc-events-windows.sysmon"
    assert daily_alias("soc-events-windows.sysmon-000001") is None


def test_template_types_addresses_and_keywords() -> None:
    props = events_template("soc")["template"]["mappings"]["properties"]
    assert props["source"]["properties"]["ip"] == {"type": "ip"}
    assert props["@timestamp"]["type"] == "date"
    assert props["message"]["type"] == "text"


def test_stable_ids_are_deterministic_and_position_sensitive() -> None:
    a = stable_id("file", 2049, 1234, 0)
    assert a == stable_id("file", 2049, 1234, 0)
    assert a != stable_id("file", 2049, 1234, 1)
    assert stable_id("a", "bc") != stable_id("ab", "c")
    assert stable_id(None) != stable_id("")
    assert len(a) == 32


@pytest.mark.parametrize(("parts", "expected"), [
    (("a",), "8b85c9c6e043d787ffff7af2fba72645"),
    (("", None), "cbf04fb4d344005dadc3c160747e2ea5"),
    ((1, "x", b"\x00\xff"), "616a718edd075d3a965db065a341f6fa"),
    ((True, 0), "d71dbe5843f1fd53d4087b231aa8bb8f"),
    (("日志", -5), "2fce47e2ad3791277e6474183b358e9e"),
    (((7, b"\n\x00", 443),), "5593e1a5912a0b2e1c57d38fbe10977c"),  # a flow key
    (("exception", "r1", "f", "eq", ["a", "b"]), "dc90278c2e279b05bd3558f2c1ac7e47"),
    ((), "cae66941d9efbd404e4d88758ea67670"),
])
def test_stable_ids_never_change(parts: tuple[Any, ...], expected: str) -> None:
    # Ids are persisted (events, alerts, exceptions): these are the values the first release wrote.
    assert stable_id(*parts) == expected


class _Kind(StrEnum):
    FILE = "file"


@pytest.mark.parametrize("bad", [Path("/var/log/auth.log"), 1.5, _Kind.FILE, {"a": 1}, ("ok", Path("/x")),
                                 [("nested",)]])
def test_stable_id_refuses_parts_whose_repr_is_not_their_value(bad: object) -> None:
    with pytest.raises(TypeError, match="stable_id parts"):
        stable_id("file", bad)  # type: ignore[arg-type]


def test_iso_has_milliseconds_and_utc() -> None:
    dt = datetime(2026, 11, 26, 18, 38, 17, 670123, tzinfo=UTC)
    assert iso(dt) == "2026-11-26T18:38:17.670Z"
    assert parse_iso("2026-11-26T18:38:17.670Z") == dt.replace(microsecond=670000)


def test_nested_field_access() -> None:
    doc: dict = {}
    set_field(doc, "source.ip", "10.0.0.1")
    set_field(doc, "source.port", 22)
    assert doc == {"source": {"ip": "10.0.0.1", "port": 22}}
    assert get_field(doc, "source.ip") == "10.0.0.1"
    assert get_field(doc, "source.missing") is None


def test_i18n_falls_back_and_negotiates() -> None:
    assert t("platform.name", "zh-CN") == "清朗"
    assert t("platform.name", "en") == "Qinglang"
    assert t("no.such.key", "en") == "no.such.key"
    assert negotiate("en-US,en;q=0.9") == "en"
    assert negotiate("zh-TW") == "zh-CN"
    assert negotiate(None) == "zh-CN"


def test_separation_of_duties_in_the_table() -> None:
    # 三权分立: no role both administers users and reads or verifies the audit trail.
    for role in ("admin", "sysadmin", "analyst", "auditor"):
        assert not (allowed(role, "users.manage") and allowed(role, "audit.read"))
    assert not allowed("auditor", "alerts.update")
    assert allowed("analyst", "alerts.update")
    assert all(perm.count(".") == 1 for perm in TABLE)


def test_requires_enforces_the_table() -> None:
    @requires("alerts.update")
    def close_alert(alert_id: str, *, actor: Actor) -> str:
        return alert_id

    assert close_alert("a1", actor=Actor("amy", "analyst")) == "a1"
    with pytest.raises(PermissionDenied, match="auditor"):
        close_alert("a1", actor=Actor("bob", "auditor"))
    with pytest.raises(KeyError):
        requires("nope.nothing")


def test_dedupe_check_range_covers_every_stamp_whatever_its_format() -> None:
    from core.event_layout import _ids_query, _millis

    # Lexically "…00Z" sorts after "…00.500Z"; the range must still cover both instants.
    stamps = [_millis(b'{"@timestamp":"2026-01-01T00:00:00Z"}'), _millis(b'{"@timestamp":"2026-01-01T00:00:00.500Z"}'),
              _millis(b'{"@timestamp":"2026-01-01T08:00:00+08:00"}')]
    rng = _ids_query(["a", "b", "c"], stamps)["bool"]["filter"][1]["range"]["@timestamp"]
    assert rng["gte"] <= 1767225600000 and rng["lte"] >= 1767225600500 and rng["format"] == "epoch_millis"
    # One event without a readable @timestamp: no narrowing at all (it could be anywhere).
    assert _ids_query(["a", "b"], [stamps[0], _millis(b'{"message":"x"}')]) == {"ids": {"values": ["a", "b"]}}
