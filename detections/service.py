"""Detection operations users trigger (CLI and API call these; one function per action)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from core.auditing import Actor, Auditor
from core.errors import InvalidInput, NotFound
from core.es import Store
from core.ids import stable_id
from core.permissions import requires
from core.schema import events_template
from core.timeutil import iso, utcnow
from detections import exceptions as exc_mod
from detections import packs
from detections import repository as repo
from detections.loader import load_paths, load_sources, parse_duration
from detections.models import CompiledRule, LintReport
from detections.retro import HuntRule, run_rules

OWN_RULES_DIR = Path(__file__).resolve().parent / "rules"
MAX_TEST_EVENTS = 100_000


def lint(paths: Sequence[str | Path]) -> LintReport:
    """Parse and compile without Elasticsearch (no permission needed: reads local files only)."""
    return load_paths(paths)


@requires("rules.manage")
def import_rules(store: Store, prefix: str, paths: Sequence[str | Path], *, actor: Actor, auditor: Auditor,
                 enabled: bool = True, validate: bool = True, label: str | None = None) -> dict[str, Any]:
    """Load, lint, validate against Elasticsearch and store rules; returns the lint report.
    ``label`` names the import in the audit trail and the kept report (default: the paths)."""
    report = load_paths(paths)
    rules = list(report.rules)
    entries = list(report.entries)
    if validate and rules:
        rules, rejected = repo.validate_queries(store, prefix, rules)
        bad = {e.rule_id for e in rejected}
        entries = [e for e in entries if not (e.status == "loaded" and e.rule_id in bad)] + rejected
    counts = repo.save_rules(store, prefix, rules, enabled=enabled) if rules else {"created": 0, "updated": 0,
                                                                                   "unchanged": 0}
    final = LintReport(tuple(entries), tuple(rules))
    summary = final.summary() | {"stored": counts}
    sources = [label] if label else [str(p) for p in paths]
    auditor.record(actor, "rules.import", ",".join(sources), detail=summary)
    result: dict[str, Any] = {"summary": summary, "entries": [e.to_dict() for e in final.entries]}
    _keep_import_report(store, prefix, sources, actor, result)
    return result


_REPORTS_MAPPING = {"dynamic": False, "properties": {"@timestamp": {"type": "date"}, "actor": {"type": "keyword"}}}
_MAX_KEPT_ENTRIES = 5000


def _keep_import_report(store: Store, prefix: str, sources: list[str], actor: Actor,
                        report: dict[str, Any]) -> None:
    """The last lint reports stay readable for the console (``soc rules import`` prints them)."""
    index = f"{prefix}-rules-imports"
    store.ensure_index(index, mappings=_REPORTS_MAPPING)
    entries = report["entries"]
    store.put(index, None, {"@timestamp": iso(utcnow()), "actor": actor.name, "sources": sources,
                            "summary": report["summary"], "entries": entries[:_MAX_KEPT_ENTRIES],
                            "entries_truncated": max(0, len(entries) - _MAX_KEPT_ENTRIES)}, refresh="wait_for")


@requires("rules.read")
def last_import_report(store: Store, prefix: str, *, actor: Actor) -> dict[str, Any]:
    """The newest stored lint report, or ``{"report": None}`` when nothing was imported yet."""
    hits = store.search(f"{prefix}-rules-imports", {"size": 1, "sort": [{"@timestamp": "desc"}],
                                                    "query": {"match_all": {}}})["hits"]["hits"]
    return {"report": hits[0]["_source"] if hits else None}


@requires("rules.read")
def list_rules(store: Store, prefix: str, *, actor: Actor, enabled: bool | None = None,
               level: str | None = None, text: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    fields = ["id", "title", "level", "status", "enabled", "techniques", "tactics", "logsource", "kind",
              "revision", "exceptions_version", "stats", "suppression", "source"]
    docs = repo.list_rule_docs(store, prefix, source_fields=fields)
    out = []
    for d in docs:
        if enabled is not None and bool(d.get("enabled")) != enabled:
            continue
        if level and d.get("level") != level:
            continue
        if text and text.lower() not in (d.get("title", "") + " " + d.get("id", "")).lower():
            continue
        out.append(d)
    out.sort(key=lambda d: (d.get("title") or "").lower())
    return [_with_checkpoint(d, live) for d in out[:max(1, min(limit, 10000))]] if (
        live := repo.checkpoints(store, prefix)) else out[:max(1, min(limit, 10000))]


def _with_checkpoint(doc: dict[str, Any], live: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Stats as of the last run: quiet runs move only the checkpoint (see ``runner``)."""
    cp = live.get(doc.get("id", ""))
    if not cp:
        return doc
    stats = dict(doc.get("stats") or {})
    for key, src in (("last_run", "last_run"), ("window_end", "checkpoint"), ("status", "status"),
                     ("failures", "failures"), ("next_retry", "next_retry")):
        if src in cp:
            stats[key] = cp[src]
    for key, value in (cp.get("totals") or {}).items():
        stats[key] = value
    return {**doc, "stats": stats}


