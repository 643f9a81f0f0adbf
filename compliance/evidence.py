"""Uploaded evidence files: stored once by content hash under the evidence directory."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import InvalidInput, NotFound
from core.settings import Settings
from core.timeutil import iso

_SAFE = re.compile(r"[^\w.\-]+")


def evidence_dir(settings: Settings) -> Path:
    return Path(settings.compliance.evidence_dir or settings.data_dir / "compliance" / "evidence")


def save_attachments(settings: Settings, attachments: list[tuple[str, bytes]], now: datetime) -> list[dict[str, Any]]:
    limit = settings.compliance.max_evidence_bytes
    out: list[dict[str, Any]] = []
    base = evidence_dir(settings)
    for name, data in attachments:
        if len(data) > limit:
            raise InvalidInput(f"Evidence file {name!r} is larger than {limit} bytes; compress or split it.")
        digest = hashlib.sha256(data).hexdigest()
        base.mkdir(parents=True, exist_ok=True)
        path = base / digest
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        safe = _SAFE.sub("_", os.path.basename(name))[:120] or "evidence"
        try:
            excerpt = data[:600].decode("utf-8")
        except UnicodeDecodeError:
            excerpt = f"(binary, {len(data)} bytes)"
        out.append({"source": f"upload:{safe}", "excerpt": excerpt, "sha256": digest, "time": iso(now),
                    "note": f"{len(data)} bytes"})
    return out


def read_attachment(settings: Settings, digest: str) -> bytes:
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise InvalidInput("An evidence id is a 64-character sha256 hex digest.")
    path = evidence_dir(settings) / digest
    if not path.is_file():
        raise NotFound(f"No evidence file {digest}.")
    return path.read_bytes()
