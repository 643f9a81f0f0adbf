from __future__ import annotations

from pathlib import Path

import pytest

from backup_orchestrator.plans import load_plans_file, parse_duration, parse_plan, plan_to_dict
from core.errors import InvalidInput

GOOD = """
plans:
  - id: platform
    description: platform indices and configuration
    assets:
      elasticsearch: {indices: ["soc-*"]}
      paths: [/etc/qinglang]
      postgres: {database: soc, host: 127.0.0.1}
    schedule: {every: 6h}
    retention: {keep_last: 4, keep_daily: 7, keep_weekly: 4, keep_monthly: 6}
    primary: {elasticsearch: qinglang/primary, restic: /srv/backup/restic}
    offsite: {elasticsearch: qinglang/offsite, restic: /mnt/offsite/restic}
    objectives: {rpo: 24h, rto: 1h}
    drill: {every: 7d, check_subset: 5%, queries: [{name: any, query: {match_all: {}}, min_hits: 1}]}
"""


def test_a_full_plan_round_trips(tmp_path: Path) -> None:
    f = tmp_path / "plans.yaml"
    f.write_text(GOOD)
    plan = load_plans_file(f)["platform"]
    assert plan.schedule.every_seconds == 21600 and plan.objectives.rpo_seconds == 86400
    assert plan.retention.keep_monthly == 6 and plan.postgres is not None and plan.postgres.database == "soc"
    assert plan.offsite is not None and plan.offsite.restic == "/mnt/offsite/restic"
    assert parse_plan(plan_to_dict(plan)) == plan


@pytest.mark.parametrize(("text", "message"), [
    ("plans:\n  - id: a\n    id: b\n", "duplicate key"),
    ("plans:\n  - id: UPPER\n    assets: {paths: [/x]}\n", "invalid"),
    ("plans:\n  - id: a\n", "at least one asset"),
    ("plans:\n  - id: a\n    assets: {paths: [relative/dir]}\n", "absolute"),
    ("plans:\n  - id: a\n    assets: {paths: [/x]}\n    retention: {keep_last: -1}\n", "whole number"),
    ("plans:\n  - id: a\n    assets: {paths: [/x]}\n    schedule: {every: soon}\n", "duration"),
    ("plans:\n  - id: a\n    assets: {paths: [/x]}\n    schedule: {cron: '99 * * * *'}\n", "cron"),
    ("plans:\n  - id: a\n    assets: {paths: [/x]}\n    retension: {}\n", "unknown field"),
    ("plans:\n  - id: a\n    assets: {paths: [/x]}\n  - id: a\n    assets: {paths: [/y]}\n", "declared twice"),
    ("plans:\n  - id: a\n    assets: {paths: [/x]}\n    primary: {elasticsearch: ../../etc}\n", "'..'"),
    ("plans:\n  - id: a\n    assets: {paths: [/x]}\n    primary: {restic: /r}\n    offsite: {restic: /r}\n", "differ"),
    ("!!python/object/apply:os.system ['true']\n", "invalid YAML"),
])
def test_bad_plans_are_rejected_with_the_field(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "plans.yaml"
    f.write_text(text)
    with pytest.raises(InvalidInput, match=message):
        load_plans_file(f)


def test_durations() -> None:
    assert parse_duration("90s", "x") == 90 and parse_duration("2w", "x") == 1209600 and parse_duration(5, "x") == 5
    for bad in ("0m", "1y", True, "-5m"):
        with pytest.raises(InvalidInput):
            parse_duration(bad, "x")


def test_the_shipped_example_plan_is_valid() -> None:
    example = Path(__file__).resolve().parents[3] / "backup_orchestrator" / "plans.example.yaml"
    plans = load_plans_file(example)
    assert plans["platform"].drill.every_seconds == 7 * 86400 and plans["platform"].offsite is not None
