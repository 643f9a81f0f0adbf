"""The district roll-up: every graded system's latest score and open high risks, per department.

One row per registered system (the store's department scope decides which rows a caller gets):
its latest finished run's time, score, 测评 band and the high risks it left open (failed
high-importance items, as the scorer counts them), and one summary per department.
"""

from __future__ import annotations

from typing import Any

from compliance.reports.data import band_label
from compliance.store import ComplianceIndices
from compliance.systems import SystemIndex, department_names
from core.auditing import Actor
from core.errors import InvalidInput
from core.es import Store
from core.permissions import requires
from core.scope import DISTRICT, organization_of
from core.settings import Settings

# Worst first: a department's summary shows the worst band among its assessed systems.
BAND_ORDER = ("差", "中", "良", "优")


def _row(system: dict[str, Any], run: dict[str, Any] | None, names: dict[str, dict[str, str]],
         lang: str) -> dict[str, Any]:
    org = organization_of(system) or DISTRICT
    side = "en" if lang == "en" else "zh"
    score = (run or {}).get("score") or {}
    band = (run or {}).get("band")
    return {
        "organization": {"id": org, "name": names.get(org, {}).get(side) or org},
        "system": {"id": system["id"], "name": (system.get("name") or {}).get(side) or system["id"],
                   "names": system.get("name") or {}, "level": system.get("level")},
        "hosts": len(system.get("hosts") or []),
        "run": None if run is None else {"id": run.get("id"), "catalog": run.get("catalog"), "level": run.get("level"),
                                         "started_at": run.get("started_at"), "finished_at": run.get("finished_at")},
        "latest_run_at": (run or {}).get("finished_at") or (run or {}).get("started_at"),
        "score": (run or {}).get("overall"),
        "band": band, "band_label": band_label(band, lang),
        "high_risks": int((score.get("risks") or {}).get("high", 0)) if run else None,
        "medium_risks": int((score.get("risks") or {}).get("medium", 0)) if run else None,
        "pending": score.get("pending") if run else None,
        # The grading changed after the latest run: its score was measured against the other catalog.
        "level_changed": run is not None and run.get("level") != system.get("level"),
    }


def _summaries(rows: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["organization"]["id"], []).append(row)
    out = []
    for members in groups.values():
        assessed = [r for r in members if r["run"] is not None]
        scores = [float(r["score"]) for r in assessed if r["score"] is not None]
        bands = [r["band"] for r in assessed if r["band"] in BAND_ORDER]
        worst = min(bands, key=BAND_ORDER.index) if bands else None
        out.append({
            "organization": members[0]["organization"],
            "systems": len(members),
            "levels": {str(level): sum(1 for r in members if r["system"]["level"] == level) for level in (2, 3)},
            "assessed": len(assessed), "never_assessed": len(members) - len(assessed),
            "average_score": round(sum(scores) / len(scores), 1) if scores else None,
            "lowest_score": min(scores) if scores else None,
            "worst_band": worst, "worst_band_label": band_label(worst, lang),
            "bands": {b: bands.count(b) for b in BAND_ORDER if b in bands},
            "high_risks": sum(r["high_risks"] or 0 for r in assessed),
            "systems_with_high_risks": sum(1 for r in assessed if r["high_risks"]),
        })
    return sorted(out, key=lambda s: (s["organization"]["id"] != DISTRICT, s["organization"]["id"]))


@requires("compliance.read")
def rollup(store: Store, settings: Settings, actor: Actor, *, lang: str | None = None) -> dict[str, Any]:
    """Rows of every graded system the caller may see, and a summary per department."""
    lang = lang or settings.language
    if lang not in ("zh-CN", "en"):
        raise InvalidInput("lang must be zh-CN or en.")
    systems = SystemIndex(store, settings).all()
    latest = ComplianceIndices(store, settings).latest_by_system([s["id"] for s in systems])
    names = department_names(store, settings)
    rows = [_row(s, latest.get(s["id"]), names, lang) for s in systems]
    rows.sort(key=lambda r: (r["organization"]["id"] != DISTRICT, r["organization"]["id"], r["system"]["id"]))
    departments = _summaries(rows, lang)
    return {
        "lang": lang, "rows": rows, "departments": departments,
        "total": {"systems": len(rows), "assessed": sum(d["assessed"] for d in departments),
                  "high_risks": sum(d["high_risks"] for d in departments),
                  "departments": len(departments)},
    }
