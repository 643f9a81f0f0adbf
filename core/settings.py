"""The platform's one typed settings class.

Sources, highest first: explicit keyword arguments, environment variables ``SOC_<SECTION>_<KEY>``
(e.g. ``SOC_ES_URL``, ``SOC_API_PORT``), the YAML file named by ``SOC_CONFIG`` (or passed to
``load_settings``) with sections of the same names, then the defaults below. Nothing reads the
environment at import time: ``load_settings()`` is called by ``main()`` / ``create_app()``.

Domains add fields to their own section only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core import yamlio
from core.errors import InvalidInput
from core.settings_sections import (  # re-exported: callers import them from here
    CLI_ROLES as CLI_ROLES,
)
from core.settings_sections import (
    DEPARTMENT_ID as DEPARTMENT_ID,
)
from core.settings_sections import (
    PLACEHOLDER_SECRET as PLACEHOLDER_SECRET,
)
from core.settings_sections import (
    ApiSettings as ApiSettings,
)
from core.settings_sections import (
    AuditSettings as AuditSettings,
)
from core.settings_sections import (
    BackupSettings as BackupSettings,
)
from core.settings_sections import (
    CollectSettings as CollectSettings,
)
from core.settings_sections import (
    ComplianceSettings as ComplianceSettings,
)
from core.settings_sections import (
    DepartmentSeed as DepartmentSeed,
)
from core.settings_sections import (
    DetectSettings as DetectSettings,
)
from core.settings_sections import (
    EsSettings as EsSettings,
)
from core.settings_sections import (
    EventsSettings as EventsSettings,
)
from core.settings_sections import (
    OrgSettings as OrgSettings,
)
from core.settings_sections import (
    PiiRuleSettings as PiiRuleSettings,
)
from core.settings_sections import (
    PiiSettings as PiiSettings,
)
from core.urls import redact_url, split_urls


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def default_data_dir() -> Path:
    # Root's home is not traversable by the unprivileged Elasticsearch user, so root keeps the
    # platform's state in the conventional system location.
    if _is_root():
        return Path("/var/lib/qinglang")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "qinglang"


def default_cache_dir() -> Path:
    if _is_root():
        return Path("/var/cache/qinglang")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qinglang"




class _YamlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is not None:
            data = yamlio.load_file(path)
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise InvalidInput(f"{path}: settings file must be a mapping of sections (es:, api:, ...).")
            self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SOC_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    index_prefix: str = Field("soc", pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    demo: bool = False
    language: Literal["zh-CN", "en"] = "zh-CN"
    java_home: Path | None = None

    es: EsSettings = EsSettings()
    api: ApiSettings = ApiSettings()
    collect: CollectSettings = CollectSettings()
    detect: DetectSettings = DetectSettings()
    events: EventsSettings = EventsSettings()
    audit: AuditSettings = AuditSettings()
    backup: BackupSettings = BackupSettings()
    compliance: ComplianceSettings = ComplianceSettings()
    pii: PiiSettings = PiiSettings()
    org: OrgSettings = OrgSettings()

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().absolute()

    _yaml_path: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls, _CURRENT_YAML.get("path")))

    # Derived locations: one place decides where things live.
    @property
    def es_cache_dir(self) -> Path:
        return (self.es.cache_dir or default_cache_dir()).expanduser().absolute()

    @property
    def es_node_dir(self) -> Path:
        return self.data_dir / "elasticsearch"

    @property
    def snapshot_repo_dir(self) -> Path:
        return self.es_node_dir / "repo"

    @property
    def spool_dir(self) -> Path:
        return self.collect.spool_dir or self.data_dir / "spool"

    @property
    def audit_mirror_path(self) -> Path:
        return self.audit.mirror_path or self.data_dir / "audit" / "audit.log"

    @property
    def audit_head_path(self) -> Path:
        return self.audit.head_path or self.audit_mirror_path.with_name("head.log")

    @property
    def java_home_dir(self) -> Path | None:
        return self.es.java_home or self.java_home

    @property
    def managed_es(self) -> bool:
        return not self.es.url

    @property
    def es_url(self) -> str:
        """Comma-separated when several nodes are configured; may hold credentials (see ``es_urls``)."""
        return self.es.url or f"http://{self.es.host}:{self.es.port}"

    @property
    def es_urls(self) -> list[str]:
        return split_urls(self.es_url)

    @property
    def es_url_display(self) -> str:
        return redact_url(self.es_url)

    def index(self, name: str) -> str:
        """Platform index name with the configured prefix: ``index("alerts") -> soc-alerts``."""
        return f"{self.index_prefix}-{name}"

    def placeholder_secrets(self) -> list[str]:
        found = []
        if self.api.secret_key.get_secret_value() == PLACEHOLDER_SECRET:
            found.append("SOC_API_SECRET_KEY")
        if self.audit.secret_key.get_secret_value() == PLACEHOLDER_SECRET:
            found.append("SOC_AUDIT_SECRET_KEY")
        return found

    def check_secrets(self) -> None:
        """Refuse placeholder secrets outside demo mode."""
        missing = self.placeholder_secrets()
        if missing and not self.demo:
            raise InvalidInput(
                "Placeholder secrets are not allowed outside demo mode: set "
                + ", ".join(missing)
                + " to long random values (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`),"
                " or run with SOC_DEMO=true for a demonstration."
            )

    def masked(self) -> dict[str, Any]:
        """Effective settings as plain data with every secret replaced by ``******``."""
        data = self.model_dump(mode="json")  # SecretStr dumps as '**********'
        if self.es.url:
            data["es"]["url"] = redact_url(self.es.url)
        return data


_CURRENT_YAML: dict[str, Path | None] = {"path": None}


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings from overrides, the environment and the YAML file; errors are ``InvalidInput``."""
    path = config_file or os.environ.get("SOC_CONFIG")
    _CURRENT_YAML["path"] = Path(path) if path else None
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        where = f" (settings file {path})" if path else ""
        raise InvalidInput(
            f"Invalid settings{where}: {problems}. Fix the value (see `soc config show` and the README's "
            "configuration table)."
        ) from exc
    finally:
        _CURRENT_YAML["path"] = None
