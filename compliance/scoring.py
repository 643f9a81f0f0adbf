"""Scoring in the MLPS 2.0 测评 convention, as a versioned, replaceable component.

``mlps-2.0-estimate/1``: an item scores 1 (符合), 0.5 (部分符合) or 0 (不符合); 不适用 and
待人工 items are left out. Items are weighted by the risk their failure carries (high 1.0,
medium 0.5, low 0.2, after the 关键/重要/一般 weights of the assessment report template). A
control point scores the weighted mean of its items, a family the mean of its control points,
the whole the weighted mean of all assessed items, on a 0-100 scale. Each failed item adds a
risk at its level (a partly met item one level lower). Conclusion: 优 (no high or medium risk,
score >= 90), 良 (no high risk, >= 80), 中 (no high risk, >= 70), otherwise 差.

It is an estimate to guide remediation; only an accredited assessor's 测评 gives the conclusion.
"""

from __future__ import annotations

from typing import Any, Protocol

from compliance.models import COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, PARTIAL, PENDING, Catalog
from core.errors import InvalidInput

DEFAULT_SCORER = "mlps-2.0-estimate/1"


class Scorer(Protocol):
    version: str

    def score(self, catalog: Catalog, results: dict[str, str]) -> dict[str, Any]: ...


class MlpsEstimateV1:
    version = DEFAULT_SCORER
    WEIGHTS = {"high": 1.0, "medium": 0.5, "low": 0.2}
    VALUES = {COMPLIANT: 1.0, PARTIAL: 0.5, NON_COMPLIANT: 0.0}
    LOWER = {"high": "medium", "medium": "low", "low": "low"}

    def score(self, catalog: Catalog, results: dict[str, str]) -> dict[str, Any]:
        risks = {"high": 0, "medium": 0, "low": 0}
        families: dict[str, Any] = {}
        total_w = total_s = 0.0
        counts = {r: 0 for r in (COMPLIANT, PARTIAL, NON_COMPLIANT, NOT_APPLICABLE, PENDING)}
        for fam in catalog.families:
            cps: dict[str, list[tuple[float, float]]] = {}
            fcounts = {r: 0 for r in counts}
            frisks = {"high": 0, "medium": 0, "low": 0}
            for item in (i for i in catalog.items if i.family == fam.code):
                result = results.get(item.id, PENDING)
                fcounts[result] = fcounts.get(result, 0) + 1
                if result not in self.VALUES:
                    continue
                weight = self.WEIGHTS[item.risk]
                cps.setdefault(item.control_point.zh, []).append((weight, self.VALUES[result]))
                total_w += weight
                total_s += weight * self.VALUES[result]
                if result == NON_COMPLIANT:
                    frisks[item.risk] += 1
                elif result == PARTIAL:
                    frisks[self.LOWER[item.risk]] += 1
            cp_scores = [sum(w * v for w, v in rows) / sum(w for w, _ in rows) for rows in cps.values()]
            families[fam.code] = {
                "score": round(100 * sum(cp_scores) / len(cp_scores), 1) if cp_scores else None,
                "counts": fcounts, "risks": frisks,
                "assessed": sum(fcounts[r] for r in self.VALUES),
                "items": sum(fcounts.values()),
            }
            for k in risks:
                risks[k] += frisks[k]
            for k in counts:
                counts[k] += fcounts[k]
        overall = round(100 * total_s / total_w, 1) if total_w else None
        applicable = len(catalog.items) - counts[NOT_APPLICABLE]
        assessed = counts[COMPLIANT] + counts[PARTIAL] + counts[NON_COMPLIANT]
        return {
            "scorer": self.version, "overall": overall, "band": self.band(overall, risks), "risks": risks,
            "counts": counts, "families": families,
            "coverage": round(assessed / applicable, 3) if applicable else 0.0,
            "pending": counts[PENDING], "estimate": True,
        }

    @staticmethod
    def band(overall: float | None, risks: dict[str, int]) -> str:
        if overall is None:
            return "—"
        if risks["high"] == 0 and risks["medium"] == 0 and overall >= 90:
            return "优"
        if risks["high"] == 0 and overall >= 80:
            return "良"
        if risks["high"] == 0 and overall >= 70:
            return "中"
        return "差"


SCORERS: dict[str, Scorer] = {DEFAULT_SCORER: MlpsEstimateV1()}


def get_scorer(version: str | None = None) -> Scorer:
    key = version or DEFAULT_SCORER
    if key not in SCORERS:
        raise InvalidInput(f"Unknown scorer {key!r}; available: {', '.join(SCORERS)}.")
    return SCORERS[key]
