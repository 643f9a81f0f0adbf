"""Audited sharing of one case across departments, on a real Elasticsearch with the store's scope
enforcement: 教委 (jiaowei) shares a case with a user of 卫健委 (weijianwei); the grantee reads the
case, its alerts, the event a single-event alert cites and the events of a correlation alert —
nothing else of 教委 — cannot change them, and loses them on expiry and revocation. Every grant,
access, revocation and expiry is in the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core import scope as scopes
from core.alerting import alerts_index, build_alert
from core.auditing import Actor, MemoryAuditor
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.es import Store
from core.settings import Settings
from core.timeutil import iso
from detections.jobs import build_detection_jobs
from detections.runner import RunnerConfig, run_cycle
from detections.service import import_own_rules
from detections.triage import alerts as alerts_svc
from detections.triage import cases as cases_svc
from detections.triage import hunt as hunt_svc
from detections.triage import sharing
from detections.triage.episode_events import alert_events
from detections.triage.share_scope import ShareScope
from tests.integration.detections.conftest import alerts, write_events
from tests.integration.detections.test_correlation import BRUTE, failures

JW, WJ = "jiaowei", "weijianwei"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    store: Store
    settings: Settings
    auditor: MemoryAuditor
    clock: Clock
    hook: ShareScope
    case_id: str
    corr_alert: str
    single_alert: str
    secret_alert: str
    corr_events: list[str]
    cited_event: str
    hidden_events: list[str]

    @contextmanager
    def acting(self, user: str, org: str) -> Iterator[Actor]:
        """As the API does for a request: the department scope plus the user's grants."""
        actor = Actor(user, "analyst", organization=org)
        scope = scopes.Scope(organizations=frozenset({org}), home=org, user=user,
                             shared_ids=self.hook.visible_ids(user),
                             on_shared_access=lambda ids: self.hook.note_access(actor, ids))
        with scopes.acting(scope):
            yield actor

    def records(self, action: str) -> list[dict[str, Any]]:
        return [r for r in self.auditor.records if r["action"] == action]


def _org(store: Store, index: str, doc_id: str, org: str) -> None:
    store.update(index, doc_id, {"organization": {"id": org}}, refresh=True)


@pytest.fixture
def world(store: Store, settings: Settings, prefix: str) -> World:
    import_own_rules(store, prefix, actor=Actor("cli:t", "cli"), auditor=MemoryAuditor())
    start = datetime.now(UTC) - timedelta(minutes=30)
    jw_ip, wj_ip = "198.51.100.20", "198.51.100.30"

    def tagged(docs: list[dict[str, Any]], org: str, host: str) -> list[dict[str, Any]]:
        return [{**d, "organization": {"id": org}, "host": {"name": host}} for d in docs]

    corr_events = write_events(store, prefix, tagged(failures(jw_ip, start, 12, 2), JW, "jw-web"))
    write_events(store, prefix, tagged(failures(wj_ip, start, 12, 2), WJ, "wj-his"))
    single = tagged([{"@timestamp": iso(start), "event": {"dataset": "system.auth", "action": "sudo"},
                      "user": {"name": "teacher"}, "message": f"cited {i}"} for i in range(3)], JW, "jw-db")
    cited, hidden_cited, hidden = write_events(store, prefix, single)
    run_cycle(store, RunnerConfig(prefix=prefix, worker_id="t", settle_seconds=0, partitions=4,
                                  initial_lookback_seconds=3600, lease_seconds=30), force=True)
    by_ip = {a["alert"]["group_key"]: a["alert"]["id"] for a in alerts(store, prefix, BRUTE)}
    corr, theirs = by_ip[jw_ip], by_ip[wj_ip]
    index = alerts_index(prefix)
    # The alert builder's department stamping is another helper's; the test states it.
    _org(store, index, corr, JW)
    _org(store, index, theirs, WJ)
    made = []
    for key, event_id in (("single", cited), ("secret", hidden_cited)):
        alert_id, doc = build_alert(rule_id=f"r-{key}", rule_name=f"Sudo {key}", level="high", reason=key,
                                    key=key, event_ref={"id": event_id}, event={"message": key})
        doc["organization"] = {"id": JW}
        store.put(index, alert_id, doc, refresh=True)
        made.append(alert_id)
    users = settings.index("users")
    for name, org in (("jw-li", JW), ("jw-chen", JW), ("wj-wang", WJ), ("wj-zhao", WJ), ("qu-he", "district")):
        store.put(users, name, {"username": name, "role": "analyst", "organization": {"id": org}}, refresh=True)
    auditor = MemoryAuditor()
    clock = Clock()
    w = World(store=store, settings=settings, auditor=auditor, clock=clock,
              hook=ShareScope(settings, store, auditor, clock=clock), case_id="", corr_alert=corr,
              single_alert=made[0], secret_alert=made[1], corr_events=corr_events, cited_event=cited,
              hidden_events=[hidden_cited, hidden])
    with w.acting("jw-li", JW) as actor:
        case = cases_svc.create_case(store, settings, auditor, "Brute force on jw-web", actor=actor,
                                     alert_ids=[corr, made[0]])["case"]
        assert cases_svc.get_case(store, settings, case["case_id"], actor=actor)["organization"] == {"id": JW}
    w.case_id = case["case_id"]
    return w


