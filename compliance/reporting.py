"""Report downloads: build the model of one run and render it in the requested format."""

from __future__ import annotations

from typing import Any

from compliance.reports import data as report_data
from compliance.reports import render
from compliance.service import load_definitions
from compliance.store import ComplianceIndices
from compliance.systems import department_names
from core.auditing import Actor
from core.errors import InvalidInput, NotFound
from core.es import Store
from core.permissions import requires
from core.scope import DISTRICT
from core.settings import Settings


def report_model(store: Store, settings: Settings, run_id: str, lang: str) -> dict[str, Any]:
    if lang not in ("zh-CN", "en"):
        raise InvalidInput("lang must be zh-CN or en.")
    idx = ComplianceIndices(store, settings)
    run = idx.get_run(run_id)
    if run.get("status") != "finished":
        raise InvalidInput(f"Run {run_id} is {run.get('status')}; reports are made from finished runs.")
    cats, checks = load_definitions(settings)
    cat = cats.get(run["catalog"])
    if cat is None:
        raise NotFound(f"The catalog {run['catalog']} of run {run_id} is no longer installed.")
    docs = idx.results_of(run_id)
    previous = None
    previous_items: list[dict[str, Any]] = []
    if run.get("previous_run"):
        try:
            previous = idx.get_run(run["previous_run"])
            previous_items = idx.results_of(previous["id"], "item")
        except NotFound:
            previous = None
    org = (run.get("organization") or {}).get("id") or DISTRICT
    return report_data.build(run, cat, checks, [d for d in docs if d["kind"] == "item"],
                             [d for d in docs if d["kind"] == "check"], [d for d in docs if d["kind"] == "manual"],
                             previous, previous_items, lang, department_names(store, settings).get(org))


@requires("compliance.read")
def build_report(store: Store, settings: Settings, actor: Actor, run_id: str, fmt: str = "html",
                 lang: str | None = None) -> tuple[bytes, str, str]:
    """``(content, media type, file name)`` of the report of one run."""
    if fmt not in render.FORMATS:
        raise InvalidInput(f"Unknown report format {fmt!r}; use one of {', '.join(render.FORMATS)}.")
    model = report_model(store, settings, run_id, lang or settings.language)
    system = f"{model['system']['id']}-" if model.get("system") else ""
    return render.render(model, fmt), render.FORMATS[fmt], f"compliance-{system}{run_id}.{fmt}"
