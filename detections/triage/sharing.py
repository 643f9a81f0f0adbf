"""Audited sharing of one case across departments (部门间共享): the owning department (or the
district) grants named users of another department read access to a case, its alerts and the
events they cite, until a deadline; it can revoke the grant. The grant, every access through it
(``share_scope.ShareScope.note_access``), the revocation and the expiry are audited.

Grants live in ``<prefix>-case-shares`` (see ``share_records``) with the owner's
``organization.id``: the store shows them to the owning department and the district only."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from core import scope as scopes
from core.auditing import Actor, Auditor
from core.departments import Departments
from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from core.es import Store
from core.permissions import requires
from core.settings import Settings
from core.timeutil import iso, parse_iso, utcnow
from detections.triage.cases import cases_index, get_case
from detections.triage.common import optimistic_update
from detections.triage.share_records import (
    MAX_PER_GRANTEE,
    active_filter,
    bump_generation,
    covered_ids,
    ensure_shares,
    for_owner,
    held_by,
    shares_index,
)

MAX_SHARE_DAYS = 30
MIN_SHARE_SECONDS = 60
MAX_GRANTEES = 20
MAX_REASON = 2000
USERNAME_RE = re.compile(r"^[a-z0-9._-]{2,64}$")
_RELATIVE = re.compile(r"^\+?(\d{1,6})([mhd])$")
SYSTEM_ACTOR = Actor.system("sharing")


def _bad(field: str, message: str, text: str) -> InvalidInput:
    return InvalidInput(text, detail=[{"field": field, "message": message}])


def parse_expires(value: str, now: datetime) -> datetime:
    """An ISO 8601 time or a duration from now (``90m``, ``12h``, ``7d``), at least a minute
    and at most ``MAX_SHARE_DAYS`` days ahead."""
    text = (value or "").strip()
    rel = _RELATIVE.fullmatch(text)
    try:
        if rel:
            amount = int(rel.group(1)) * {"m": 60, "h": 3600, "d": 86400}[rel.group(2)]
            when = now + timedelta(seconds=min(amount, 10 * MAX_SHARE_DAYS * 86400))
        else:
            when = parse_iso(text)
    except (ValueError, OverflowError) as exc:
        raise _bad("expires", "not a time", "expires: give an ISO 8601 time (2026-12-31T18:00:00Z) or a "
                   "duration such as 12h or 7d.") from exc
    if when < now + timedelta(seconds=MIN_SHARE_SECONDS):
        raise _bad("expires", "not in the future", "expires must be at least a minute from now.")
    if when > now + timedelta(days=MAX_SHARE_DAYS):
        raise _bad("expires", "too far", f"A case is shared for at most {MAX_SHARE_DAYS} days; give an earlier "
                   "expires (share again later if needed).")
    return when


def _owner(case: dict[str, Any]) -> str:
    """The case's department; refused when the caller acts for another one (a grantee)."""
    owner = scopes.organization_of(case) or scopes.DISTRICT
    scope = scopes.current()
    if scope is not None and scope.restricted and not scope.allows(owner):
        raise PermissionDenied(f"Case {case.get('case_id')!r} belongs to department {owner!r}: only that "
                               "department or the district can share it or revoke its grants.")
    return owner


def _grantees(store: Store, settings: Settings, names: list[str], actor: Actor, owner: str) -> list[str]:
    wanted = list(dict.fromkeys((n or "").strip().lower() for n in names))
    if not wanted or len(wanted) > MAX_GRANTEES or "" in wanted:
        raise _bad("grantees", "count", f"Name 1-{MAX_GRANTEES} users to share the case with.")
    # Who sees the case already: the owner's subtree and the district (which sees everything).
    sees = {scopes.DISTRICT} | (set(Departments(settings, store).descendants(owner)) if owner != scopes.DISTRICT
                                else set())
    for name in wanted:
        if not USERNAME_RE.fullmatch(name):
            raise _bad("grantees", "invalid user name", f"{name!r} is not a user name.")
        if name == actor.name:
            raise _bad("grantees", "yourself", "You already see your own department's case; name other users.")
        # The user directory is platform bookkeeping, read across departments on purpose.
        with scopes.system():
            user = store.get(settings.index("users"), name)
        src = (user or {}).get("_source") or {}
        if user is None or src.get("disabled"):
            raise _bad("grantees", "unknown user", f"There is no active user {name!r}.")
        org = scopes.organization_of(src) or scopes.DISTRICT
        if org in sees:
            raise _bad("grantees", "sees it already",
                       f"{name!r} belongs to {org!r}, which sees this case already; share with users of "
                       "another department.")
    return wanted


