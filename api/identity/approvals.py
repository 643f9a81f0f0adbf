"""Dual control over audit-role accounts, and alerts on privileged account changes.

An administrator's change to an auditor account (create, role change to or from auditor, reset,
disable, re-enable) is stored as a pending request in ``<prefix>-user-requests``; it takes effect
only when an auditor other than the target approves it. Every change to an auditor or admin
account raises a high platform alert routed to the auditors.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from api.identity.records import IdentityStore
from core.alerting import build_alert, raise_alert
from core.auditing import Actor, Auditor
from core.errors import Conflict, NotFound, PermissionDenied
from core.scope import DISTRICT, organization_of, system
from core.timeutil import iso

PRIVILEGED_ROLES = ("admin", "auditor")


class PrivilegedAlerts:
    def __init__(self, records: IdentityStore) -> None:
        self.records = records

    def raise_for(self, actor: Actor, action: str, username: str, role: str, detail: dict[str, Any],
                  organization: str = DISTRICT) -> None:
        # The account's department: its auditors (and the district's) see the alert.
        alert_id, doc = build_alert(
            rule_id="platform.privileged-account-change", rule_name="Privileged account changed", level="high",
            reason=f"{actor.name} ({actor.role}) {action} on the {role} account {username!r}: {detail}",
            key=uuid.uuid4().hex, source="identity", tags=["identity", "separation-of-duties"],
            entities={"user": {"name": username}}, audience=("auditor",), organization=organization)
        raise_alert(self.records.store, self.records.settings.index_prefix, alert_id, doc)


class UserRequests:
    """Pending changes to audit-role accounts, decided once (optimistic concurrency)."""

    def __init__(self, records: IdentityStore, auditor: Auditor) -> None:
        self.records = records
        self.auditor = auditor

    @property
    def _index(self) -> str:
        return self.records.requests_index

    def submit(self, actor: Actor, action: str, username: str, changes: dict[str, Any],
               organization: str = DISTRICT) -> dict[str, Any]:
        """``organization``: the target account's department, whose auditors (or the district's) decide."""
        self.records.ensure_indices()
        request_id = uuid.uuid4().hex[:16]
        request: dict[str, Any] = {"id": request_id, "action": action, "target": username, "changes": changes,
                   "requested_by": actor.name, "requested_role": actor.role, "created": iso(self.records.now()),
                   "status": "pending", "decided_by": None, "decided": None, "organization": {"id": organization}}
        self.records.store.put(self._index, request_id, request, create=True, refresh="wait_for")
        self.auditor.record(actor, "users.request", username, outcome="pending",
                            detail={"request_id": request["id"], "action": action, **changes})
        return {"request_id": request["id"], "status": "pending", "action": action, "username": username,
                "message": f"Changes to the audit-role account {username!r} need an auditor's approval: "
                           f"request {request['id']} is pending (GET /api/v1/users/requests)."}

    def list(self, status: str | None = "pending") -> list[dict[str, Any]]:
        self.records.ensure_indices()
        self.records.store.refresh(self._index)
        query: dict[str, Any] = {"term": {"status": status}} if status else {"match_all": {}}
        resp = self.records.store.search(self._index, {"size": 500, "query": query,
                                                       "sort": [{"created": "desc"}]})
        return [h["_source"] for h in resp["hits"]["hits"]]

    def decide(self, request_id: str, actor: Actor, approve: bool,
               allowed: Callable[[str], bool] = lambda _org: True) -> dict[str, Any]:
        """Mark the request decided (exactly once) and return it. ``allowed(department)``: whether
        the deciding auditor's scope holds the request's department (403 otherwise)."""
        self.records.ensure_indices()
        with system():
            doc = self.records.store.get(self._index, request_id)
        if doc is None:
            raise NotFound(f"No request {request_id!r}; list pending ones with GET /api/v1/users/requests.")
        request = doc["_source"]
        department = organization_of(request) or DISTRICT
        if not allowed(department):
            raise PermissionDenied(f"Request {request_id} concerns an account of department {department!r}: an "
                                   "auditor of that department or of the district decides it.")
        if request["status"] != "pending":
            raise Conflict(f"Request {request_id} was already {request['status']} by {request['decided_by']}.")
        if approve and request["target"] == actor.name:
            raise PermissionDenied("Another auditor must approve a change to your own account.")
        decided = {**request, "status": "approved" if approve else "rejected", "decided_by": actor.name,
                   "decided": iso(self.records.now())}
        self.records.store.put(self._index, request_id, decided, if_seq_no=int(doc["_seq_no"]),
                               if_primary_term=int(doc["_primary_term"]), refresh="wait_for")
        return decided
