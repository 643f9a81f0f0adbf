"""File manifests: every regular file's size and mtime, and the SHA-256 of a seeded sample.

Restic authenticates every blob it stores and restores, and ``restic check --read-data-subset``
re-reads packs, so hashing every file again at backup and drill only halved the speed. The
sample (``backup.verify_sample_file_bytes``) checks end to end that restored content equals
what was read at backup time; names and sizes are checked for every file."""

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


def build(paths: Iterable[str], *, sample_bytes: int | None = None, seed: str = "") -> dict[str, Any]:
    """``{"files": {abs_path: {"size", "mtime_ns"[, "sha256"]}}, "count", "bytes", "sampled"}``.

    ``sample_bytes=None`` hashes every file; otherwise files are hashed in a seeded random order
    until the budget is spent (a file larger than what is left is passed over)."""
    files: dict[str, dict[str, Any]] = {}
    total = 0
    for p in paths:
        root = Path(p)
        if not root.exists():
            raise InvalidInput(f"Backup path {root} does not exist; fix the plan's assets.paths or create it.")
        for f in _walk(root):
            st = f.stat()
            files[str(f)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
            total += st.st_size
    budget = total if sample_bytes is None else sample_bytes
    sampled = 0
    order = sorted(files, key=lambda name: hashlib.sha256(f"{seed}\0{name}".encode()).digest())
    for name in order:
        size = files[name]["size"]
        if size > budget:
            continue
        files[name]["sha256"] = sha256_file(Path(name))
        budget -= size
        sampled += 1
    return {"files": files, "count": len(files), "bytes": total, "sampled": sampled}


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
        path = restored_root / name.lstrip("/")
        if path.stat().st_size != meta["size"]:
            mismatches.append(f"{name} (size)")
        elif "sha256" in meta and sha256_file(path) != meta["sha256"]:
            mismatches.append(name)
    return count_problems, mismatches, len(restored)
