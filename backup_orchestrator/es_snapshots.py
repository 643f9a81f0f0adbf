"""Elasticsearch snapshots to shared-filesystem repositories, through ``Store.request``.

Repository locations live under the node's ``path.repo`` (read from ``GET _nodes/settings``,
never assumed). Directories we create are given to the owner of ``path.repo`` because the
managed node runs as an unprivileged user while we may be root. Long operations are started
without ``wait_for_completion`` and polled, so no HTTP request outlives the client timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from core.errors import InvalidInput, NotFound, SocError, Unavailable
from core.es import Store

Progress = Callable[[str], None]


def path_repo(store: Store) -> list[Path]:
    data = store.request("GET", "/_nodes/settings", params={"filter_path": "nodes.*.settings.path.repo"})
    found: list[Path] = []
    for node in (data or {}).get("nodes", {}).values():
        repo = node.get("settings", {}).get("path", {}).get("repo")
        for p in [repo] if isinstance(repo, str) else (repo or []):
            if Path(p) not in found:
                found.append(Path(p))
    if not found:
        raise Unavailable("The Elasticsearch node has no path.repo configured, so snapshots to a shared filesystem "
                          "are impossible. Add `path.repo: [/some/dir]` to elasticsearch.yml and restart it.")
    return found


def resolve_location(store: Store, location: str | None, default: str) -> Path:
    roots = path_repo(store)
    rel = location or default
    path = Path(rel) if Path(rel).is_absolute() else roots[0] / rel
    path = Path(os.path.normpath(path))
    if not any(path == r or r in path.parents for r in roots):
        raise InvalidInput(f"Snapshot location {path} is outside the node's path.repo ({', '.join(map(str, roots))}); "
                           "use a relative location or add the directory to path.repo.")
    return path


def _owner_of(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


def make_dirs_for_node(store: Store, path: Path) -> None:
    """Create ``path`` (and parents below path.repo) owned like path.repo itself."""
    root = next((r for r in path_repo(store) if r == path or r in path.parents), None)
    if root is None or not root.is_dir():
        raise Unavailable(f"path.repo {root} is not a directory visible here; run the orchestrator on the node's host.")
    uid, gid = _owner_of(root)
    todo = [p for p in [path, *path.parents] if root in p.parents][::-1]
    for p in todo:
        if not p.exists():
            p.mkdir(mode=0o750)
            if os.geteuid() == 0:
                os.chown(p, uid, gid)


def chown_tree_like_root(store: Store, path: Path) -> None:
    if os.geteuid() != 0:
        return
    root = next((r for r in path_repo(store) if r in path.parents or r == path), None)
    if root is None:
        return
    uid, gid = _owner_of(root)
    for dirpath, _dirs, files in os.walk(path):
        os.chown(dirpath, uid, gid)
        for f in files:
            os.chown(os.path.join(dirpath, f), uid, gid)


def register(store: Store, name: str, location: Path, *, readonly: bool = False, create: bool = True,
             throttle: str = "0") -> None:
    """``throttle``: the repository's snapshot and restore rate per node ("0": none; Elasticsearch's
    own default of 40mb/s for snapshots kept backups at a fraction of disk speed)."""
    if not location.is_dir():
        if not create:
            raise Unavailable(f"Snapshot repository directory {location} is missing (unmounted disk or deleted?). "
                              "Restore or mount it; the orchestrator will not silently start an empty repository.")
        make_dirs_for_node(store, location)
    body = {"type": "fs", "settings": {"location": str(location), "readonly": readonly, "compress": True,
                                       "max_snapshot_bytes_per_sec": throttle, "max_restore_bytes_per_sec": throttle}}
    if _registered_as(store, name, location, readonly, throttle):
        return
    try:
        store.request("PUT", f"/_snapshot/{name}", body=body, params={"verify": "false" if readonly else "true"})
    except SocError as exc:
        raise Unavailable(f"Registering snapshot repository {name} at {location} failed: {exc.message}") from exc


def _registered_as(store: Store, name: str, location: Path, readonly: bool, throttle: str) -> bool:
    try:
        current = (store.request("GET", f"/_snapshot/{name}") or {}).get(name, {})
    except NotFound:
        return False
    settings = current.get("settings", {})
    return bool(current.get("type") == "fs" and settings.get("location") == str(location)
                and str(settings.get("readonly", "false")).lower() == str(readonly).lower()
                and str(settings.get("max_snapshot_bytes_per_sec")) == throttle)


def unregister(store: Store, name: str) -> None:
    with contextlib.suppress(NotFound):
        store.request("DELETE", f"/_snapshot/{name}")


def resolve_indices(store: Store, patterns: Iterable[str]) -> list[str]:
    names: set[str] = set()
    for pattern in patterns:
        names.update(i for i in store.list_indices(pattern) if not i.startswith("drill-"))
    return sorted(names)


def aliases_of(store: Store, indices: list[str]) -> dict[str, dict[str, Any]]:
    """``{index: {alias: {"is_write_index": bool}}}`` as they are now (recorded with each backup,
    since restores switch restored indices in under these names)."""
    if not indices:
        return {}
    data = store.request("GET", f"/{','.join(indices)}/_alias") or {}
    return {name: {alias: {"is_write_index": bool((meta or {}).get("is_write_index", False))}
                   for alias, meta in (entry.get("aliases") or {}).items()}
            for name, entry in data.items() if entry.get("aliases")}


def list_snapshots(store: Store, repo: str) -> list[dict[str, Any]]:
    data = store.request("GET", f"/_snapshot/{repo}/_all", params={"verbose": "true"})
    return list((data or {}).get("snapshots", []))


def snapshot_info(store: Store, repo: str, snapshot: str) -> dict[str, Any]:
    data = store.request("GET", f"/_snapshot/{repo}/{snapshot}")
    snaps = (data or {}).get("snapshots") or []
    if not snaps:
        raise NotFound(f"Snapshot {snapshot} is not in repository {repo}.")
    return dict(snaps[0])


def snapshot_status(store: Store, repo: str, snapshot: str) -> dict[str, Any]:
    """``_status`` of a finished snapshot: it reads each shard's metadata back from the repository."""
    data = store.request("GET", f"/_snapshot/{repo}/{snapshot}/_status")
    snap = ((data or {}).get("snapshots") or [{}])[0]
    shards = snap.get("shards_stats", {})
    total = snap.get("stats", {}).get("total", {})
    return {"state": snap.get("state"), "done_shards": int(shards.get("done", 0)),
            "failed_shards": int(shards.get("failed", 0)), "file_count": int(total.get("file_count", 0)),
            "size_bytes": int(total.get("size_in_bytes", 0))}