@requires("rules.read")
def get_rule(store: Store, prefix: str, rule_id: str, *, actor: Actor) -> dict[str, Any]:
    return repo.get_rule_doc(store, prefix, rule_id)["_source"]


def _update_rule(store: Store, prefix: str, rule_id: str, change: dict[str, Any]) -> dict[str, Any]:
    found = repo.get_rule_doc(store, prefix, rule_id)
    change = {**change, "updated": iso(utcnow())}
    store.update(repo.rules_index(prefix), rule_id, change, refresh="wait_for", if_seq_no=found["_seq_no"],
                 if_primary_term=found["_primary_term"])
    return {**found["_source"], **change}


@requires("rules.manage")
def set_enabled(store: Store, prefix: str, rule_ids: Sequence[str], enabled: bool, *, actor: Actor,
                auditor: Auditor) -> list[dict[str, Any]]:
    """Enable/disable rules; reports per rule (one unknown id doesn't stop the others)."""
    results = []
    for rid in rule_ids:
        try:
            _update_rule(store, prefix, rid, {"enabled": enabled})
            results.append({"id": rid, "ok": True})
            auditor.record(actor, "rules.enable" if enabled else "rules.disable", rid)
        except NotFound as exc:
            results.append({"id": rid, "ok": False, "error": exc.message})
    return results


@requires("rules.manage")
def set_suppression(store: Store, prefix: str, rule_id: str, fields: Sequence[str], window: str | int | None, *,
                    actor: Actor, auditor: Auditor) -> dict[str, Any]:
    value = None
    if fields:
        seconds = parse_duration(window or "5m")
        if seconds <= 0:
            raise InvalidInput("The suppression window must be positive (e.g. 10m).")
        value = {"fields": list(fields), "window_seconds": seconds}
    doc = _update_rule(store, prefix, rule_id, {"suppression": value})
    auditor.record(actor, "rules.suppression", rule_id, detail={"suppression": value})
    return doc


