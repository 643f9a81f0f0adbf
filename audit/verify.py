"""Verification of the trail: both copies' chains, each copy against the other, and both against
the head sealed outside them (see ``audit.anchor``), which is what catches a shortened or wiped
trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from audit.anchor import HeadAnchor, append_only
from audit.chain import check_chain, record_id
from audit.models import AnchorReport, Head
from core.auditing import Actor
from core.errors import SocError
from core.timeutil import iso


class Trail(Protocol):
    """What verification needs of ``audit.trail.AuditTrail`` (which calls it from ``verify``)."""

    index: str
    mirror_path: Path
    anchor: HeadAnchor
    clock: Callable[[], datetime]

    @property
    def secret(self) -> bytes: ...

    def ensure(self) -> None: ...

    def store_records(self) -> tuple[list[dict[str, Any]], list[str]]: ...

    def mirror_records(self) -> list[dict[str, Any]]: ...

    def purge_anchor(self, records: list[dict[str, Any]]) -> tuple[int, str]: ...

    def record(self, actor: Actor, action: str, target: str, outcome: str = "success",
               detail: dict[str, Any] | None = None) -> None: ...


def _last_seq(records: list[dict[str, Any]]) -> int:
    seqs = [r["seq"] for r in records if isinstance(r.get("seq"), int)]
    return max(seqs) if seqs else 0


def _missing(source: str, last: int, sealed: Head) -> dict[str, Any]:
    first = last + 1
    span = f"record {first} is" if first == sealed.seq else f"records {first}–{sealed.seq} are"
    return {"source": source, "kind": "deleted", "position": first, "seq": first, "record_id": record_id(first),
            "message": f"{span} missing from the {source} copy: last sealed head was {sealed.seq} at {sealed.time}."}


def _against_sealed(source: str, records: list[dict[str, Any]], sealed: Head) -> dict[str, Any] | None:
    last = _last_seq(records)
    if last < sealed.seq:
        return _missing(source, last, sealed)
    at_head = next((r for r in records if r.get("seq") == sealed.seq), None)
    if at_head is not None and at_head.get("hash") != sealed.hash:
        return {"source": source, "kind": "modified", "position": sealed.seq, "seq": sealed.seq,
                "record_id": record_id(sealed.seq),
                "message": f"record seq={sealed.seq} differs from the head sealed at {sealed.time}."}
    return None


def verify_trail(trail: Trail, actor: Actor) -> dict[str, Any]:
    trail.ensure()
    secret = trail.secret
    es_records, es_ids = trail.store_records()
    mirror = trail.mirror_records()
    sealed, anchor_problems = trail.anchor.sealed()
    problems: list[dict[str, Any]] = []

    start_seq, start_hash = trail.purge_anchor(es_records)
    es_problem = check_chain(secret, es_records, es_ids, start_seq=start_seq, start_hash=start_hash)
    mirror_problem = check_chain(secret, mirror)
    if es_problem:
        problems.append(es_problem.to_dict("elasticsearch"))
    if mirror_problem:
        problems.append(mirror_problem.to_dict("mirror"))

    sealed_found: set[str] = set()
    if sealed is not None:
        for source, records in (("elasticsearch", es_records), ("mirror", mirror)):
            found = _against_sealed(source, records, sealed)
            if found:
                problems.append(found)
                sealed_found.add(source)

    es_last = _last_seq(es_records) if es_records else start_seq - 1
    mirror_last = _last_seq(mirror)
    if not es_problem and not mirror_problem and es_last != mirror_last:
        shorter, n = (("elasticsearch", es_last) if es_last < mirror_last else ("mirror", mirror_last))
        if shorter not in sealed_found:
            other = max(es_last, mirror_last)
            problems.append({"source": shorter, "kind": "deleted", "position": n + 1, "seq": n + 1,
                             "record_id": record_id(n + 1),
                             "message": f"records {n + 1}–{other} are missing from the {shorter} copy "
                                        f"(the other copy ends at seq={other})."})
    elif not es_problem and not mirror_problem and es_records and mirror and \
            es_records[-1].get("hash") != mirror[-1].get("hash"):
        problems.append({"source": "mirror", "kind": "modified", "position": len(mirror),
                         "seq": mirror[-1].get("seq"), "record_id": None,
                         "message": "the two copies end in different records."})
    for text in anchor_problems:
        problems.append({"source": "head", "kind": "modified", "position": 0, "seq": None, "record_id": None,
                         "message": text})
    if sealed is None and (es_records or mirror):
        problems.append({"source": "head", "kind": "deleted", "position": 0, "seq": None, "record_id": None,
                         "message": f"no sealed head in {trail.anchor.path} although the trail holds records: "
                                    "the head file was removed or truncated."})

    now = iso(trail.clock())
    seen_last = max(es_last, mirror_last, 0)
    seen_hash = next((str(r.get("hash")) for r in reversed(es_records or mirror) if r.get("seq") == seen_last), "")
    seen = Head(seen_last, seen_hash, now, kind="verify")
    journal = "unavailable"
    try:
        journal = trail.anchor.seal(seen)
    except OSError as exc:
        problems.append({"source": "head", "kind": "unavailable", "position": 0, "seq": None, "record_id": None,
                         "message": f"could not seal the head to {trail.anchor.path}: {exc.strerror}"})
    anchor = AnchorReport(path=str(trail.anchor.path), sealed=sealed, append_only=append_only(trail.anchor.path),
                          journal=journal, problems=tuple(anchor_problems))
    result: dict[str, Any] = {
        "ok": not problems, "records": {"elasticsearch": len(es_records), "mirror": len(mirror)},
        "first_problem": problems[0] if problems else None, "problems": problems, "verified_at": now,
        "head_seen": seen.to_dict(), "anchor": anchor.to_dict(),
        "mirror_append_only": append_only(trail.mirror_path),
    }
    try:
        trail.record(actor, "audit.verify", trail.index, outcome="success" if not problems else "failure",
                     detail={"problems": len(problems), "head_seen": seen.to_dict(),
                             "sealed_head": sealed.to_dict() if sealed else None})
    except SocError as exc:
        # A broken trail may refuse new records; the finding matters more than recording it.
        result["recorded"] = False
        result["record_error"] = exc.message
    return result