def create_snapshot(store: Store, repo: str, snapshot: str, indices: list[str], *, timeout: float,
                    progress: Progress | None = None) -> dict[str, Any]:
    """Take a snapshot of ``indices`` and wait for it; returns the info plus sizes from ``_status``."""
    start_snapshot(store, repo, snapshot, indices)
    return wait_snapshot(store, repo, snapshot, timeout=timeout, progress=progress)


def start_snapshot(store: Store, repo: str, snapshot: str, indices: list[str]) -> None:
    """Start a snapshot; Elasticsearch copies the files while the caller does other work."""
    body = {"indices": ",".join(indices), "include_global_state": False, "ignore_unavailable": False,
            "partial": False}
    store.request("PUT", f"/_snapshot/{repo}/{snapshot}", body=body, params={"wait_for_completion": "false"})


def wait_snapshot(store: Store, repo: str, snapshot: str, *, timeout: float,
                  progress: Progress | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    info: dict[str, Any] = {}
    while time.monotonic() < deadline:
        info = snapshot_info(store, repo, snapshot)
        if info.get("state") != "IN_PROGRESS":
            break
        if progress:
            progress(f"snapshot {snapshot}: in progress")
        time.sleep(0.3)
    else:
        raise Unavailable(f"Snapshot {snapshot} did not finish within {timeout:.0f}s; it keeps running in "
                          "Elasticsearch. Check `GET _snapshot/{repo}/_current`.")
    if info.get("state") != "SUCCESS":
        reasons = "; ".join(str(f.get("reason")) for f in info.get("failures", [])[:3]) or info.get("reason") or ""
        raise Unavailable(f"Snapshot {snapshot} ended in state {info.get('state')}: {reasons}. " + _full_hint(reasons))
    status = store.request("GET", f"/_snapshot/{repo}/{snapshot}/_status")
    stats = ((status or {}).get("snapshots") or [{}])[0].get("stats", {})
    info["size_bytes"] = int(stats.get("total", {}).get("size_in_bytes", 0))
    info["added_bytes"] = int(stats.get("incremental", {}).get("size_in_bytes", 0))
    info["added_files"] = int(stats.get("incremental", {}).get("file_count", 0))
    return info


def _full_hint(reason: str) -> str:
    low = reason.lower()
    if "no space left" in low or "disk quota" in low:
        return "The snapshot repository is full: free space or prune old recovery points (`soc backup prune PLAN`)."
    if "nosuchfile" in low or "no such file" in low:
        return "The repository directory is missing: check the mount."
    return "See the Elasticsearch log for details."


def delete_snapshot(store: Store, repo: str, snapshot: str) -> bool:
    try:
        store.request("DELETE", f"/_snapshot/{repo}/{snapshot}")
        return True
    except NotFound:
        return False


def restore(store: Store, repo: str, snapshot: str, indices: list[str], drill_prefix: str, *,
            timeout: float, progress: Progress | None = None) -> list[str]:
    """Restore ``indices`` renamed ``<drill_prefix><name>`` with no replicas; wait until all shards start."""
    targets = start_restore(store, repo, snapshot, indices, drill_prefix)
    return wait_restore(store, snapshot, targets, timeout=timeout, progress=progress)


def start_restore(store: Store, repo: str, snapshot: str, indices: list[str], prefix: str, *,
                  strip: str = "", scratch: bool = True) -> list[str]:
    """Start restoring ``indices`` as ``<prefix><name>`` (``strip``: a regex of a leading part of
    the name to drop first); returns the target names. Scratch copies get no replicas."""
    body: dict[str, Any] = {
        "indices": ",".join(indices), "include_global_state": False, "include_aliases": False,
        "rename_pattern": f"^(?:{strip})?(.+)$" if strip else "(.+)", "rename_replacement": f"{prefix}$1",
        "ignore_unavailable": False,
    }
    if scratch:
        body["index_settings"] = {"index.number_of_replicas": 0, "index.auto_expand_replicas": "false"}
    store.request("POST", f"/_snapshot/{repo}/{snapshot}/_restore", body=body,
                  params={"wait_for_completion": "false"})
    return [prefix + (re.sub(f"^(?:{strip})", "", i) if strip else i) for i in indices]


def wait_restore(store: Store, snapshot: str, targets: list[str], *, timeout: float,
                 progress: Progress | None = None, status: str = "green") -> list[str]:
    if not targets:
        return targets
    joined = ",".join(targets)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = store.request("GET", f"/_cluster/health/{joined}")
        if health.get("status") == "green" or (status == "yellow" and health.get("status") == "yellow"):
            return targets
        failure = _failed_shard(store, joined)
        if failure:
            raise Unavailable(f"Restoring snapshot {snapshot} failed: {failure}")
        if progress:
            progress(f"restore: {health.get('active_shards', 0)} shard(s) active")
        time.sleep(0.3)
    raise Unavailable(f"Restoring snapshot {snapshot} did not finish within {timeout:.0f}s.")


def _failed_shard(store: Store, indices: str) -> str | None:
    rows = store.request("GET", f"/_cat/shards/{indices}",
                         params={"format": "json", "h": "index,shard,prirep,state,unassigned.reason"})
    for row in rows or []:
        if row.get("state") == "UNASSIGNED" and row.get("unassigned.reason") == "ALLOCATION_FAILED":
            try:
                explain = store.request("POST", "/_cluster/allocation/explain",
                                        body={"index": row["index"], "shard": int(row["shard"]), "primary": True})
                details = explain.get("unassigned_info", {}).get("details") or ""
            except SocError as exc:
                details = exc.message
            return f"shard {row['index']}[{row['shard']}] could not be recovered: {_root_cause(details)}"
    return None


def _root_cause(details: str) -> str:
    """The outermost and innermost exception lines of a Java trace, without the stack frames."""
    lines = [ln.strip() for ln in details.splitlines() if "Exception" in ln and not ln.strip().startswith("at ")]
    if not lines:
        return details[:400]
    first, last = lines[0][:200], lines[-1][:400]
    return first if first == last else f"{first} … caused by {last}"


# -- manifests ------------------------------------------------------------------------------

DIGEST_MODULUS = 1 << 256


def index_digest(store: Store, index: str) -> tuple[int, str]:
    """``(count, digest)``: the SHA-256 of each ``(id, canonical source)`` summed modulo 2**256.

    A sum is independent of scan order (no sort on ``_id``, which 8.x forbids by default, and
    no list of ids in memory) yet any changed, missing or extra document changes it.
    """
    total = 0
    count = 0
    for hit in store.scan(index, size=2000):
        h = hashlib.sha256(hit["_id"].encode() + b"\0" + orjson.dumps(hit.get("_source"), option=orjson.OPT_SORT_KEYS))
        total = (total + int.from_bytes(h.digest(), "big")) % DIGEST_MODULUS
        count += 1
    return count, f"{total:064x}"


def write_counters(store: Store, indices: list[str]) -> dict[str, tuple[int, int]]:
    """Per-index (index_total, delete_total): equal before and after means nothing was written."""
    if not indices:
        return {}
    stats = store.request("GET", f"/{','.join(indices)}/_stats/indexing", params={"level": "indices"})
    out = {}
    for name, data in (stats or {}).get("indices", {}).items():
        ix = data.get("primaries", {}).get("indexing", {})
        out[name] = (int(ix.get("index_total", 0)), int(ix.get("delete_total", 0)))
    return out


# -- offsite copy ---------------------------------------------------------------------------

def mirror_files(source: Path, target: Path) -> dict[str, int]:
    """Copy new/changed files, repository roots (``index*``) last, then drop files gone from source.

    The source repository must be registered read-only while this runs, so the copy is one
    consistent generation.
    """
    if not source.is_dir():
        raise Unavailable(f"Primary snapshot repository {source} is missing; nothing to copy offsite.")
    target.mkdir(parents=True, exist_ok=True)
    copied = 0
    copied_bytes = 0
    wanted: set[Path] = set()
    files = sorted((p for p in source.rglob("*") if p.is_file()),
                   key=lambda p: (p.parent == source and p.name.startswith("index"), str(p)))
    for src in files:
        rel = src.relative_to(source)
        wanted.add(rel)
        dst = target / rel
        st = src.stat()
        if dst.exists() and dst.stat().st_size == st.st_size and dst.stat().st_mtime >= st.st_mtime \
                and not rel.name.startswith("index"):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.part")
        try:
            shutil.copy2(src, tmp)
            os.replace(tmp, dst)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise Unavailable(f"Copying {rel} to the offsite repository {target} failed: {exc.strerror}. "
                              "Check free space and the mount.") from exc
        copied += 1
        copied_bytes += st.st_size
    removed = 0
    for dst in sorted((p for p in target.rglob("*") if p.is_file()), reverse=True):
        if dst.relative_to(target) not in wanted:
            dst.unlink()
            removed += 1
    return {"copied_files": copied, "copied_bytes": copied_bytes, "removed_files": removed}