@requires("exceptions.manage")
def add_exception(store: Store, prefix: str, rule_id: str, field: str, op: str, values: Sequence[str], *,
                  actor: Actor, auditor: Auditor, comment: str = "") -> dict[str, Any]:
    exc_mod.validate(field, op, list(values))
    found = repo.get_rule_doc(store, prefix, rule_id)
    src = found["_source"]
    entry = {"id": stable_id("exception", rule_id, field, op, list(values))[:12], "field": field, "op": op,
             "values": list(values), "comment": comment[:500], "created_by": actor.name, "created": iso(utcnow())}
    current = [e for e in src.get("exceptions") or [] if e.get("id") != entry["id"]] + [entry]
    version = int(src.get("exceptions_version") or 0) + 1
    store.update(repo.rules_index(prefix), rule_id, {"exceptions": current, "exceptions_version": version},
                 refresh="wait_for", if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"])
    auditor.record(actor, "rules.exception.add", rule_id, detail={"exception": entry, "version": version})
    return {"rule_id": rule_id, "exception": entry, "exceptions_version": version}


@requires("exceptions.manage")
def remove_exception(store: Store, prefix: str, rule_id: str, exception_id: str, *, actor: Actor,
                     auditor: Auditor) -> dict[str, Any]:
    found = repo.get_rule_doc(store, prefix, rule_id)
    src = found["_source"]
    current = src.get("exceptions") or []
    remaining = [e for e in current if e.get("id") != exception_id]
    if len(remaining) == len(current):
        raise NotFound(f"Rule {rule_id} has no exception {exception_id}; list them with "
                       f"`soc rules exceptions list {rule_id}`.")
    version = int(src.get("exceptions_version") or 0) + 1
    store.update(repo.rules_index(prefix), rule_id, {"exceptions": remaining, "exceptions_version": version},
                 refresh="wait_for", if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"])
    auditor.record(actor, "rules.exception.remove", rule_id, detail={"exception_id": exception_id,
                                                                       "version": version})
    return {"rule_id": rule_id, "removed": exception_id, "exceptions_version": version}


@requires("rules.read")
def list_exceptions(store: Store, prefix: str, rule_id: str, *, actor: Actor) -> dict[str, Any]:
    src = repo.get_rule_doc(store, prefix, rule_id)["_source"]
    return {"rule_id": rule_id, "exceptions": src.get("exceptions") or [],
            "exceptions_version": int(src.get("exceptions_version") or 0)}


def _resolve_rule(store: Store, prefix: str, rule_ref: str) -> tuple[CompiledRule, list[dict[str, Any]]]:
    path = Path(rule_ref)
    if path.exists():
        report = load_paths([path])
        if not report.rules:
            reasons = "; ".join(f"{e.reason}" for e in report.entries if e.status == "rejected")
            raise InvalidInput(f"{rule_ref}: no rule could be loaded ({reasons or 'empty file'}).")
        return report.rules[0], []
    doc = repo.get_rule_doc(store, prefix, rule_ref)["_source"]
    return repo.from_doc(doc), list(doc.get("exceptions") or [])


@requires("rules.read")
def test_rule(store: Store, prefix: str, rule_ref: str, events: Iterable[tuple[str, dict[str, Any]]], *,
              actor: Actor, max_matches: int = 1000) -> dict[str, Any]:
    """Run one rule (a Sigma file or a loaded rule id) over sample events in a scratch index."""
    rule, exceptions = _resolve_rule(store, prefix, rule_ref)
    if rule.query is None:
        raise InvalidInput("Correlation rules can't be tested on their own; test the rules they refer to.")
    scratch = f"{prefix}-events-scratch-{stable_id('scratch', rule.id, iso(utcnow()))[:12]}"
    template = events_template(prefix)["template"]
    store.ensure_index(scratch, mappings=template["mappings"], settings=template["settings"])
    try:
        count = load_scratch(store, scratch, events)
        body: dict[str, Any] = {"query": {"bool": {"filter": [rule.query],
                                                   "must_not": exc_mod.compile_all(exceptions)}},
                                "size": max_matches, "track_total_hits": True,
                                "sort": [{"@timestamp": {"order": "asc", "unmapped_type": "date"}}]}
        resp = store.search(scratch, body)
    finally:
        store.delete_indices(scratch)
    return {"rule": {"id": rule.id, "title": rule.title, "level": rule.level}, "events": count,
            "match_count": int(resp["hits"]["total"]["value"]),
            "matches": [h["_source"] for h in resp["hits"]["hits"]]}


def load_scratch(store: Store, index: str, events: Iterable[tuple[str, dict[str, Any]]]) -> int:
    now = iso(utcnow())
    batch: list[tuple[str, str, dict[str, Any]]] = []
    count = 0
    for event_id, doc in events:
        doc = dict(doc)
        doc["event"] = {**(doc.get("event") or {}), "ingested": now}
        batch.append((index, event_id, doc))
        count += 1
        if count > MAX_TEST_EVENTS:
            raise InvalidInput(f"At most {MAX_TEST_EVENTS} sample events per test; split the input.")
        if len(batch) >= 2000:
            store.bulk_create(batch)
            batch = []
    if batch:
        store.bulk_create(batch)
    store.refresh(index)
    return count


@requires("rules.read")
def rules_for_hunt(store: Store, prefix: str, rule_paths: Sequence[str | Path] | None, *,
                   actor: Actor) -> tuple[list[HuntRule], dict[str, Any]]:
    """The rules a retro-hunt runs: those in ``rule_paths`` (linted here, not stored), or else the
    enabled loaded rules with their exceptions. Returns them with a summary of where they came from."""
    if rule_paths:
        report = load_paths(rule_paths)
        if not report.rules:
            reasons = "; ".join(sorted({f"{e.category}" for e in report.entries if e.status == "rejected"}))
            raise InvalidInput(f"No rule could be loaded from {', '.join(map(str, rule_paths))}"
                               f"{f' ({reasons})' if reasons else ''}. Check them with `soc rules lint PATH`.")
        rules = [HuntRule(r) for r in report.rules if r.generate]
        return rules, {"source": "files", "paths": [str(p) for p in rule_paths], **report.summary()}
    docs = repo.list_rule_docs(store, prefix, enabled_only=True)
    if not docs:
        raise InvalidInput("No rules are loaded: import some with `soc rules import DIR`, or give --rules PATH.")
    rules = [HuntRule(repo.from_doc(d), tuple(d.get("exceptions") or ())) for d in docs if d.get("generate", True)]
    return rules, {"source": "loaded", "enabled": len(rules)}


@requires("rules.read")
def hunt_events(store: Store, prefix: str, rules: Sequence[HuntRule], event_ids: Sequence[str], *, actor: Actor,
                progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run ``rules`` over exactly the events ``event_ids`` (an import); hits per rule and level."""
    return run_rules(store, prefix, rules, event_ids, progress=progress).to_dict()


def import_own_rules(store: Store, prefix: str, *, actor: Actor, auditor: Auditor) -> dict[str, Any]:
    """The project's own rules (``detections/rules``): what ``soc up`` loads by default."""
    return import_rules(store, prefix, [OWN_RULES_DIR], actor=actor, auditor=auditor)


def import_pack(store: Store, prefix: str, name: str, *, sigmahq_dir: Path | None, actor: Actor,
                auditor: Auditor, enabled: bool = True) -> dict[str, Any]:
    """A named rule pack (``detections/packs``): the platform's own rules and the SigmaHQ rules it
    selects from a SigmaHQ checkout. Without a checkout only the own rules load, and the report says so."""
    pack = packs.load(name)
    paths: list[str | Path] = [OWN_RULES_DIR] if pack.own else []
    missing_sigmahq = bool(pack.dirs) and sigmahq_dir is None
    if pack.dirs and sigmahq_dir is not None:
        paths.extend(packs.sigmahq_files(pack, sigmahq_dir))
    result = import_rules(store, prefix, paths, actor=actor, auditor=auditor, enabled=enabled,
                          label=f"pack:{pack.name}" + (f" sigmahq:{sigmahq_dir}" if sigmahq_dir else ""))
    result["pack"] = {"name": pack.name, "description": pack.description, "sigmahq_dir": str(sigmahq_dir or ""),
                      "sigmahq_missing": missing_sigmahq}
    return result


__all__ = ["import_own_rules", "import_pack", "import_rules", "lint", "list_rules", "load_sources", "test_rule"]
