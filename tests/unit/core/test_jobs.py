"""core.jobs: one runner for long operations (busy → Conflict, cancellation, bounded history)."""

from __future__ import annotations

import threading

import pytest

from core import scope as scopes
from core.errors import Conflict, InvalidInput, NotFound
from core.jobs import JobHandle, JobRunner


def _blocking(release: threading.Event, started: threading.Event | None = None):  # type: ignore[no-untyped-def]
    def work(job: JobHandle) -> dict[str, str]:
        if started is not None:
            started.set()
        while not release.wait(0.01):
            job.check_cancelled()
        return {"status": "done"}
    return work


def test_same_kind_and_key_is_a_conflict_other_keys_run() -> None:
    runner = JobRunner(max_running=3, keep=10)
    release = threading.Event()
    first = runner.submit("backup", "plan-a", _blocking(release))
    with pytest.raises(Conflict) as err:
        runner.submit("backup", "plan-a", _blocking(release))
    assert err.value.http_status == 409 and err.value.detail == {"job_id": first["job_id"]}
    other = runner.submit("drill", "plan-a", _blocking(release))  # another kind on the same key
    release.set()
    assert runner.wait(first["job_id"], 5)["status"] == "finished"
    assert runner.wait(other["job_id"], 5)["status"] == "finished"
    again = runner.submit("backup", "plan-a", lambda job: {"status": "ok"})  # free again once finished
    assert runner.wait(again["job_id"], 5)["result"] == {"status": "ok"}


def test_full_runner_and_per_kind_limit_refuse_without_evicting() -> None:
    runner = JobRunner(max_running=2, keep=2, per_kind={"compliance.run": 1})
    release = threading.Event()
    a = runner.submit("compliance.run", "k1", _blocking(release))
    with pytest.raises(Conflict, match="1 compliance.run"):
        runner.submit("compliance.run", "k2", _blocking(release))
    b = runner.submit("backup", "p", _blocking(release))
    with pytest.raises(Conflict, match="2 long operations"):
        runner.submit("drill", "q", _blocking(release))
    # Both running jobs are still there: a full runner never evicts one to make room.
    assert {j["job_id"] for j in runner.list()} == {a["job_id"], b["job_id"]}
    assert all(j["status"] == "running" for j in runner.list())
    release.set()
    runner.wait(a["job_id"], 5)
    runner.wait(b["job_id"], 5)


def test_cancel_stops_work_that_polls_and_finished_jobs_stay_as_they_ended() -> None:
    runner = JobRunner()
    started = threading.Event()
    job = runner.submit("backup", "p", _blocking(threading.Event(), started))
    assert started.wait(5)
    asked = runner.cancel(job["job_id"])
    assert asked["cancel_requested"] is True
    ended = runner.wait(job["job_id"], 5)
    assert ended["status"] == "cancelled" and "cancelled" in (ended["error"] or "")
    assert runner.cancel(job["job_id"])["status"] == "cancelled"  # unchanged, no error
    with pytest.raises(NotFound):
        runner.cancel("nope")
    # Work that records its own cancellation (a backup run stored as cancelled) ends cancelled too.
    clean = runner.submit("backup", "p", lambda h: {"status": "cancelled", "run_id": "r1"})
    view = runner.wait(clean["job_id"], 5)
    assert view["status"] == "cancelled" and view["result"] == {"status": "cancelled", "run_id": "r1"}


def test_history_is_bounded_and_a_finished_result_is_readable() -> None:
    runner = JobRunner(max_running=1, keep=3)
    ids = []
    for n in range(5):
        job = runner.submit("compliance.run", f"k{n}", lambda h, n=n: (h.progress("scan", 0.5, f"step {n}"),
                                                                       {"run_id": f"cr-{n}"})[1])
        ids.append(job["job_id"])
        runner.wait(job["job_id"], 5)
    listed = runner.list()
    assert [j["job_id"] for j in listed] == ids[:1:-1]  # the 3 newest, newest first
    with pytest.raises(NotFound):
        runner.get(ids[0])
    newest = runner.get(ids[-1])
    assert newest["result"] == {"run_id": "cr-4"} and newest["messages"] == ["step 4"]
    assert newest["fraction"] == 1.0 and newest["ended"] is not None
    with pytest.raises(NotFound):  # a domain sees only its own kinds
        runner.get(ids[-1], kinds=("backup",))


def test_failures_are_reported_and_work_runs_in_the_submitters_scope() -> None:
    runner = JobRunner()

    def bad(_job: JobHandle) -> None:
        raise InvalidInput("no such catalog")

    assert runner.wait(runner.submit("x", "1", bad)["job_id"], 5)["error"] == "no such catalog"
    crash = runner.wait(runner.submit("x", "2", lambda h: {"v": 1 / 0})["job_id"], 5)
    assert crash["status"] == "failed" and "ZeroDivisionError" in crash["error"]

    seen: list[object] = []
    dept = scopes.Scope(organizations=frozenset({"jiaowei"}), home="jiaowei")
    with scopes.acting(dept):
        job = runner.submit("x", "3", lambda h: seen.append(scopes.current()) or None)
    runner.wait(job["job_id"], 5)
    assert seen == [dept]
