"""One-shot forensic hunt over EVTX files (``soc hunt evtx``), composed here because it spans two
domains: the collectors import the files, the detections run the rules over exactly those events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from collectors import service as collect
from core.auditing import Actor, Auditor
from core.es import Store
from core.schema import events_pattern
from core.settings import Settings
from detections import service as detect

# progress(phase, n, total): phase "import" counts events read (no total), "rules" rule groups done.
PhaseProgress = Callable[[str, int, int | None], None]


def hunt_evtx(settings: Settings, store: Store, paths: Sequence[Path], *, actor: Actor, auditor: Auditor | None,
              rule_paths: Sequence[Path] | None = None, progress: PhaseProgress | None = None,
              organization: str | None = None) -> dict[str, Any]:
    """Import EVTX files (directories recursively) and run the loaded rules, or those in
    ``rule_paths``, over the events of these files only. Bad paths and rule files are refused
    before anything is imported. ``organization`` (``--org``) is the imported events' department."""
    prefix = settings.index_prefix
    files = collect.evtx_files(paths)
    rules, rules_source = detect.rules_for_hunt(store, prefix, list(rule_paths or ()), actor=actor)
    ids: list[str] = []
    summary = collect.import_evtx(settings, store, files, actor=actor, auditor=auditor, ids=ids,
                                  organization=organization,
                                  progress=(lambda n: progress("import", n, None)) if progress else None)
    store.refresh(events_pattern(prefix))
    total = sum(1 for r in rules if r.rule.query is not None)
    if progress:
        progress("rules", 0, total)
    result = detect.hunt_events(store, prefix, rules, ids, actor=actor,
                                progress=(lambda n: progress("rules", n, total)) if progress else None)
    if auditor is not None:
        auditor.record(actor, "hunt.evtx", ", ".join(summary.files)[:1000],
                       "success" if summary.complete and not result["errors"] else "failure",
                       {"events": result["events"], "rules_run": result["rules_run"],
                        "rules_matched": result["rules_matched"], "hits": result["hits_total"],
                        "rules_in_error": len(result["errors"])})
    return {"import": summary.to_dict(), "rules": rules_source, **result}
