"""Rendering the report model: HTML (jinja2), PDF (WeasyPrint on the HTML), JSON and CSV."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from core.csvsafe import write_csv
from core.errors import InvalidInput, Unavailable
from core.i18n import t

FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf", "json": "application/json",
           "csv": "text/csv; charset=utf-8"}
BAND_COLOURS = {"优": "#2e7d32", "良": "#558b2f", "中": "#f9a825", "差": "#c62828"}
RESULT_COLOURS = {"符合": "#43a047", "部分符合": "#fbc02d", "不符合": "#e53935", "不适用": "#9e9e9e", "待人工": "#90caf9"}


@cache
def _env() -> Any:
    import jinja2

    folder = str(resources.files("compliance.reports").joinpath("templates"))
    return jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=jinja2.select_autoescape(["html", "j2"]),
                              trim_blocks=True, lstrip_blocks=True)


def family_chart(families: list[dict[str, Any]]) -> str:
    """Horizontal bars of family scores as inline SVG (no scripts, prints the same in PDF)."""
    row, width, label_w = 22, 560, 130
    height = row * len(families) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + label_w + 50}" height="{height}" role="img">']
    for n, fam in enumerate(families):
        y = 10 + n * row
        score = fam.get("score")
        w = 0 if score is None else width * score / 100
        colour = "#43a047" if (score or 0) >= 90 else "#fbc02d" if (score or 0) >= 70 else "#e53935"
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{_esc(fam["name"])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{width}" height="16" fill="#eeeeee"/>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="16" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + width + 6}" y="{y + 13}" font-size="12">{"—" if score is None else score}</text>')
    parts.append("</svg>")
    return "".join(parts)


def results_chart(counts: dict[str, int], lang: str) -> str:
    """One stacked bar of item results with a legend."""
    total = sum(counts.values()) or 1
    width = 680
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60" role="img">']
    x = 0.0
    for result, colour in RESULT_COLOURS.items():
        n = counts.get(result, 0)
        w = width * n / total
        if w:
            parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="22" fill="{colour}"/>')
        x += w
    lx = 0
    for result, colour in RESULT_COLOURS.items():
        label = result if lang != "en" else t(f"compliance.result.{_key(result)}", "en")
        parts.append(f'<rect x="{lx}" y="34" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 16}" y="45" font-size="12">{_esc(label)} {counts.get(result, 0)}</text>')
        lx += 136
    parts.append("</svg>")
    return "".join(parts)


def _key(result: str) -> str:
    from compliance.models import RESULT_KEYS

    return RESULT_KEYS.get(result, "pending")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_html(model: dict[str, Any]) -> str:
    lang = model["lang"]

    def label(key: str, **params: Any) -> str:
        return t(f"compliance.report.{key}", lang, **params)

    return str(_env().get_template("report.html.j2").render(
        m=model, L=label, lang=lang, band_colour=BAND_COLOURS.get(model["summary"]["band"] or "", "#616161"),
        family_svg=family_chart(model["families"]),
        results_svg=results_chart(model["summary"]["counts_raw"], lang), result_colours=RESULT_COLOURS,
        result_names={r: (r if lang != "en" else t(f"compliance.result.{_key(r)}", "en")) for r in RESULT_COLOURS}))


def render_pdf(model: dict[str, Any]) -> bytes:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise Unavailable(f"PDF output needs WeasyPrint and the pango libraries ({exc}); run scripts/bootstrap.sh, "
                          "or use --format html and print it.") from exc
    return bytes(weasyprint.HTML(string=render_html(model)).write_pdf())


def render_csv(model: dict[str, Any]) -> str:
    rows = []
    for fam in model["families"]:
        for item in fam["items"]:
            for a in item["assets"] or [{"asset": "", "result_label": item["result_label"], "source": "", "detail": ""}]:
                rows.append([fam["name"], item["id"], item["control_point"], item["requirement_zh"], item["method"],
                             item["risk"], a["asset"], a["result_label"], a["source"] or "", a["detail"]])
    # Asset names and details come from hosts and operators: neutralise formula cells.
    return write_csv(["family", "item_id", "control_point", "requirement", "method", "risk", "asset", "result",
                      "source", "detail"], rows)


def render(model: dict[str, Any], fmt: str) -> bytes:
    if fmt == "html":
        return render_html(model).encode("utf-8")
    if fmt == "pdf":
        return render_pdf(model)
    if fmt == "json":
        return json.dumps(model, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    if fmt == "csv":
        return ("\ufeff" + render_csv(model)).encode("utf-8")  # BOM so spreadsheet tools read the Chinese
    raise InvalidInput(f"Unknown report format {fmt!r}; use one of {', '.join(FORMATS)}.")
