from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backup_orchestrator import files
from core.errors import InvalidInput


def _restore_copy(src: Path, scratch: Path) -> None:
    shutil.copytree(src, scratch / str(src).lstrip("/"), symlinks=True)


def test_manifest_detects_missing_extra_and_changed_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "one.txt").write_text("one")
    (src / "two.bin").write_bytes(b"\x00\x01" * 1000)
    (src / "link").symlink_to(src / "two.bin")
    manifest = files.build([str(src)])
    assert manifest["count"] == 2 and manifest["bytes"] == 2003
    assert files.changed_since(manifest) == []

    ok = tmp_path / "ok"
    _restore_copy(src, ok)
    assert files.verify(manifest, ok, [str(src)]) == ([], [], 2)

    bad = tmp_path / "bad"
    _restore_copy(src, bad)
    restored = bad / str(src).lstrip("/")
    (restored / "a" / "one.txt").write_text("One")
    (restored / "two.bin").unlink()
    (restored / "extra").write_text("x")
    problems, mismatches, count = files.verify(manifest, bad, [str(src)])
    assert problems == [str(src / "extra"), str(src / "two.bin")]
    assert mismatches == [str(src / "a" / "one.txt")] and count == 2

    (src / "two.bin").write_bytes(b"changed")
    assert files.changed_since(manifest) == [str(src / "two.bin")]


def test_missing_source_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        files.build([str(tmp_path / "nope")])