def _share(w: World, *, grantees: list[str] | None = None, expires: str = "2h", user: str = "jw-li",
           org: str = JW) -> dict[str, Any]:
    with w.acting(user, org) as actor:
        return sharing.share_case(w.store, w.settings, w.auditor, w.case_id, actor=actor,
                                  grantees=grantees or ["wj-wang"], expires=expires, reason="joint investigation",
                                  now=w.clock())


def _event_ids(w: World) -> set[str]:
    with w.acting("wj-wang", WJ) as actor:
        page = hunt_svc.search_events(w.store, w.settings, actor=actor, query="*", start="now-2h", size=500)
    return {e["_id"] for e in page["items"]}


def test_grantee_reads_the_case_its_alerts_and_cited_events_and_nothing_else(world: World) -> None:
    w = world
    grant = _share(w)
    assert grant["state"] == "active" and grant["grantees"] == ["wj-wang"] and grant["organization"] == {"id": JW}
    assert grant["covered"] == 1 + 2 + 12 + 1 and not grant["truncated"]
    assert w.records("case.share.grant")[0]["detail"]["share_id"] == grant["share_id"]
    with w.acting("jw-li", JW) as actor:
        story = cases_svc.get_case(w.store, w.settings, w.case_id, actor=actor)["timeline"]
    assert story[-1]["action"] == "shared" and story[-1]["grantees"] == ["wj-wang"]

    with w.acting("wj-wang", WJ) as actor:
        case = cases_svc.case_detail(w.store, w.settings, w.case_id, actor=actor)
        assert case["case_id"] == w.case_id and case["alert_timeline"]
        single = alerts_svc.get_alert(w.store, w.settings, w.single_alert, actor=actor)
        assert [e["_id"] for e in single["events"]] == [w.cited_event]
        episode = alert_events(w.store, w.settings, w.corr_alert, actor=actor, size=100)
        assert sorted(e["_id"] for e in episode["items"]) == sorted(w.corr_events)
        listed = alerts_svc.list_alerts(w.store, w.settings, actor=actor, size=100)
        orgs = {a["alert"]["id"]: a["organization"]["id"] for a in listed["items"]}
        assert {a for a, o in orgs.items() if o == JW} == {w.corr_alert, w.single_alert}
        with pytest.raises(NotFound):
            alerts_svc.get_alert(w.store, w.settings, w.secret_alert, actor=actor)
        # Read-only: the case and its alerts refuse changes with a clear 403.
        with pytest.raises(PermissionDenied, match="shared with you read-only"):
            cases_svc.add_note(w.store, w.settings, w.auditor, w.case_id, "mine now", actor=actor)
        with pytest.raises(PermissionDenied, match="shared with you read-only"):
            cases_svc.update_case(w.store, w.settings, w.auditor, w.case_id, actor=actor, status="closed")
        with pytest.raises(PermissionDenied):
            alerts_svc.set_status(w.store, w.settings, w.auditor, w.single_alert, "closed", actor=actor,
                                  close_reason="benign")
        # A grantee cannot pass the case on.
        with pytest.raises(PermissionDenied):
            sharing.share_case(w.store, w.settings, w.auditor, w.case_id, actor=actor, grantees=["wj-zhao"],
                               expires="1h", now=w.clock())
        mine = sharing.shared_with_me(w.store, w.settings, actor=actor, now=w.clock())
        assert [s["case_id"] for s in mine["items"]] == [w.case_id]
        # The grant documents are the owner's: the grantee's department does not see them.
        assert sharing.list_shares(w.store, w.settings, w.case_id, actor=actor, now=w.clock())["items"] == []
    jw_seen = _event_ids(w) & set(w.corr_events + [w.cited_event] + w.hidden_events)
    assert jw_seen == set(w.corr_events) | {w.cited_event}

    accesses = w.records("case.share.access")
    assert accesses and all(r["actor"] == "wj-wang" and grant["share_id"] in r["detail"]["shares"] for r in accesses)
    # Filed under the owner (whose auditors review who read its data), naming the reader's department.
    assert all(r["detail"]["owner"] == JW and r["detail"]["actor_organization"] == WJ for r in accesses)
    assert any(w.cited_event in r["detail"]["doc_ids"] for r in accesses)
    assert any(r["detail"]["count"] >= 12 for r in accesses)  # the correlation's events, in one record

    # Another user of the grantee's department sees nothing of the case.
    with w.acting("wj-zhao", WJ) as actor:
        with pytest.raises(NotFound):
            cases_svc.case_detail(w.store, w.settings, w.case_id, actor=actor)
        with pytest.raises(NotFound):
            alerts_svc.get_alert(w.store, w.settings, w.single_alert, actor=actor)
        with pytest.raises(NotFound):  # not even whether it exists
            sharing.share_case(w.store, w.settings, w.auditor, w.case_id, actor=actor, grantees=["wj-wang"],
                               expires="1h", now=w.clock())
        assert sharing.shared_with_me(w.store, w.settings, actor=actor, now=w.clock())["items"] == []
    assert all(r["actor"] == "wj-wang" for r in w.records("case.share.access"))  # wj-zhao read nothing shared