def _timeline(store: Store, settings: Settings, case_id: str, entry: dict[str, Any]) -> None:
    """The grant's story on the case's own timeline (the audit trail holds the record of it)."""
    def change(case: dict[str, Any]) -> dict[str, Any]:
        return {"timeline": list(case.get("timeline") or []) + [entry], "updated": entry["time"]}

    optimistic_update(store, cases_index(settings), case_id, change, "case")


def _public(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A grant as shown to users: its state, without the covered id list."""
    out = {k: v for k, v in doc.items() if k != "doc_ids"}
    if doc.get("revoked"):
        out["state"] = "revoked"
    elif parse_iso(str(doc["expires"])) <= now:
        out["state"] = "expired"
    else:
        out["state"] = "active"
    return out


@requires("cases.share")
def share_case(store: Store, settings: Settings, auditor: Auditor, case_id: str, *, actor: Actor,
               grantees: list[str], expires: str, reason: str = "", now: datetime | None = None) -> dict[str, Any]:
    """Grant ``grantees`` read access to the case, its alerts and the events they cite until
    ``expires``. Only the owning department (or the district) may."""
    now = now or utcnow()
    until = parse_expires(expires, now)
    why = (reason or "").strip()
    if len(why) > MAX_REASON:
        raise _bad("reason", "too long", f"A reason has at most {MAX_REASON} characters.")
    case = get_case(store, settings, case_id, actor=actor)
    owner = _owner(case)
    if case.get("status") == "merged":
        raise Conflict(f"Case {case_id} was merged into {case.get('merged_into')}; share that case.")
    users = _grantees(store, settings, grantees, actor, owner)
    ids, truncated = covered_ids(store, settings, case)
    for user in users:
        held = held_by(store, settings, user, now)
        if held + len(ids) > MAX_PER_GRANTEE:
            raise Conflict(f"{user!r} already reads {held:,} shared documents; this case adds {len(ids):,} and a "
                           f"user may hold at most {MAX_PER_GRANTEE:,}. Revoke a grant they no longer need first.")
    share_id = "share-" + secrets.token_hex(6)
    doc: dict[str, Any] = {
        "share_id": share_id, "case_id": case["case_id"], "case_title": case.get("title"),
        "organization": {"id": owner}, "grantees": users, "reason": why, "created": iso(now),
        "created_by": actor.name, "expires": iso(until), "revoked": None, "revoked_by": None,
        "expiry_audited": False, "doc_ids": ids, "covered": len(ids), "truncated": truncated,
    }
    store.put(ensure_shares(store, settings), share_id, doc, create=True, refresh=True)
    bump_generation()
    _timeline(store, settings, case["case_id"], {"time": iso(now), "actor": actor.name, "action": "shared",
                                                 "share_id": share_id, "grantees": users, "expires": doc["expires"]})
    auditor.record(for_owner(actor, owner), "case.share.grant", case["case_id"], detail={
        "actor_organization": actor.organization, "share_id": share_id, "grantees": users, "expires": doc["expires"], "owner": owner,
        "documents": len(ids), "truncated": truncated, "reason": why})
    return _public(doc, now)


@requires("cases.read")
def list_shares(store: Store, settings: Settings, case_id: str, *, actor: Actor,
                now: datetime | None = None) -> dict[str, Any]:
    """The case's grants (active, expired and revoked), newest first; visible to the owning
    department and the district only (the store hides the grant documents from others)."""
    now = now or utcnow()
    get_case(store, settings, case_id, actor=actor)
    try:
        resp = store.search(shares_index(settings), {"size": 200, "query": {"term": {"case_id": case_id}},
                                                     "sort": [{"created": "desc"}]})
    except NotFound:
        return {"items": []}
    return {"items": [_public(h["_source"], now) for h in resp["hits"]["hits"]]}


@requires("cases.share")
def revoke_share(store: Store, settings: Settings, auditor: Auditor, case_id: str, share_id: str, *,
                 actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    """End a grant at once; its grantees get 404 on the case from the next request on."""
    now = now or utcnow()
    index = shares_index(settings)
    doc = store.get(index, share_id)
    if doc is None or doc["_source"].get("case_id") != case_id:
        raise NotFound(f"No share {share_id!r} of case {case_id!r}; list them with GET /api/v1/cases/{case_id}/shares.")
    src = doc["_source"]
    owner = _owner({**src, "case_id": case_id})
    if src.get("revoked"):
        raise Conflict(f"Share {share_id} was already revoked at {src['revoked']} by {src.get('revoked_by')}.")
    partial = {"revoked": iso(now), "revoked_by": actor.name}
    try:
        store.update(index, share_id, partial, refresh=True, if_seq_no=doc["_seq_no"],
                     if_primary_term=doc["_primary_term"])
    except Conflict as exc:
        raise Conflict(f"Share {share_id} changed meanwhile; list the shares and try again.") from exc
    bump_generation()
    _timeline(store, settings, case_id, {"time": iso(now), "actor": actor.name, "action": "share_revoked",
                                         "share_id": share_id, "grantees": src.get("grantees")})
    auditor.record(for_owner(actor, owner), "case.share.revoke", case_id, detail={
        "actor_organization": actor.organization, "share_id": share_id, "grantees": src.get("grantees"),
        "owner": owner,
        "was": _public(src, now)["state"]})
    return _public({**src, **partial}, now)


@requires("cases.read")
def shared_with_me(store: Store, settings: Settings, *, actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    """The cases other departments currently share with the caller."""
    now = now or utcnow()
    query = {"bool": {"filter": [{"term": {"grantees": actor.name}}, *active_filter(now)]}}
    # The grants name the owner's department, not the grantee's: read as bookkeeping.
    with scopes.system():
        try:
            resp = store.search(shares_index(settings), {"size": 200, "query": query, "sort": [{"expires": "asc"}],
                                                         "_source": {"excludes": ["doc_ids"]}})
        except NotFound:
            return {"items": []}
    keep = ("share_id", "case_id", "case_title", "organization", "created", "created_by", "expires", "reason",
            "covered")
    items = [{k: h["_source"].get(k) for k in keep} for h in resp["hits"]["hits"]]
    if items:
        # The grantee's department tree does not hold the owner's: its names come along here.
        tree = Departments(settings, store)
        for item in items:
            dept = tree.get(scopes.organization_of(item) or scopes.DISTRICT)
            item["owner"] = ({"id": dept.id, "name_zh": dept.name_zh, "name_en": dept.name_en} if dept else
                             {"id": scopes.organization_of(item), "name_zh": None, "name_en": None})
    return {"items": items}


def audit_expired(settings: Settings, store: Store, auditor: Auditor, now: datetime | None = None) -> int:
    """Record ``case.share.expired`` once for each grant whose time has passed (a scheduled job;
    several processes may run it: each grant is claimed with ``if_seq_no`` first)."""
    now = now or utcnow()
    index = shares_index(settings)
    query = {"bool": {"filter": [{"range": {"expires": {"lte": iso(now)}}}],
                      "must_not": [{"exists": {"field": "revoked"}}, {"term": {"expiry_audited": True}}]}}
    done = 0
    with scopes.system():
        try:
            resp = store.search(index, {"size": 500, "query": query, "sort": [{"expires": "asc"}],
                                        "_source": {"excludes": ["doc_ids"]}, "seq_no_primary_term": True})
        except NotFound:
            return 0
        for hit in resp["hits"]["hits"]:
            src = hit["_source"]
            owner = scopes.organization_of(src) or scopes.DISTRICT
            try:
                store.update(index, hit["_id"], {"expiry_audited": True}, refresh=True,
                             if_seq_no=hit["_seq_no"], if_primary_term=hit["_primary_term"])
            except (Conflict, NotFound):
                continue  # another process claimed it (or it was revoked meanwhile)
            try:
                auditor.record(for_owner(SYSTEM_ACTOR, owner), "case.share.expired", str(src.get("case_id")),
                               detail={"share_id": hit["_id"], "grantees": src.get("grantees"),
                                       "expires": src.get("expires"), "owner": owner})
            except Exception:
                # Not recorded: give the claim back so the next run records it (never lost).
                store.update(index, hit["_id"], {"expiry_audited": False}, refresh=True)
                raise
            done += 1
            try:
                _timeline(store, settings, str(src.get("case_id")), {
                    "time": iso(now), "actor": SYSTEM_ACTOR.name, "action": "share_expired",
                    "share_id": hit["_id"], "grantees": src.get("grantees")})
            except NotFound:
                pass  # the case is gone; the audit record stands
    if done:
        bump_generation()
    return done

