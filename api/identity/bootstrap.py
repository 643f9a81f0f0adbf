"""First start: the initial administrator, and the demo users (demo mode only).

The demo passwords are published, so outside demo mode an account still holding one is
disabled at start-up (and refused at login in any case: ``service.IdentityService.login``).
"""

from __future__ import annotations

from dataclasses import replace

from api.identity.models import User
from api.identity.passwords import generate_password, hash_password, verify_password
from api.identity.records import (
    DEMO_DEPARTMENT_USERS,
    DEMO_USERS,
    INITIAL_ADMIN,
    IdentityStore,
    demo_password,
)
from core.auditing import Actor, Auditor
from core.errors import Conflict, PermissionDenied
from core.timeutil import iso


def ensure_initial_admin(records: IdentityStore, auditor: Auditor, username: str = INITIAL_ADMIN) -> str | None:
    """Create the first administrator with a generated password (to be changed at first login);
    returns that password, or None when the user already exists."""
    if records.load(username) is not None:
        return None
    password = generate_password()
    now = iso(records.now())
    user = User(username=username, role="admin", password_hash=hash_password(password),
                must_change_password=True, created=now, password_changed=now)
    try:
        records.save(user, create=True)
    except Conflict:
        return None
    auditor.record(Actor.system("bootstrap"), "users.create", username, detail={"role": "admin"})
    return password


def ensure_demo_users(records: IdentityStore, auditor: Auditor) -> dict[str, str]:
    """Demo mode only: ``analyst``, ``auditor``, ``sysadmin`` (district) with known passwords, and
    ``jw-analyst`` (教委) and ``wj-auditor`` (卫健委) when those departments are seeded (``soc up``)."""
    if not records.settings.demo:
        raise PermissionDenied("Demo users exist only in demo mode (SOC_DEMO=true).")
    created: dict[str, str] = {}
    seeded = {seed.id for seed in records.settings.org.departments}
    accounts = [(name, role, "district", password) for name, (role, password) in DEMO_USERS.items()]
    accounts += [(name, role, dept, password) for name, (role, dept, password) in DEMO_DEPARTMENT_USERS.items()
                 if dept in seeded]
    for username, role, organization, password in accounts:
        created[username] = password
        if records.load(username) is not None:
            continue
        now = iso(records.now())
        user = User(username=username, role=role, password_hash=hash_password(password), created=now,
                    password_changed=now, organization=organization)
        try:
            records.save(user, create=True)
            auditor.record(Actor.system("demo"), "users.create", username,
                           detail={"role": role, "organization": organization})
        except Conflict:
            pass
    return created


def retire_demo_users(records: IdentityStore, auditor: Auditor) -> list[str]:
    """Outside demo mode: disable every demo account still holding its published password."""
    if records.settings.demo:
        return []
    retired: list[str] = []
    for username in [*DEMO_USERS, *DEMO_DEPARTMENT_USERS]:
        password = demo_password(username)
        found = records.load(username)
        if found is None or found[0].disabled or not verify_password(found[0].password_hash, password or ""):
            continue
        user, seq, term = found
        try:
            records.save(replace(user, disabled=True, session_generation=user.session_generation + 1), seq, term)
        except Conflict:
            continue
        auditor.record(Actor.system("bootstrap"), "users.update", username,
                       detail={"disabled": True, "reason": "published demo password outside demo mode"})
        retired.append(username)
    return retired
