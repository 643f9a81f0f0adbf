from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from backup_orchestrator import report
from backup_orchestrator.restic import Restic, ResticPassword, classify
from core.errors import Conflict, Unavailable
from core.settings import Settings

DRILL = {
    "drill_id": "abc", "plan_id": "platform", "run_id": "platform-1", "status": "failed", "source": "primary",
    "started": "2026-11-26T10:00:00.000Z", "ended": "2026-11-26T10:01:00.000Z",
    "recovery_point_time": "2026-11-26T09:00:00.000Z", "rpo_seconds": 3600.0, "rto_seconds": 42.5,
    "rto": {"fetch_seconds": 1.5, "restore_seconds": 30.0, "verify_seconds": 11.0},
    "objectives": {"rpo_seconds": 86400, "rto_seconds": 3600}, "failed_check": "files_digests",
    "checks": [{"name": "files_digests", "status": "failed", "detail": "<script>alert(1)</script> differs",
                "seconds": 0.2}],
}


def test_html_report_in_both_languages_escapes_details() -> None:
    zh = report.to_html(DRILL)
    en = report.to_html(DRILL, "en")
    assert "恢复演练报告" in zh and "失败" in zh
    assert "Restore drill report" in en and "files_digests" in en and "42.5" in en
    assert "<script>" not in en and "&lt;script&gt;" in en
    assert json.loads(report.to_json(DRILL))["failed_check"] == "files_digests"


def test_password_reaches_restic_only_through_the_environment(offline_settings: Settings, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    backup = offline_settings.backup.model_copy(update={"restic_password": SecretStr("s3cret-pw")})
    pw = ResticPassword.from_settings(offline_settings.model_copy(update={"backup": backup}))
    monkeypatch.setenv("RESTIC_REPOSITORY", "/somewhere/else")
    restic = Restic(tmp_path / "repo", pw)
    env = restic._env()
    assert env["RESTIC_PASSWORD"] == "s3cret-pw" and env["RESTIC_REPOSITORY"] == str(tmp_path / "repo")
    proc = restic.run(["version"], "version")  # a real restic call: the password is not in argv
    assert "s3cret-pw" not in " ".join(map(str, proc.args))
    pw_file = tmp_path / "pw"
    pw_file.write_text("x")
    backup = offline_settings.backup.model_copy(update={"restic_password_file": pw_file})
    assert ResticPassword.from_settings(offline_settings.model_copy(update={"backup": backup})).env() == {
        "RESTIC_PASSWORD_FILE": str(pw_file)}
    # Nothing configured: the data dir's own key, generated once (0600) and then reused.
    generated = ResticPassword.from_settings(offline_settings)
    key = offline_settings.data_dir / "secrets" / "restic.key"
    assert generated.file == key and key.stat().st_mode & 0o777 == 0o600 and len(key.read_text()) == 64
    assert ResticPassword.from_settings(offline_settings).file == key and key.read_text() == generated.file.read_text()


@pytest.mark.parametrize(("stderr", "kind", "words"), [
    ("Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the "
     "following location?\n/r", Unavailable, "no restic repository"),
    ("Fatal: unable to save snapshot: write /r/data/ab/x: no space left on device", Unavailable, "full"),
    ("Fatal: wrong password or no key found", Unavailable, "password"),
    ("unable to create lock in backend: repository is already locked by PID 7", Conflict, "locked"),
])
def test_restic_errors_say_what_to_do(stderr: str, kind: type, words: str) -> None:
    err = classify(stderr, "restic backup", "/r")
    assert isinstance(err, kind) and words in err.message
