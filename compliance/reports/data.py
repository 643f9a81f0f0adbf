"""The report model: one plain dictionary every format (HTML, PDF, JSON, CSV) is rendered from."""

from __future__ import annotations

from typing import Any

from compliance import engine
from compliance.models import (
    COMPLIANT,
    NON_COMPLIANT,
    PARTIAL,
    PENDING,
    RESULT_KEYS,
    Catalog,
    Check,
    ItemResult,
)
from core.i18n import t

RISK_ORDER = {"high": 0, "medium": 1, "low": 2}
# The checks whose evidence makes the PIPL (个人信息保护法) / GB/T 35273 view: where personal
# information is processed, under which policy, who unmasked what.
PRIVACY_CHECKS = ("plat-pii-minimised", "plat-pii-access")


BAND_KEYS = {"优": "excellent", "良": "good", "中": "fair", "差": "poor"}


def band_label(band: str | None, lang: str) -> str | None:
    """The 测评 band as the report's language says it (优/良/中/差 in Chinese)."""
    if band is None or lang != "en" or band not in BAND_KEYS:
        return band
    return t(f"compliance.band.{BAND_KEYS[band]}", "en")


def result_label(result: str, lang: str) -> str:
    return result if lang != "en" else t(f"compliance.result.{RESULT_KEYS.get(result, 'pending')}", "en")


def owner(run: dict[str, Any], department: dict[str, str] | None, lang: str) -> dict[str, Any]:
    """The graded system a run assessed and the department it belongs to, as the report names them."""
    org = (run.get("organization") or {}).get("id") or "district"
    dept = department or {}
    system = run.get("system")
    return {
        "organization": {"id": org, "name": dept.get("en" if lang == "en" else "zh") or org},
        "system": None if not system else {
            "id": system.get("id"), "level": system.get("level"),
            "name": (system.get("name") or {}).get("en" if lang == "en" else "zh") or system.get("id")},
    }


def build(run: dict[str, Any], cat: Catalog, checks: dict[str, Check], item_docs: list[dict[str, Any]],
          check_docs: list[dict[str, Any]], manual_docs: list[dict[str, Any]], previous: dict[str, Any] | None,
          previous_items: list[dict[str, Any]], lang: str, department: dict[str, str] | None = None) -> dict[str, Any]:
    score = run.get("score") or {}
    rows = [ItemResult(d["item_id"], d["asset"], d["result"], d.get("source", "check")) for d in item_docs]
    overall = engine.overall_by_item(cat, rows)
    by_item: dict[str, list[dict[str, Any]]] = {}
    for d in item_docs:
        by_item.setdefault(d["item_id"], []).append(d)
    failed_checks: dict[str, list[str]] = {}
    for c in check_docs:
        if c["result"] == NON_COMPLIANT:
            failed_checks.setdefault(c["check_id"], []).append(c["asset"])
    families = []
    failed: list[dict[str, Any]] = []
    for fam in cat.families:
        fscore = (score.get("families") or {}).get(fam.code, {})
        items = []
        for item in (i for i in cat.items if i.family == fam.code):
            docs = sorted(by_item.get(item.id, []), key=lambda d: d["asset"])
            result = overall.get(item.id, PENDING)
            entry = {
                "id": item.id, "control_point": item.control_point.get(lang),
                "requirement": item.requirement if lang != "en" else item.summary,
                "requirement_zh": item.requirement, "summary": item.summary, "method": item.method,
                "risk": item.risk, "result": result, "result_label": result_label(result, lang),
                "assets": [{"asset": d["asset"], "result": d["result"], "result_label": result_label(d["result"], lang),
                            "source": d.get("source"), "detail": d.get("detail", ""), "assessor": d.get("assessor")}
                           for d in docs],
            }
            items.append(entry)
            if result in (NON_COMPLIANT, PARTIAL):
                check_ids = sorted({c for d in docs for c in d.get("checks") or [] if c in failed_checks})
                remediation = [{"check": cid, "title": checks[cid].title.get(lang), "assets": failed_checks[cid],
                                "advice": checks[cid].remediation.get(lang)} for cid in check_ids if cid in checks]
                failed.append({**entry, "family": fam.name.get(lang), "remediation": remediation,
                               "risk_if_partial": result == PARTIAL})
        families.append({"code": fam.code, "name": fam.name.get(lang), "name_zh": fam.name.zh, "category": fam.category,
                         "score": fscore.get("score"), "counts": fscore.get("counts", {}), "risks": fscore.get("risks", {}),
                         "items": items})
    failed.sort(key=lambda f: (RISK_ORDER[str(f["risk"])], str(f["id"])))
    evidence = []
    for c in sorted(check_docs, key=lambda d: (d["check_id"], d["asset"])):
        check = checks.get(c["check_id"])
        evidence.append({"ref": f"{c['check_id']} @ {c['asset']}", "title": check.title.get(lang) if check else c["check_id"],
                         "result": c["result"], "result_label": result_label(c["result"], lang),
                         "detail": c.get("detail", ""), "items": c.get("checks") or [], "evidence": c.get("evidence") or []})
    for m in sorted(manual_docs, key=lambda d: (d["item_id"], d.get("assessed_at") or "")):
        evidence.append({"ref": f"{m['item_id']} @ {m['asset']} ({m.get('assessor')})", "title": t("compliance.report.manual", lang),
                         "result": m["result"], "result_label": result_label(m["result"], lang),
                         "detail": m.get("note") or m.get("detail", ""), "items": [m["item_id"]],
                         "evidence": m.get("evidence") or []})
    changes = []
    prev_overall: dict[str, str] = {}
    if previous is not None:
        prev_rows = [ItemResult(d["item_id"], d["asset"], d["result"], d.get("source", "check")) for d in previous_items]
        prev_overall = engine.overall_by_item(cat, prev_rows) if prev_rows else {}
        for item in cat.items:
            before, after = prev_overall.get(item.id, PENDING), overall.get(item.id, PENDING)
            if before != after:
                changes.append({"id": item.id, "control_point": item.control_point.get(lang),
                                "before": result_label(before, lang), "after": result_label(after, lang),
                                "better": _rank(after) > _rank(before)})
    privacy = [e for e in evidence if e["ref"].split(" @ ")[0] in PRIVACY_CHECKS]
    prev_score = (previous or {}).get("overall")
    return {
        "lang": lang,
        **owner(run, department, lang),
        "run": {k: run.get(k) for k in ("id", "catalog", "level", "targets", "started_at", "finished_at", "actor",
                                        "errors", "status")},
        "catalog": {"id": cat.id, "title": cat.title.get(lang), "framework": cat.framework, "level": cat.level},
        "summary": {"overall": score.get("overall"), "band": score.get("band"),
                    "band_label": band_label(score.get("band"), lang), "risks": score.get("risks", {}),
                    "counts": {result_label(k, lang): v for k, v in (score.get("counts") or {}).items()},
                    "counts_raw": score.get("counts") or {}, "coverage": score.get("coverage"),
                    "pending": score.get("pending"), "scorer": score.get("scorer"),
                    "items": len(cat.items)},
        "families": families, "failed": failed, "evidence": evidence, "privacy": privacy,
        "changes": {"previous_run": (previous or {}).get("id"), "previous_score": prev_score,
                    "score_delta": round(score["overall"] - prev_score, 1)
                    if previous and prev_score is not None and score.get("overall") is not None else None,
                    "items": changes},
    }


def _rank(result: str) -> int:
    return {NON_COMPLIANT: 0, PARTIAL: 1, COMPLIANT: 2}.get(result, -1)
