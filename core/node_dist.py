"""The managed node's distribution: the minimal ``integ-test-zip`` fetched through Maven (which
verifies checksums), its SHA-1 checked again, unpacked world-readable into the cache directory;
and the Java runtime that runs it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

from core.errors import Unavailable
from core.settings import Settings

GROUP = "org.elasticsearch.distribution.integ-test-zip"
ARTIFACT = "elasticsearch"


def installed(home: Path) -> bool:
    return (home / ".installed").exists()


def install(settings: Settings, version: str, home: Path, *, log: Callable[[str], None] = print) -> Path:
    """Fetch through Maven, verify the SHA-1 Maven recorded, unpack into ``home``. Idempotent."""
    if installed(home):
        return home
    mvn = shutil.which(settings.es.maven)
    if not mvn:
        raise Unavailable(
            "Maven (`mvn`) is needed to fetch the Elasticsearch distribution and is not on PATH. "
            "Install it (`apt-get install maven`) or set SOC_ES_URL to an existing cluster."
        )
    coords = f"{GROUP}:{ARTIFACT}:{version}:zip"
    log(f"Fetching Elasticsearch {version} through Maven ({coords}) …")
    proc = subprocess.run(
        [mvn, "-q", "-B", "--strict-checksums",
         "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:get",
         f"-Dartifact={coords}", "-Dtransitive=false"],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise Unavailable(
            f"Maven could not fetch {coords} (exit {proc.returncode}). Check network access to "
            f"Maven Central and the version (SOC_ES_VERSION).\n{tail}"
        )
    zip_path = m2_path(version)
    verify(zip_path)
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = home.parent / f".unpack-{version}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = zf.extract(info, staging)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode)
    inner = staging / f"elasticsearch-{version}"
    shutil.rmtree(home, ignore_errors=True)
    inner.rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    _make_world_readable(home)
    (home / ".installed").write_text(json.dumps({"version": version, "zip": str(zip_path)}))
    log(f"Installed Elasticsearch {version} in {home}")
    return home

def m2_path(version: str) -> Path:
    repo = Path(os.environ.get("SOC_M2_REPO", Path.home() / ".m2" / "repository"))
    return repo / GROUP.replace(".", "/") / ARTIFACT / version / f"{ARTIFACT}-{version}.zip"

def verify(zip_path: Path) -> None:
    sha_file = zip_path.with_name(zip_path.name + ".sha1")
    if not zip_path.exists():
        raise Unavailable(f"Maven reported success but {zip_path} is missing; clear ~/.m2 and retry.")
    if sha_file.exists():
        expected = sha_file.read_text().split()[0].strip().lower()
        h = hashlib.sha1()  # noqa: S324 - Maven Central publishes SHA-1 checksums
        with zip_path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != expected:
            zip_path.unlink(missing_ok=True)
            raise Unavailable(f"Checksum mismatch for {zip_path.name}; the download was removed, retry.")
    with zipfile.ZipFile(zip_path) as zf:
        bad = zf.testzip()
        if bad:
            raise Unavailable(f"{zip_path.name} is corrupt ({bad}); remove it from ~/.m2 and retry.")


def java_home(settings: Settings) -> Path:
    configured = settings.java_home_dir or (Path(os.environ["JAVA_HOME"]) if os.environ.get("JAVA_HOME") else None)
    candidates = [configured] if configured else []
    java = shutil.which("java")
    if java:
        candidates.append(Path(os.path.realpath(java)).parent.parent)
    for home in candidates:
        if home and (home / "bin" / "java").exists():
            return home
    raise Unavailable(
        "No Java runtime found for Elasticsearch 8.19 (needs Java >= 17). Install "
        "openjdk-17-jre-headless or set SOC_JAVA_HOME."
    )


def _make_world_readable(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            p = os.path.join(dirpath, name)
            mode = os.stat(p).st_mode
            os.chmod(p, mode | 0o444 | (0o111 if mode & 0o100 else 0))
