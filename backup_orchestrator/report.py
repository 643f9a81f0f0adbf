"""Drill reports as JSON (the stored document) and as a self-contained HTML page."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, select_autoescape

from core.i18n import t

_TEMPLATE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ tr('backup.report.title') }} {{ d.drill_id }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Noto Sans",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.passed{color:#176b2c;font-weight:bold}.failed{color:#b00020;font-weight:bold}.skipped{color:#777}
</style></head><body>
<h1>{{ tr('backup.report.title') }}: {{ d.plan_id }}</h1>
<p class="{{ d.status }}">{{ tr('backup.status.' ~ d.status) }}
{% if d.failed_check %} — {{ tr('backup.report.failed_check') }}: <code>{{ d.failed_check }}</code>{% endif %}</p>
<table>
<tr><th>{{ tr('backup.report.drill') }}</th><td>{{ d.drill_id }}</td></tr>
<tr><th>{{ tr('backup.report.recovery_point') }}</th><td>{{ d.run_id }} ({{ d.recovery_point_time }}, {{ d.source }})</td></tr>
<tr><th>{{ tr('backup.report.window') }}</th><td>{{ d.started }} → {{ d.ended }}</td></tr>
<tr><th>RPO</th><td>{{ d.rpo_seconds }} s / {{ d.objectives.rpo_seconds }} s</td></tr>
<tr><th>RTO</th><td>{{ d.rto_seconds }} s / {{ d.objectives.rto_seconds }} s
 ({{ tr('backup.report.fetch') }} {{ d.rto.fetch_seconds }} s, {{ tr('backup.report.restore') }}
 {{ d.rto.restore_seconds }} s, {{ tr('backup.report.verify') }} {{ d.rto.verify_seconds }} s)</td></tr>
</table>
<h2>{{ tr('backup.report.checks') }}</h2>
<table><tr><th>{{ tr('backup.report.check') }}</th><th>{{ tr('backup.report.result') }}</th><th>s</th><th></th></tr>
{% for c in d.checks %}<tr><td><code>{{ c.name }}</code></td><td class="{{ c.status }}">{{ tr('backup.status.' ~ c.status) }}</td>
<td>{{ c.seconds }}</td><td>{{ c.detail }}</td></tr>{% endfor %}
</table></body></html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def to_json(drill: dict[str, Any]) -> str:
    return json.dumps(drill, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def to_html(drill: dict[str, Any], lang: str = "zh-CN") -> str:
    data = {"rto": {}, "objectives": {}, "checks": [], **drill}
    return _env.from_string(_TEMPLATE).render(d=data, lang=lang, tr=lambda key: t(key, lang))
