"""Processing pipelines: which pySigma pipeline a rule's log source goes through, and which
event indices it searches.

- Windows: ``ecs_windows`` (Winlogbeat 8 layout, which ``collectors.evtx`` writes) plus Sysmon
  category conditions (channel + event id), so a ``file_event`` rule only looks at Sysmon 11
  records, as Sigma's taxonomy says.
- Network: ``ecs_zeek_beats``, with its ``event.dataset: zeek.*`` condition replaced by our
  network datasets (``network.flow``, ``network.dns``, ``network.http``, ``network.tls``).
- Linux: our own pipeline onto the Filebeat system/auditd module fields the system-log collector
  writes.

Everything is built from installed packages: nothing is downloaded.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import ConditionOR
from sigma.correlations import SigmaCorrelationRule
from sigma.pipelines.elasticsearch.windows import ecs_windows
from sigma.pipelines.elasticsearch.zeek import ecs_zeek_beats
from sigma.processing.conditions import (
    FieldNameProcessingItemAppliedCondition,
    IncludeFieldCondition,
    LogsourceCondition,
)
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    AddConditionTransformation,
    AddFieldnamePrefixTransformation,
    FieldMappingTransformation,
)
from sigma.processing.transformations.base import ConditionTransformation, DetectionItemTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaLogSource, SigmaRule

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
SYSMON_CATEGORY_EVENTS: dict[str, list[str]] = {
    "process_creation": ["1"], "file_change": ["2"], "network_connection": ["3"],
    "sysmon_status": ["4", "16"], "process_termination": ["5"], "driver_load": ["6"],
    "image_load": ["7"], "create_remote_thread": ["8"], "raw_access_thread": ["9"],
    "process_access": ["10"], "file_event": ["11"], "registry_add": ["12"], "registry_delete": ["12"],
    "registry_set": ["13"], "registry_rename": ["14"], "registry_event": ["12", "13", "14"],
    "create_stream_hash": ["15"], "pipe_created": ["17", "18"], "wmi_event": ["19", "20", "21"],
    "dns_query": ["22"], "file_delete": ["23", "26"], "clipboard_capture": ["24"],
    "process_tampering": ["25"], "file_delete_detected": ["26"], "file_block_executable": ["27"],
    "file_block_shredding": ["28"], "file_executable_detected": ["29"], "sysmon_error": ["255"],
}
# Security 4688 is the process-creation event of hosts without Sysmon: SigmaHQ's test
# configuration, Hayabusa and Chainsaw map process_creation to it too. collectors.evtx writes its
# fields where Sysmon 1's go (NewProcessName → process.executable, ParentProcessName →
# process.parent.executable, NewProcessId → process.pid, ProcessId → process.parent.pid).
CATEGORY_ALTERNATIVES: dict[str, list[tuple[str, list[str]]]] = {
    "process_creation": [("Security", ["4688"])],
}
# Rule fields named like a System element whose name the payload also uses: Channel in
# Microsoft-Windows-Eventlog 104 ("the <Channel> log was cleared"). (Sysmon's payload ProcessId
# already wins: collectors.evtx keeps System's Execution ProcessID in winlog.process.pid.)
PAYLOAD_FIRST_FIELDS = {"Channel": "winlog.channel"}
ZEEK_DATASETS = {"conn": "network.flow", "dns": "network.dns", "http": "network.http", "ssl": "network.tls",
                 "syslog": "network.syslog", "arp": "network.arp"}
NETWORK_CATEGORIES = ("firewall", "dns", "proxy", "webserver", "accounting")

LINUX_SERVICE_DATASETS = {
    "auth": ["system.auth"], "sshd": ["system.auth"], "sudo": ["system.auth"],
    "syslog": ["system.syslog"], "cron": ["system.syslog"], "auditd": ["auditd.log"],
}
LINUX_CATEGORY_DATASETS = {
    "process_creation": ["auditd.log"], "file_event": ["auditd.log"], "network_connection": ["auditd.log"],
}
LINUX_FIELDS: dict[str, str | list[str]] = {
    # process_creation / file_event / network_connection on Linux
    "Image": "process.executable", "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable", "ParentCommandLine": "process.parent.command_line",
    "CurrentDirectory": "process.working_directory", "User": "user.name", "LogonId": "auditd.log.ses",
    "ProcessId": "process.pid", "ParentProcessId": "process.parent.pid", "TargetFilename": "file.path",
    "DestinationHostname": "destination.domain", "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port", "SourceIp": "source.ip", "SourcePort": "source.port",
    "Initiated": "network.direction",
    # auditd records (Filebeat auditd module layout)
    "type": "auditd.log.record_type", "key": "auditd.log.key", "SYSCALL": "auditd.log.syscall",
    "syscall": "auditd.log.syscall", "exe": "process.executable", "comm": "process.name",
    "name": "file.path", "cwd": "process.working_directory", "uid": "user.id", "auid": "user.audit.id",
    "euid": "user.effective.id", "pid": "process.pid", "ppid": "process.parent.pid",
    "proctitle": "auditd.log.proctitle", "nametype": "auditd.log.nametype", "unit": "auditd.log.unit",
    "res": "event.outcome", "terminal": "user.terminal", "addr": "source.address",
    # auth/syslog
    "host": "host.hostname", "hostname": "host.hostname", "program": "process.name",
    "pam_user": "user.name", "src_ip": "source.ip", "USER": "system.auth.sudo.user",
}


@dataclass(frozen=True)
class Route:
    """Where a rule runs: its pipeline name and the event datasets it searches (empty = all)."""

    pipeline: str
    datasets: tuple[str, ...]

    def indices(self, prefix: str) -> str:
        if not self.datasets:
            return f"{prefix}-events-*"
        return ",".join(f"{prefix}-events-{d}-*" for d in self.datasets)


def route_for(logsource: SigmaLogSource) -> Route | None:
    """The route of a log source, or None when no pipeline maps it (the lint reason)."""
    product = (logsource.product or "").lower()
    service = (logsource.service or "").lower()
    category = (logsource.category or "").lower()
    if product == "windows":
        return Route("ecs_windows", ("windows.*",))
    if product == "linux":
        if service:
            datasets = LINUX_SERVICE_DATASETS.get(service)
            return Route("linux", tuple(datasets)) if datasets else None
        if category in LINUX_CATEGORY_DATASETS:
            return Route("linux", tuple(LINUX_CATEGORY_DATASETS[category]))
        return None
    if product == "qinglang":
        # the platform's own fields (pii.*, event.dataset) on every dataset, as written
        return Route("qinglang", ())
    if product == "zeek" or (not product and category in NETWORK_CATEGORIES):
        if product == "zeek" and service and service not in ZEEK_DATASETS:
            return None
        return Route("ecs_zeek_beats", ("network.*",))
    return None


@dataclass
class AnyOfConditionTransformation(AddConditionTransformation):
    """Like ``AddConditionTransformation``, with alternatives: the rule also needs one of
    ``alternatives`` (each a mapping of fields that must all match)."""

    alternatives: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> None:
        if isinstance(rule, SigmaRule):
            # pySigma reads a list of maps as their OR (its type hints only name lists of values).
            rule.detection.detections[self.name] = SigmaDetection.from_definition(self.alternatives)  # type: ignore[arg-type]
            self.processing_item_applied(rule.detection.detections[self.name])
            ConditionTransformation.apply(self, rule)


@dataclass
class PayloadFirstTransformation(DetectionItemTransformation):
    """A rule field named like a System element that the event payload may carry too: the payload's
    value wins, the System value counts only where the payload has none (SigmaHQ's regression
    tooling flattens System first, then EventData/UserData over it)."""

    system_fields: dict[str, str] = field(default_factory=dict)

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetection | None:
        system = self.system_fields.get(detection_item.field or "")
        if system is None:
            return None
        payload = f"winlog.event_data.{detection_item.field}"
        in_payload = copy.deepcopy(detection_item)
        in_payload.field = payload
        in_system = copy.deepcopy(detection_item)
        in_system.field = system
        no_payload = SigmaDetectionItem.from_mapping(f"{payload}|exists", False)
        return SigmaDetection([SigmaDetection([in_payload]), SigmaDetection([no_payload, in_system])],
                              item_linking=ConditionOR)


def _windows() -> ProcessingPipeline:
    base = ecs_windows()
    category_items = []
    for category, codes in SYSMON_CATEGORY_EVENTS.items():
        alternatives = [{"winlog.channel": SYSMON_CHANNEL, "event.code": codes}]
        alternatives += [{"winlog.channel": channel, "event.code": ids}
                         for channel, ids in CATEGORY_ALTERNATIVES.get(category, ())]
        category_items.append(ProcessingItem(
            identifier=f"qinglang_sysmon_{category}",
            transformation=AnyOfConditionTransformation(alternatives=alternatives),
            rule_conditions=[LogsourceCondition(product="windows", category=category)],
        ))
    payload_first = ProcessingItem(
        identifier="qinglang_windows_payload_first",
        transformation=PayloadFirstTransformation(system_fields=dict(PAYLOAD_FIRST_FIELDS)),
        rule_conditions=[LogsourceCondition(product="windows")],
    )
    # Category conditions must be added before ecs_windows' field mapping renames EventID etc.;
    # they already use target field names, which the prefixing step leaves alone (they contain a dot).
    return ProcessingPipeline(name="qinglang ecs_windows", priority=20, items=[*category_items, payload_first]) + base


def _zeek() -> ProcessingPipeline:
    base = ecs_zeek_beats()
    base._clear_pipeline()
    items = [i for i in base.items if i.identifier != "zeek_ecs_event_dataset"]
    dataset_items = [
        ProcessingItem(
            identifier=f"qinglang_zeek_dataset_{service}",
            transformation=AddConditionTransformation({"event.dataset": dataset}),
            rule_conditions=[LogsourceCondition(product="zeek", service=service)],
        )
        for service, dataset in ZEEK_DATASETS.items()
    ]
    # Insert after the category→service changes so the service condition sees the new log source.
    first_mapping = next(i for i, item in enumerate(items)
                         if not (item.identifier or "").startswith("zeek_mapping_category"))
    return ProcessingPipeline(name="qinglang ecs_zeek_beats", priority=20,
                              items=items[:first_mapping] + dataset_items + items[first_mapping:])


def _linux() -> ProcessingPipeline:
    items = [
        ProcessingItem(
            identifier="qinglang_linux_field_mapping",
            transformation=FieldMappingTransformation(dict(LINUX_FIELDS)),  # type: ignore[arg-type]
            rule_conditions=[LogsourceCondition(product="linux")],
        ),
        # Unmapped auditd fields get the prefix; mapped ones (and dotted names) are left alone.
        ProcessingItem(
            identifier="qinglang_linux_auditd_prefix",
            transformation=AddFieldnamePrefixTransformation("auditd.log."),
            rule_conditions=[LogsourceCondition(product="linux", service="auditd")],
            field_name_conditions=[FieldNameProcessingItemAppliedCondition("qinglang_linux_field_mapping"),
                                   IncludeFieldCondition(fields=["\\w+\\."], mode="re")],
            field_name_condition_negation=True,
            field_name_condition_linking=any,
        ),
    ]
    return ProcessingPipeline(name="qinglang linux (Filebeat system/auditd layout)", priority=20, items=items)


def _platform() -> ProcessingPipeline:
    return ProcessingPipeline(name="qinglang platform fields", priority=20, items=[])


_BUILDERS = {"ecs_windows": _windows, "ecs_zeek_beats": _zeek, "linux": _linux, "qinglang": _platform}


_CACHE: dict[str, ProcessingPipeline] = {}


def pipeline(name: str) -> ProcessingPipeline:
    """One pipeline per name, reused like pySigma's backends do: ``apply`` resets its state."""
    built = _CACHE.get(name)
    if built is None:
        built = _CACHE[name] = _BUILDERS[name]()
    return built


PIPELINE_NAMES = tuple(_BUILDERS)