def test_alerts_added_later_are_covered_and_owner_lists_grants(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    grant = _share(w)
    # What one grantee may hold is bounded when a grant is made (the read filter carries every id).
    monkeypatch.setattr(sharing, "MAX_PER_GRANTEE", grant["covered"] * 2 - 1)
    with pytest.raises(Conflict, match="already reads 16 shared documents"):
        _share(w)
    monkeypatch.undo()
    with w.acting("jw-li", JW) as actor:
        cases_svc.add_alerts(w.store, w.settings, w.auditor, w.case_id, [w.secret_alert], actor=actor)
        listed = sharing.list_shares(w.store, w.settings, w.case_id, actor=actor, now=w.clock())["items"]
    assert [s["share_id"] for s in listed] == [grant["share_id"]] and listed[0]["covered"] == grant["covered"] + 2
    with w.acting("wj-wang", WJ) as actor:
        secret = alerts_svc.get_alert(w.store, w.settings, w.secret_alert, actor=actor)
    assert [e["_id"] for e in secret["events"]] == [w.hidden_events[0]]
    # Removed from the case: no longer shared.
    with w.acting("jw-li", JW) as actor:
        cases_svc.remove_alerts(w.store, w.settings, w.auditor, w.case_id, [w.secret_alert], actor=actor)
    with w.acting("wj-wang", WJ) as actor, pytest.raises(NotFound):
        alerts_svc.get_alert(w.store, w.settings, w.secret_alert, actor=actor)


def test_expiry_ends_access_and_is_audited_once(world: World) -> None:
    w = world
    grant = _share(w, expires=iso(w.clock() + timedelta(minutes=5)))
    with w.acting("wj-wang", WJ) as actor:
        assert cases_svc.get_case(w.store, w.settings, w.case_id, actor=actor)["case_id"] == w.case_id
    assert sharing.audit_expired(w.settings, w.store, w.auditor, now=w.clock()) == 0
    w.clock.now += timedelta(minutes=6)
    with w.acting("wj-wang", WJ) as actor:
        with pytest.raises(NotFound):
            cases_svc.case_detail(w.store, w.settings, w.case_id, actor=actor)
        with pytest.raises(NotFound):
            alerts_svc.get_alert(w.store, w.settings, w.single_alert, actor=actor)
        assert sharing.shared_with_me(w.store, w.settings, actor=actor, now=w.clock())["items"] == []
    assert sharing.audit_expired(w.settings, w.store, w.auditor, now=w.clock()) == 1
    assert sharing.audit_expired(w.settings, w.store, w.auditor, now=w.clock()) == 0
    expired = w.records("case.share.expired")
    assert len(expired) == 1 and expired[0]["detail"]["share_id"] == grant["share_id"]
    assert expired[0]["target"] == w.case_id and expired[0]["detail"]["owner"] == JW
    with w.acting("jw-li", JW) as actor:
        states = [s["state"] for s in sharing.list_shares(w.store, w.settings, w.case_id, actor=actor,
                                                           now=w.clock())["items"]]
    assert states == ["expired"]
    with w.acting("jw-li", JW) as actor:
        story = cases_svc.get_case(w.store, w.settings, w.case_id, actor=actor)["timeline"]
    assert [e["action"] for e in story[-2:]] == ["shared", "share_expired"]
    # The scheduler runs the same check every minute (soc up wires detection jobs with the trail).
    jobs = {f.__name__: (f, seconds) for f, seconds in build_detection_jobs(w.settings, w.store, w.auditor)}
    job, seconds = jobs["case_shares_expiry"]
    assert seconds == 60 and job() == 0  # already recorded: never twice


def test_revoke_ends_access_at_once(world: World) -> None:
    w = world
    grant = _share(w)
    with w.acting("wj-wang", WJ) as actor:
        assert alerts_svc.get_alert(w.store, w.settings, w.single_alert, actor=actor)["events"]
        with pytest.raises(NotFound):  # the grantee cannot even see the grant
            sharing.revoke_share(w.store, w.settings, w.auditor, w.case_id, grant["share_id"], actor=actor)
    with w.acting("jw-chen", JW) as actor:  # any analyst of the owning department
        out = sharing.revoke_share(w.store, w.settings, w.auditor, w.case_id, grant["share_id"], actor=actor,
                                   now=w.clock())
        assert out["state"] == "revoked" and out["revoked_by"] == "jw-chen"
        with pytest.raises(Conflict):
            sharing.revoke_share(w.store, w.settings, w.auditor, w.case_id, grant["share_id"], actor=actor)
    with w.acting("wj-wang", WJ) as actor:
        with pytest.raises(NotFound):
            cases_svc.case_detail(w.store, w.settings, w.case_id, actor=actor)
        with pytest.raises(NotFound):
            alert_events(w.store, w.settings, w.single_alert, actor=actor)
    assert _event_ids(w).isdisjoint(w.corr_events)
    with w.acting("jw-li", JW) as actor:
        story = cases_svc.get_case(w.store, w.settings, w.case_id, actor=actor)["timeline"]
    assert [e["action"] for e in story[-2:]] == ["shared", "share_revoked"]
    revokes = w.records("case.share.revoke")
    assert len(revokes) == 1 and revokes[0]["detail"]["share_id"] == grant["share_id"]
    # A revoked grant never "expires" in the audit trail.
    w.clock.now += timedelta(hours=3)
    assert sharing.audit_expired(w.settings, w.store, w.auditor, now=w.clock()) == 0


BAD_GRANTS: list[tuple[dict[str, Any], str]] = [
    ({"expires": "31d"}, "expires"),
    ({"expires": "yesterday"}, "expires"),
    ({"expires": "2020-01-01T00:00:00Z"}, "expires"),
    ({"expires": "30s"}, "expires"),
    ({"expires": "+999999d"}, "expires"),
    ({"expires": "9999-12-31T23:59:59Z"}, "expires"),
    ({"grantees": []}, "grantees"),
    ({"grantees": ["nobody-here"]}, "grantees"),
    ({"grantees": ["jw-chen"]}, "grantees"),  # the owner's own department sees it already
    ({"grantees": ["jw-li"]}, "grantees"),  # oneself
    ({"grantees": ["qu-he"]}, "grantees"),  # the district sees every department already
    ({"grantees": ["Bad Name!"]}, "grantees"),
    ({"grantees": [f"u{i}" for i in range(21)]}, "grantees"),
    ({"reason": "x" * 2001}, "reason"),
]


def test_bad_grants_are_refused_and_store_nothing(world: World) -> None:
    w = world
    for change, name in BAD_GRANTS:
        args: dict[str, Any] = {"grantees": ["wj-wang"], "expires": "1d", **change}
        with w.acting("jw-li", JW) as actor, pytest.raises(InvalidInput) as err:
            sharing.share_case(w.store, w.settings, w.auditor, w.case_id, actor=actor, now=w.clock(), **args)
        assert err.value.detail[0]["field"] == name, change
    assert not w.records("case.share.grant")
    assert w.hook.visible_ids("wj-wang") == frozenset()
    with pytest.raises(PermissionDenied):  # a role without cases.share (the department's auditor)
        sharing.share_case(w.store, w.settings, w.auditor, w.case_id, actor=Actor("jw-audit", "auditor", organization=JW),
                           grantees=["wj-wang"], expires="1d")


def test_cli_share_list_and_revoke(world: World, tmp_path: Path) -> None:
    from tests.integration.api.test_cli_triage import _config, _run

    config = _config(world.settings, tmp_path)
    code, out = _run(config, "cases", "share", world.case_id, "--to", "wj-wang", "--expires", "3d",
                     "--reason", "joint")
    assert code == 0 and "wj-wang" in out and "16 documents" in out, out
    code, out = _run(config, "--json", "cases", "shares", world.case_id)
    items = __import__("json").loads(out)["items"]
    assert code == 0 and [s["state"] for s in items] == ["active"]
    code, out = _run(config, "cases", "revoke", world.case_id, items[0]["share_id"])
    assert code == 0 and "revoked" in out
    code, out = _run(config, "cases", "share", world.case_id, "--to", "wj-wang", "--expires", "90d")
    assert code == 2 and "30 days" in out
