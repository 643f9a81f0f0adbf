"""The inputs file of ``soc collect run`` (YAML through ``core.yamlio``), validated into models."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from core import yamlio
from core.errors import InvalidInput
from core.orgmap import ORG_ID_PATTERN

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class _Model(BaseModel):
    model_config = {"extra": "forbid", "frozen": True}


class InputEntry(BaseModel):
    """Common part of every input; the rest is validated by the input type's own model."""

    model_config = {"extra": "allow", "frozen": True}
    name: str = Field(pattern=_NAME)
    type: str = Field(min_length=1)
    organization: str | None = Field(None, pattern=ORG_ID_PATTERN,
                                     description="department id of every event of this input (beats the maps)")


class FileInputConfig(_Model):
    name: str = Field(pattern=_NAME)
    type: Literal["file"] = "file"
    paths: list[str] = Field(min_length=1)
    parser: str = "auto"
    encoding: str = "utf-8"
    timezone: str = Field("UTC", description="zone for timestamps without one (IANA name, 'local' or ±HH:MM)")
    start: Literal["beginning", "end"] = "beginning"
    poll_seconds: float = Field(0.25, gt=0, le=60)
    max_line_bytes: int = Field(16 * 1024 * 1024, gt=0)
    multiline: bool = Field(True, description="lines starting with whitespace continue the previous event")
    flush_seconds: float = Field(1.0, gt=0)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        return check_encoding(v)


class SyslogInputConfig(_Model):
    name: str = Field(pattern=_NAME)
    type: Literal["syslog"] = "syslog"
    protocol: Literal["udp", "tcp"] = "tcp"
    host: str = "127.0.0.1"
    port: int = Field(5514, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    encoding: str = "utf-8"
    timezone: str = "UTC"
    parser: str = "auto"
    max_message_bytes: int = Field(16 * 1024 * 1024, gt=0)
    max_connections: int = Field(256, gt=0)
    idle_timeout: float = Field(300.0, gt=0)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        return check_encoding(v)


class JournaldInputConfig(_Model):
    name: str = Field(pattern=_NAME)
    type: Literal["journald"] = "journald"
    command: list[str] = Field(default_factory=lambda: ["journalctl", "-o", "json", "--follow", "--all"])
    timezone: str = "UTC"


def check_encoding(v: str) -> str:
    import codecs

    try:
        return codecs.lookup(v).name
    except LookupError as exc:
        raise ValueError(f"unknown text encoding {v!r} (e.g. utf-8, gbk, gb18030)") from exc


def validate_input(model: type[BaseModel], config: dict[str, Any]) -> Any:
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"Input {config.get('name', '?')!r}: {problems}. Fix the inputs file.") from exc


def load_inputs(path: Path) -> list[dict[str, Any]]:
    """The ``inputs:`` list (each entry has a unique ``name`` and a ``type``)."""
    data = yamlio.load_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("inputs"), list):
        raise InvalidInput(f"{path}: expected a mapping with an `inputs:` list (see `soc collect run --help`).")
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["inputs"]):
        if not isinstance(raw, dict):
            raise InvalidInput(f"{path}: inputs[{i}] must be a mapping with name and type.")
        try:
            entry = InputEntry.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise InvalidInput(f"{path}: inputs[{i}]: {problems}.") from exc
        if entry.name in seen:
            raise InvalidInput(f"{path}: two inputs are named {entry.name!r}; names must be unique.")
        seen.add(entry.name)
        entries.append(dict(raw))
    if not entries:
        raise InvalidInput(f"{path}: the `inputs:` list is empty; add at least one input.")
    return entries
