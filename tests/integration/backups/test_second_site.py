"""The 政务灾备份中心 second site over SFTP: offsite copies with a bandwidth cap, then a drill and a
restore from the second site alone after the primary repository is lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backup_orchestrator import restore, service
from tests.integration.backups import second_site
from tests.integration.backups.conftest import SYSADMIN, Env
from tests.integration.backups.test_restic_drill import make_tree


@pytest.fixture
def site(tmp_path: Path) -> Iterator[second_site.SecondSite]:
    s = second_site.start(tmp_path / "dr")
    yield s
    s.stop()


def test_second_site_round_trip_with_the_primary_deleted(env: Env, tmp_path: Path,
                                                          site: second_site.SecondSite) -> None:
    src = make_tree(tmp_path / "src", files=4, size=400_000)
    primary = tmp_path / "primary"
    plan_id = env.plan(id="dr", assets={"paths": [str(src)]}, primary={"restic": str(primary)},
                       offsite={"restic": site.repo("repo"), "ssh_config": str(site.ssh_config),
                                "limit_upload_kib": 256},
                       objectives={"rpo": "1h", "rto": "10m"}, drill={"check_subset": "100%"})
    t0 = time.monotonic()
    run = env.backup(plan_id)
    took = time.monotonic() - t0
    assert run["status"] == "success", run.get("error")
    assert run["offsite"]["status"] == "success", run["offsite"]
    assert run["offsite"]["restic"]["snapshot_id"]
    assert (site.root / "repo" / "config").is_file()  # it really went over SFTP to the second site
    # ~1.6 MB of random data through a 256 KiB/s cap cannot take less than a few seconds
    assert took > 4, took

    shutil.rmtree(primary)  # the primary site is lost
    drill = env.drill(plan_id, source="offsite")
    assert drill["status"] == "passed", drill["checks"]
    assert drill["source"] == "offsite"
    out = tmp_path / "out"
    done = service.run_restore(env.ctx(), SYSADMIN, env.auditor, plan_id,
                               restore.Request(source="offsite", target_dir=out), dry_run=False, confirm=plan_id)
    assert done["status"] == "success", done["checks"]
    for f in src.rglob("*"):
        if f.is_file():
            assert (out / str(f).lstrip("/")).read_bytes() == f.read_bytes()
    # a primary drill now fails and says why
    failed = env.drill(plan_id)
    assert failed["status"] == "failed" and failed["failed_check"] == "restic_snapshot_present"


def test_unreachable_second_site_fails_the_offsite_copy_with_the_reason(env: Env, tmp_path: Path,
                                                                        site: second_site.SecondSite) -> None:
    src = make_tree(tmp_path / "src", files=1, size=1000)
    plan_id = env.plan(id="dr", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "primary")},
                       offsite={"restic": site.repo("repo"), "ssh_config": str(site.ssh_config)})
    site.stop()
    run = env.backup(plan_id)
    assert run["status"] == "success"  # the primary copy is made regardless
    assert run["offsite"]["status"] == "failed" and "cannot be reached" in run["offsite"]["error"]


def test_interrupted_copy_and_outage_catch_up(env: Env, tmp_path: Path, site: second_site.SecondSite) -> None:
    src = make_tree(tmp_path / "src", files=3, size=400_000)
    plan_id = env.plan(id="dr", assets={"paths": [str(src)]}, primary={"restic": str(tmp_path / "primary")},
                       offsite={"restic": site.repo("repo"), "ssh_config": str(site.ssh_config),
                                "limit_upload_kib": 128})
    first = env.backup(plan_id)
    assert first["offsite"]["status"] == "success", first["offsite"]
    # the link goes down: the next run is kept at the primary site only
    site.stop()
    (src / "dir0" / "new.bin").write_bytes(os.urandom(600_000))
    missed = env.backup(plan_id)
    assert missed["status"] == "success" and missed["offsite"]["status"] == "failed"
    site.restart()
    # a copy cut off half way (the process dies) leaves no snapshot behind at the second site
    ctx = env.ctx()
    plan = service.get_plan(env.settings, env.store, plan_id)
    primary, offsite = ctx.restic(plan, "primary"), ctx.restic(plan, "offsite")
    cmd = [shutil.which("restic") or "restic", *offsite.global_args,
           *offsite.copy_command(primary, tags=[f"plan:{plan_id}"])]
    proc = subprocess.Popen(cmd, env=offsite._env(primary.password.env("RESTIC_FROM_")),  # noqa: S603
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.5)  # 600 KB at 128 KiB/s needs ~5 s
    proc.kill()
    proc.wait()
    assert len(offsite.snapshots()) == 1
    # the next run's copy catches up: the missed run and its own, nothing copied twice
    third = env.backup(plan_id)
    assert third["offsite"]["status"] == "success", third["offsite"]
    originals = sorted(s.get("original") for s in offsite.snapshots())
    assert originals == sorted(r["restic"]["snapshot_id"] for r in (first, missed, third))
    drill = env.drill(plan_id, point=missed["run_id"], source="offsite")
    assert drill["status"] == "passed", drill["checks"]
