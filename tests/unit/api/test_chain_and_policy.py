"""The hash chain's classification and the password policy, without Elasticsearch."""

from __future__ import annotations

import pytest

from api.identity.passwords import check_policy, generate_password, hash_password, verify_password
from audit.chain import GENESIS, check_chain, record_id, seal
from core.errors import InvalidInput

KEY = b"k" * 32


def chain(n: int) -> list[dict]:
    out, prev = [], GENESIS
    for seq in range(1, n + 1):
        rec = {"seq": seq, "time": f"2026-01-01T00:00:0{seq % 10}.000Z", "actor": "a", "role": "analyst",
               "address": None, "action": "x", "target": str(seq), "outcome": "success", "detail": {},
               "prev_hash": prev}
        rec["hash"] = seal(KEY, rec)
        prev = rec["hash"]
        out.append(rec)
    return out


def test_intact_chain_and_ids() -> None:
    records = chain(5)
    assert check_chain(KEY, records) is None
    assert check_chain(KEY, records, [record_id(r["seq"]) for r in records]) is None


@pytest.mark.parametrize("kind", ["modified", "deleted", "inserted", "reordered"])
def test_each_kind_of_tampering_is_named(kind: str) -> None:
    records = chain(6)
    if kind == "modified":
        records[2] = {**records[2], "outcome": "failure"}
        expected = ("modified", 3, 3)
    elif kind == "deleted":
        del records[2]
        expected = ("deleted", 3, 3)
    elif kind == "inserted":
        records.insert(2, {**records[1], "target": "planted"})
        expected = ("inserted", 3, 2)
    else:
        records[2], records[3] = records[3], records[2]
        expected = ("reordered", 3, 4)
    problem = check_chain(KEY, records)
    assert problem is not None and (problem.kind, problem.position, problem.seq) == expected


def test_wrong_key_fails_at_the_first_record() -> None:
    problem = check_chain(b"other" * 8, chain(3))
    assert problem is not None and problem.position == 1


def test_record_under_another_id_is_reordered() -> None:
    records = chain(3)
    ids = [record_id(1), record_id(3), record_id(2)]
    problem = check_chain(KEY, records, ids)
    assert problem is not None and problem.kind == "reordered" and problem.seq == 2


def test_password_policy_names_each_rule() -> None:
    with pytest.raises(InvalidInput) as err:
        check_policy("alice", min_length=12, username="alice")
    fields = [d["message"] for d in err.value.detail]
    assert any("12" in m for m in fields) and any("uppercase" in m for m in fields)
    assert any("digits" in m for m in fields) and any("symbol" in m for m in fields)
    assert any("user name" in m for m in fields)
    check_policy("Correct-Horse-9", min_length=12, username="alice")
    old = hash_password("Correct-Horse-9")
    with pytest.raises(InvalidInput, match="recent"):
        check_policy("Correct-Horse-9", min_length=12, username="alice", previous_hashes=[old])


def test_generated_passwords_pass_the_policy_and_hashes_verify() -> None:
    for _ in range(5):
        pw = generate_password()
        check_policy(pw, min_length=12, username="admin")
    h = hash_password("Correct-Horse-9")
    assert h.startswith("$argon2id$") and verify_password(h, "Correct-Horse-9")
    assert not verify_password(h, "correct-horse-9") and not verify_password(None, "x")


def test_scheduler_probe_reports_jobs() -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from api.platform import scheduler_probe

    sched = BackgroundScheduler()
    sched.add_job(lambda: None, "interval", seconds=60, id="detect")
    assert scheduler_probe(sched)() == {"status": "down", "running": False,
                                        "jobs": [{"id": "detect", "next_run": None}]}
    sched.start(paused=True)
    try:
        report = scheduler_probe(sched)()
        assert report["status"] == "ok" and report["jobs"][0]["id"] == "detect"
    finally:
        sched.shutdown(wait=False)
