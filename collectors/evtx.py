"""Windows EVTX files → ECS events laid out like Winlogbeat 8 (with its Sysmon module).

``winlog.*`` carries the raw record (``winlog.event_data.*`` keeps every EventData value as a
string), ``event.code``/``host.name`` the basics, and the ECS fields (``process.*``, ``file.*``,
``registry.path``…) are filled with exactly the names the ``ecs_windows`` Sigma pipeline maps to,
so a rule converted with that pipeline finds what Winlogbeat would have written.

Ids are ``stable_id(file digest, record id)``: importing the same file twice adds nothing.
A corrupted or truncated file yields every record that can be read; the rest is counted in
``EvtxStats.errors`` with the reason, never raised.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from collectors.models import Event
from core.ids import file_digest, stable_id
from core.schema import TYPED_FIELDS, set_field

MAX_RECORD_ERRORS = 1000

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
# Sysmon event id → Sigma log source category (the names ecs_windows' variable mappings use).
SYSMON_CATEGORY = {
    1: "process_creation", 2: "file_change", 3: "network_connection", 5: "process_termination",
    6: "driver_loaded", 7: "image_load", 8: "create_remote_thread", 9: "raw_access_thread",
    10: "process_access", 11: "file_event", 12: "registry_event", 13: "registry_event",
    14: "registry_event", 15: "create_stream_hash", 17: "pipe_created", 18: "pipe_created",
    19: "wmi_event", 20: "wmi_event", 21: "wmi_event", 22: "dns_query", 23: "file_delete",
    24: "clipboard_capture", 25: "process_tampering", 26: "file_delete", 255: "sysmon_error",
}
# Security 4688 is process creation on hosts without Sysmon: its fields go where Sysmon 1's go, so
# process_creation rules match both (the mapping of SigmaHQ's test configuration, Hayabusa and
# Chainsaw). Its ProcessId is the creator's, unlike every other ProcessId.
PROCESS_CREATION_4688 = 4688
SECURITY_4688_FIELDS = {
    "NewProcessName": "process.executable", "NewProcessId": "process.pid",
    "ParentProcessName": "process.parent.executable", "ProcessId": "process.parent.pid",
    "CommandLine": "process.command_line",
}
CHANNEL_SERVICE = {"Security": "security", "Windows PowerShell": "powershell-classic"}


@dataclass
class EvtxStats:
    path: str
    records: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, reason: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 20:
            self.error_samples.append(reason)


@cache
def _field_maps() -> tuple[dict[str, str], dict[tuple[str, str], dict[str, str]]]:
    """(common EventData→ECS map, {(logsource field, value): map}) read from ecs_windows itself,
    so the collector's layout and the rules' field names cannot drift apart."""
    from sigma.pipelines.elasticsearch.windows import ecs_windows, ecs_windows_variable_mappings

    common: dict[str, str] = {}
    for item in ecs_windows().items:
        if item.identifier == "ecs_windows_field_mapping":
            for src, dst in item.transformation.mapping.items():  # type: ignore[attr-defined]
                target = dst if isinstance(dst, str) else dst[0]
                common[src] = target.removesuffix(".caseless")
    variable: dict[tuple[str, str], dict[str, str]] = {}
    for src, mappings in ecs_windows_variable_mappings.items():
        for ls_field, ls_value, dst in mappings:
            variable.setdefault((ls_field, ls_value), {})[src] = dst
    return common, variable


def _text(value: Any) -> Any:
    if isinstance(value, dict):
        if "#text" in value:
            return _text(value["#text"])
        return None
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


def _as_str(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_as_str(v) for v in value]
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    return str(value)


def _typed(ecs_field: str, value: str) -> Any:
    kind = TYPED_FIELDS.get(ecs_field, {}).get("type")
    if kind == "long":
        try:
            return int(value, 0) if value.lower().startswith("0x") else int(value)
        except ValueError:
            return None
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(value.split("%")[0]))
        except ValueError:
            return None
    return value


def record_to_doc(record: dict[str, Any], *, source_path: str) -> dict[str, Any] | None:
    event = record.get("Event")
    if not isinstance(event, dict):
        return None
    system = event.get("System") or {}
    event_id_raw = _text(system.get("EventID"))
    try:
        event_id = int(event_id_raw)
    except (TypeError, ValueError):
        event_id = None
    channel = _text(system.get("Channel")) or ""
    provider = ((system.get("Provider") or {}).get("#attributes") or {}).get("Name", "")
    computer = _text(system.get("Computer")) or ""
    record_id = _text(system.get("EventRecordID"))
    created = ((system.get("TimeCreated") or {}).get("#attributes") or {}).get("SystemTime")
    data = event.get("EventData") or event.get("UserData") or {}
    event_data: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if key.startswith("#"):
                continue
            if isinstance(value, dict) and "#text" not in value and key != "Data":
                # UserData wraps its fields in one element named after the event.
                for k2, v2 in value.items():
                    if not k2.startswith("#"):
                        event_data[k2] = _as_str(_text(v2))
                continue
            event_data[key] = _as_str(_text(value))
    for key in [k for k in event_data if " " in k]:
        # Defender and friends name fields "Threat Name"; Sigma rules (and Chainsaw/Hayabusa)
        # use the name without spaces.
        event_data.setdefault(key.replace(" ", ""), event_data[key])
    doc: dict[str, Any] = {
        "@timestamp": _iso_ms(created),
        "event": {"code": str(event_id) if event_id is not None else None, "kind": "event",
                  "provider": provider, "module": "sysmon" if channel == SYSMON_CHANNEL else "windows"},
        "host": {"name": computer},
        "log": {"file": {"path": source_path}},
        "winlog": {"channel": channel, "provider_name": provider, "computer_name": computer,
                   "event_id": str(event_id) if event_id is not None else None,
                   "record_id": int(record_id) if str(record_id or "").isdigit() else None,
                   "event_data": event_data},
    }
    execution = (system.get("Execution") or {}).get("#attributes") or {}
    if execution.get("ProcessID") is not None:
        doc["winlog"]["process"] = {"pid": execution.get("ProcessID"), "thread": {"id": execution.get("ThreadID")}}
    user_sid = ((system.get("Security") or {}).get("#attributes") or {}).get("UserID")
    if user_sid:
        doc["winlog"]["user"] = {"identifier": user_sid}
    _map_ecs(doc, channel, event_id, event_data)
    return doc


def _map_ecs(doc: dict[str, Any], channel: str, event_id: int | None, event_data: dict[str, Any]) -> None:
    common, variable = _field_maps()
    mapping = dict(common)
    if channel == SYSMON_CHANNEL and event_id in SYSMON_CATEGORY:
        mapping.update(variable.get(("category", SYSMON_CATEGORY[event_id]), {}))
    service = CHANNEL_SERVICE.get(channel)
    if service:
        mapping.update(variable.get(("service", service), {}))
    if channel == "Security" and event_id == PROCESS_CREATION_4688:
        mapping.update(variable.get(("category", "process_creation"), {}))
        mapping.update(SECURITY_4688_FIELDS)
    for src, value in event_data.items():
        dst = mapping.get(src)
        if dst is None or value is None or dst.startswith("winlog.") or dst == "event.code":
            continue
        if isinstance(value, list):
            value = value[0] if value else None
            if value is None:
                continue
        typed = _typed(dst, value)
        if typed is not None:
            set_field(doc, dst, typed)
    hashes = event_data.get("Hashes")
    if isinstance(hashes, str) and "=" in hashes:
        # Winlogbeat's Sysmon module splits "SHA1=..,MD5=..,IMPHASH=.." into hash.* the same way.
        for item in hashes.split(","):
            alg, _, digest = item.partition("=")
            if alg.strip() and digest.strip():
                set_field(doc, f"hash.{alg.strip().lower()}", digest.strip().lower())
    if event_id == PROCESS_CREATION_4688 and isinstance(event_data.get("ParentProcessName"), str):
        # ecs_windows maps the security rules' ParentProcessName onto process.parent.name.
        set_field(doc, "process.parent.name", event_data["ParentProcessName"])
    exe = doc.get("process", {}).get("executable")
    if isinstance(exe, str) and "name" not in doc["process"]:
        doc["process"]["name"] = exe.replace("/", "\\").rsplit("\\", 1)[-1]


def _iso_ms(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    # 2026-04-08T10:58:04.850672Z → millisecond precision, as the platform stores time.
    head, _, frac = text.rstrip("Z").partition(".")
    return f"{head}.{(frac + '000')[:3]}Z"


def dataset_for(channel: str) -> str:
    if channel == SYSMON_CHANNEL:
        return "windows.sysmon"
    if channel == "Security":
        return "windows.security"
    if "PowerShell" in channel:
        return "windows.powershell"
    return "windows.eventlog"


def iter_evtx_events(path: str | Path, stats: EvtxStats | None = None) -> Iterator[Event]:
    """Every readable record of an EVTX file as an ``Event``; problems go to ``stats``."""
    from evtx import PyEvtxParser

    p = Path(path)
    stats = stats if stats is not None else EvtxStats(str(p))
    try:
        digest = file_digest(str(p))
        source_path = str(p.resolve())
        parser = PyEvtxParser(str(p))
        records = iter(parser.records_json())
    except (OSError, RuntimeError, ValueError) as exc:
        stats.error(f"cannot open {p}: {exc}")
        return
    while stats.errors < MAX_RECORD_ERRORS:
        try:
            raw = next(records)
        except StopIteration:
            return
        except (RuntimeError, ValueError, OSError) as exc:
            stats.error(f"unreadable record: {exc}")
            continue
        if not isinstance(raw, dict):
            stats.error("unreadable record: empty")
            continue
        record: dict[str, Any] = raw
        try:
            data = orjson.loads(record["data"])
            doc = record_to_doc(data, source_path=source_path)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            stats.error(f"record {record.get('event_record_id')}: {exc}")
            continue
        if doc is None:
            stats.error(f"record {record.get('event_record_id')}: no Event element")
            continue
        if doc["@timestamp"] is None:
            doc["@timestamp"] = _iso_ms(str(record.get("timestamp", "")).replace(" UTC", ""))
        rid = doc["winlog"].get("record_id") or record.get("event_record_id")
        stats.records += 1
        dataset = dataset_for(doc["winlog"]["channel"])
        doc["event"]["dataset"] = dataset
        yield Event(id=stable_id("evtx", digest, rid), dataset=dataset, doc=doc)


def count_records(path: str | Path) -> EvtxStats:
    """Read the whole file and count good and bad records (for import reports)."""
    stats = EvtxStats(str(path))
    for _ in iter_evtx_events(path, stats):
        pass
    return stats
