"""The sections of ``core.settings.Settings`` (one class per ``SOC_<SECTION>_*`` group); each
domain adds fields to its own section only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator

from core.orgmap import ORG_ID_PATTERN, check_host_patterns, check_subnets
from core.urls import redact_url, split_urls

PLACEHOLDER_SECRET = "CHANGE-ME"
CLI_ROLES = ("admin", "sysadmin", "analyst", "auditor")
DEPARTMENT_ID = re.compile(ORG_ID_PATTERN)


class _Section(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


class EsSettings(_Section):
    url: str | None = Field(None, description="An existing cluster: one URL or several, comma-separated; "
                                              "unset = the managed node")
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_cert: Path | None = None
    verify_certs: bool = True
    version: str = "8.19.21"
    host: str = "127.0.0.1"
    port: int = Field(9200, ge=1, le=65535)
    transport_port: int | None = Field(None, ge=1, le=65535, description="default: port + 100")
    heap: str = Field("1g", pattern=r"^\d+[mMgG]$")
    cache_dir: Path | None = Field(None, description="where the distribution is unpacked")
    java_home: Path | None = Field(None, description="also SOC_JAVA_HOME")
    run_as_user: str = "soc-es"
    start_timeout: float = Field(180.0, gt=0)
    request_timeout: float = Field(30.0, gt=0)
    maven: str = "mvn"

    @field_validator("url", mode="before")
    @classmethod
    def _urls(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):  # a YAML list of nodes
            v = ",".join(str(u) for u in v)
        if not isinstance(v, str):
            return v
        urls = split_urls(v)
        if not urls:
            return None
        for one in urls:
            parts = urlsplit(one)
            try:
                port_ok = parts.port is None or 0 < parts.port < 65536
            except ValueError:
                port_ok = False
            if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
                raise ValueError(f"{redact_url(one)!r} is not an http(s)://host[:port] URL "
                                 "(several nodes: separate them with commas)")
        schemes = {urlsplit(u).scheme for u in urls}
        if len(schemes) > 1:
            raise ValueError("all nodes must use the same scheme (http or https)")
        return ",".join(urls)


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    token_ttl_minutes: int = Field(480, gt=0)
    idle_timeout_minutes: int = Field(15, gt=0)
    lockout_threshold: int = Field(5, gt=0)
    lockout_window_minutes: int = Field(10, gt=0)
    lockout_minutes: int = Field(15, gt=0)
    login_failures_per_minute: int = Field(30, gt=0, description="failed logins per source address and minute")
    mfa_required_roles: list[str] = Field(default_factory=list,
                                          description="roles whose users need TOTP before API keys work")
    password_min_length: int = Field(12, ge=8)
    password_history: int = Field(5, ge=0)
    max_request_bytes: int = Field(10 * 1024 * 1024, gt=0)
    anonymous_failures_per_minute: int = Field(60, gt=0, description="per source; more are answered 429")
    cli_roles: dict[str, str] = Field(
        default_factory=dict,
        description="OS user -> platform role for `soc` commands, `role` or `role@department` (e.g. "
                    "analyst@jiaowei); unmapped local operators act as `cli`")

    @field_validator("cli_roles")
    @classmethod
    def _cli_roles(cls, v: dict[str, str]) -> dict[str, str]:
        for user, value in v.items():
            role, _, dept = str(value).partition("@")
            if role not in CLI_ROLES or (dept and not DEPARTMENT_ID.match(dept)):
                raise ValueError(f"{user}: {value!r} is not `role` or `role@department` (roles: "
                                 f"{', '.join(CLI_ROLES)}; a department id is a lowercase slug such as jiaowei)")
        return v


class CollectSettings(_Section):
    inputs_file: Path | None = None
    spool_dir: Path | None = Field(None, description="default: <data_dir>/spool")
    spool_max_bytes: int = Field(1024 * 1024 * 1024, gt=0)
    batch_size: int = Field(2000, gt=0)
    flush_seconds: float = Field(1.0, gt=0)
    syslog_host: str = "127.0.0.1"
    syslog_udp_port: int = Field(5514, ge=0, le=65535)
    syslog_tcp_port: int = Field(5514, ge=0, le=65535)
    give_up_seconds: float = Field(300.0, gt=0, description="one-shot imports: how long to retry an unreachable cluster")
    status_seconds: float = Field(2.0, gt=0, description="how often the daemon writes its status file")
    spool_fsync: bool = Field(False, description="fsync every spool append (survives power loss, slower)")
    org_hosts: dict[str, str] = Field(default_factory=dict, description="host-name glob -> department id "
                                      "(organization.id), first match in order, e.g. {\"jw-*\": \"jiaowei\"}")
    org_subnets: dict[str, str] = Field(default_factory=dict, description="CIDR -> department id, matched on "
                                        "host.ip, then source.ip, then destination.ip; longest prefix wins")

    @field_validator("org_hosts")
    @classmethod
    def _org_hosts(cls, v: dict[str, str]) -> dict[str, str]:
        return check_host_patterns(v)

    @field_validator("org_subnets")
    @classmethod
    def _org_subnets(cls, v: dict[str, str]) -> dict[str, str]:
        return check_subnets(v)


class DetectSettings(_Section):
    rules_dirs: list[Path] = Field(default_factory=list, description="extra Sigma rule dirs/zips for `soc up`")
    pack: str = Field("default", pattern=r"^[a-z0-9_-]{1,64}$", description="rule pack `soc up` loads")
    sigmahq_dir: Path | None = Field(None, description="a SigmaHQ checkout the rule pack selects rules from")
    interval_seconds: int = Field(60, gt=0, description="default run interval of a rule")
    tick_seconds: int = Field(15, gt=0, description="how often the scheduler job looks for due rules")
    max_alerts_per_run: int = Field(1000, gt=0)
    realert_minutes: int = Field(60, ge=0, le=7 * 24 * 60, description="a correlation's later windows update its "
                                 "open alert for the same group when seen within this many minutes (0: always new)")
    lease_seconds: int = Field(60, gt=0, description="a dead scheduler's rules are taken over after this")
    settle_seconds: float = Field(5.0, ge=0, description="window end lags now by this (refresh + bulk)")
    partitions: int = Field(8, gt=0, le=256, description="rule set partitions leased by schedulers")
    batch_size: int = Field(1000, gt=0, le=5000, description="most rules in one grouped search")
    initial_lookback_seconds: int = Field(3600, ge=0, description="first window of a new rule")
    search_timeout: str = Field("30s", pattern=r"^\d+(ms|s|m)$", description="per search; a chunk that times "
                                "out is split until the slow rule is alone")
    max_clauses: int = Field(2500, ge=10, le=100000, description="leaf clauses per grouped search (keep under "
                             "the node's indices.query.bool.max_clause_count)")
    search_concurrency: int = Field(4, ge=1, le=32, description="grouped searches in flight at once")
    max_window_seconds: int = Field(7 * 86400, gt=0, description="longest window a rule catches up; older "
                                    "events are skipped, recorded as a gap and alerted")
    max_backoff_seconds: int = Field(3600, gt=0, description="longest wait before retrying a failing rule")
    alert_after_failures: int = Field(3, gt=0, description="platform alert after this many failed runs in a row")


class EventsSettings(_Section):
    """Event storage: one write alias per dataset, rolled over at ingest time by the platform."""

    rollover_max_size: str = Field("10gb", pattern=r"^\d+(b|kb|mb|gb|tb)$",
                                   description="roll over when a primary shard reaches this size")
    rollover_max_age: str = Field("1d", pattern=r"^\d+(s|m|h|d)$",
                                  description="roll over a non-empty write index older than this")
    retention_days: int | None = Field(None, ge=1, description="delete indices whose newest event is older; unset = keep")
    shard_budget: int | None = Field(None, ge=1, description="default: 80% of max_shards_per_node x data nodes")
    maintenance_seconds: int = Field(300, gt=0, description="how often rollover and retention run")


class AuditSettings(_Section):
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    mirror_path: Path | None = Field(None, description="default: <data_dir>/audit/audit.log")
    head_path: Path | None = Field(None, description="sealed head of the trail; default: <data_dir>/audit/head.log")
    append_only: bool | None = Field(None, description="chattr +a on the mirror and head file; default: when root")
    syslog_address: str | None = Field(None, pattern=r"^(udp://)?[\w.\-\[\]:]+:\d+$|^(unix:)?/",
                                       description="also send sealed heads to this syslog (host:port, unix:/path)")
    retention_days: int = Field(185, ge=185)


class BackupSettings(_Section):
    plans_file: Path | None = Field(None, description="default: <data_dir>/backups/plans.yaml, read on every use")
    default_plan: bool = Field(True, description="back up the platform itself (plan 'platform') out of the box")
    restic_password: SecretStr | None = None
    restic_password_file: Path | None = None
    restic_binary: str = "restic"
    pg_dump_binary: str = "pg_dump"
    repos_dir: Path | None = Field(None, description="default restic repositories: <data_dir>/backups/repos")
    lock_stale_seconds: int = Field(600, gt=0, description="a run lock without heartbeat this long is stale")
    restic_check_subset: str = Field("10%", pattern=r"^(\d+(\.\d+)?%|\d+/\d+)$")
    operation_timeout_seconds: int = Field(3600, gt=0)
    snapshot_max_bytes_per_sec: str = Field("0", pattern=r"^(0|\d+(b|kb|mb|gb))$",
                                            description="snapshot/restore rate cap per repository (0: none)")
    verify_id_digest_max_docs: int = Field(200_000, ge=0, description="indices up to this size get an id-set digest")
    verify_sample_docs: int = Field(200, ge=0, le=10_000, description="documents per index checked by content")
    verify_sample_file_bytes: int = Field(64 * 1024 * 1024, ge=0, description="file bytes checked by SHA-256")


class ComplianceSettings(_Section):
    catalog_dir: Path | None = Field(None, description="extra catalogs (YAML) besides the built-in ones")
    checks_dir: Path | None = Field(None, description="extra checks (YAML) besides the built-in ones")
    level: int = Field(3, ge=2, le=3, description="default MLPS level of scheduled runs")
    targets: list[str] = Field(default_factory=lambda: ["local"], description="scheduled run targets")
    assets: list[str] = Field(default_factory=list, description="host names expected to send logs")
    event_retention_days: int | None = Field(None, ge=1, description="declared event retention")
    schedule_cron: str | None = Field(None, description="cron (UTC) for scheduled runs, e.g. '0 2 * * 1'")
    ssh_key_file: Path | None = None
    ssh_known_hosts: Path | None = None
    evidence_dir: Path | None = Field(None, description="default: <data_dir>/compliance/evidence")
    max_evidence_bytes: int = Field(20 * 1024 * 1024, gt=0)
    carry_manual_days: int = Field(365, ge=0, description="manual results carried into later runs")


class PiiRuleSettings(_Section):
    dataset: str = "*"
    field: str = "*"
    type: str = "*"
    action: Literal["keep", "mask", "hash", "drop"]


class PiiSettings(_Section):
    enabled: bool = Field(True, description="scan every event for personal information at ingest")
    hash_key: SecretStr = Field(SecretStr(PLACEHOLDER_SECRET),
                                description="HMAC key of the 'hash' action; never stored in Elasticsearch")
    rules: list[PiiRuleSettings] = Field(default_factory=list,
                                         description="tried before the defaults (identity/bank/passport masked)")
    forbidden_datasets: list[str] = Field(default_factory=list, description="datasets that must carry no PI")
    unmask_minutes: int = Field(30, gt=0, le=480, description="how long an unmask grant lasts")
    names: bool = Field(False, description="also find Chinese personal names after labels such as 姓名")


class DepartmentSeed(_Section):
    id: str = Field(..., pattern=DEPARTMENT_ID.pattern)
    name_zh: str = Field(..., min_length=1, max_length=100)
    name_en: str = Field(..., min_length=1, max_length=100)
    parent: str = Field("district", pattern=DEPARTMENT_ID.pattern)


class OrgSettings(_Section):
    departments: list[DepartmentSeed] = Field(
        default_factory=list, description="departments created on first use (never overwriting later changes)")
