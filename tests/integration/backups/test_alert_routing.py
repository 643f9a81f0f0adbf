"""Platform alerts go to the role that can act and close themselves when the condition clears:
a failed backup reaches the sysadmin (not the analyst) and a later successful run resolves it."""

from __future__ import annotations

from pathlib import Path

from core.auditing import Actor
from detections.triage.alerts import get_alert, list_alerts, set_status
from tests.integration.backups.conftest import Env
from tests.integration.backups.test_restic_drill import make_tree

ANALYST = Actor("li", "analyst")
SYSADMIN = Actor("alice", "sysadmin")
AUDITOR = Actor("wang", "auditor")


def test_failed_backup_alert_reaches_the_sysadmin_and_resolves_itself(env: Env, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", files=2, size=1000)
    disk = tmp_path / "unmounted"
    plan_id = env.plan(id="files", assets={"paths": [str(src)]}, primary={"restic": str(disk / "repo")})
    assert env.backup(plan_id)["status"] == "failed"

    def open_alerts(actor: Actor) -> list[dict]:
        page = list_alerts(env.store, env.settings, actor=actor, status=["new"], start="now-1h")
        return [a for a in page["items"] if a["rule"]["id"] == "backup.run_failed"]

    mine = open_alerts(SYSADMIN)
    assert len(mine) == 1 and mine[0]["alert"]["audience"] == ["sysadmin"]
    assert open_alerts(ANALYST) == []  # the analyst cannot act on backups
    assert len(open_alerts(AUDITOR)) == 1  # the auditor oversees everything
    alert_id = mine[0]["alert"]["id"]
    try:
        get_alert(env.store, env.settings, alert_id, actor=ANALYST)
        raise AssertionError("an analyst read a sysadmin's alert")
    except Exception as exc:  # noqa: BLE001
        assert type(exc).__name__ == "NotFound"
    # The sysadmin may acknowledge it (an analyst may not even see it).
    assert set_status(env.store, env.settings, env.auditor, alert_id, "acknowledged",
                      actor=SYSADMIN)["alert"]["status"] == "acknowledged"

    disk.mkdir()  # the disk is back: the next run succeeds and closes the alert
    assert env.backup(plan_id)["status"] == "success"
    alert = get_alert(env.store, env.settings, alert_id, actor=SYSADMIN)["alert"]["alert"]
    assert alert["status"] == "closed" and alert["close_reason"] == "resolved"
    assert alert["history"][-1]["actor"] == "system:platform" and "succeeded" in alert["history"][-1]["note"]
    assert open_alerts(SYSADMIN) == []
