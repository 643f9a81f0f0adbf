"""Every host check on a prepared compliant tree (符合) and a non-compliant tree (不符合)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.checkset import builtin_dir, load_checks
from compliance.engine import run_host_checks
from compliance.models import COMPLIANT, NON_COMPLIANT
from compliance.targets import RootDirTarget
from tests.unit.compliance.trees import build_compliant, build_noncompliant

CHECKS = load_checks([builtin_dir()])
HOST_CHECKS = sorted(c for c, chk in CHECKS.items() if chk.kind == "host")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    good = RootDirTarget(build_compliant(tmp_path_factory.mktemp("good")), name="good")
    bad = RootDirTarget(build_noncompliant(tmp_path_factory.mktemp("bad")), name="bad")
    checks = [CHECKS[c] for c in HOST_CHECKS]
    return {"good": {r.check_id: r for r in run_host_checks(good, checks)},
            "bad": {r.check_id: r for r in run_host_checks(bad, checks)}}


def test_enough_level3_host_checks() -> None:
    level3 = [c for c in HOST_CHECKS if any(i.startswith("L3-") for i in CHECKS[c].items)]
    assert len(level3) >= 35


@pytest.mark.parametrize("check_id", HOST_CHECKS)
def test_check_passes_on_compliant_tree(results: dict[str, dict[str, object]], check_id: str) -> None:
    r = results["good"][check_id]
    assert r.result == COMPLIANT, f"{check_id}: {r.detail} {r.error or ''}"  # type: ignore[attr-defined]
    assert r.evidence and all(len(e.sha256) == 64 and e.time for e in r.evidence)  # type: ignore[attr-defined]


@pytest.mark.parametrize("check_id", HOST_CHECKS)
def test_check_fails_on_noncompliant_tree(results: dict[str, dict[str, object]], check_id: str) -> None:
    r = results["bad"][check_id]
    assert r.result == NON_COMPLIANT, f"{check_id}: {r.detail} {r.error or ''}"  # type: ignore[attr-defined]


def test_root_target_stays_inside_tree(tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "secret").write_text("outside")
    target = RootDirTarget(tmp_path / "tree")
    assert target.read("/../secret") is None
    assert target.read("../../secret") is None
    (tmp_path / "tree" / "link").symlink_to(tmp_path / "secret")
    assert target.read("/link") is None
    # stat confined the same way: neither a link out of the tree nor a path through one answers.
    assert target.stat("/link") is None
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "shadow").write_text("x")
    (tmp_path / "tree" / "etc").symlink_to(tmp_path / "outdir")
    assert target.stat("/etc/shadow") is None and target.stat("/etc") is None
    assert target.stat("/../secret") is None
    # a symlink that stays inside the tree is followed, as on the host
    (tmp_path / "tree" / "real").write_text("in")
    (tmp_path / "tree" / "alias").symlink_to("real")
    inside = target.stat("/alias")
    assert inside is not None and inside.mtime == (tmp_path / "tree" / "real").stat().st_mtime
