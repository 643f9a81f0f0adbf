"""File manifests: counts and SHA-256 digests of every regular file under the plan's paths."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.errors import InvalidInput

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _walk(root: Path) -> Iterator[Path]:
    if root.is_symlink():
        return
    if root.is_file():
        yield root
        return
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                yield p


def build(paths: Iterable[str]) -> dict[str, Any]:
    """``{"files": {abs_path: {"sha256", "size", "mtime_ns"}}, "count", "bytes"}``."""
    files: dict[str, dict[str, Any]] = {}
    total = 0
    for p in paths:
        root = Path(p)
        if not root.exists():
            raise InvalidInput(f"Backup path {root} does not exist; fix the plan's assets.paths or create it.")
        for f in _walk(root):
            st = f.stat()
            files[str(f)] = {"sha256": sha256_file(f), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
            total += st.st_size
    return {"files": files, "count": len(files), "bytes": total}


def changed_since(manifest: dict[str, Any]) -> list[str]:
    """Files whose size or mtime moved after hashing: their digest may not match the snapshot."""
    changed = []
    for name, meta in manifest["files"].items():
        try:
            st = Path(name).stat()
        except OSError:
            changed.append(name)
            continue
        if st.st_size != meta["size"] or st.st_mtime_ns != meta["mtime_ns"]:
            changed.append(name)
    return changed


def verify(manifest: dict[str, Any], restored_root: Path, paths: Iterable[str]) -> tuple[list[str], list[str], int]:
    """Compare a restore against the manifest: ``(missing_or_extra, digest_mismatches, restored_count)``."""
    expected = manifest["files"]
    unstable = set(manifest.get("changed_during_backup", []))
    restored: set[str] = set()
    for p in paths:
        base = restored_root / Path(p).relative_to("/")
        for f in _walk(base) if base.exists() else ():
            restored.add("/" + str(f.relative_to(restored_root)))
    count_problems = sorted(set(expected) ^ restored)
    mismatches = []
    for name, meta in sorted(expected.items()):
        if name in unstable or name not in restored:
            continue
        if sha256_file(restored_root / name.lstrip("/")) != meta["sha256"]:
            mismatches.append(name)
    return count_problems, mismatches, len(restored)
