// Rules: level, status, last run, hits, errors; enable/disable; import report; per-rule exceptions.
import { del, errorText, get, post } from '../lib/api.js';
import { add, fill, fmtTime, fmtValue, h, markReady, pick } from '../lib/dom.js';
import { t, tv } from '../lib/i18n.js';
import { askDialog, emptyRow, listItems, sevBadge } from '../lib/ui.js';

const ruleId = (r) => r.id || r.rule_id;
const enc = encodeURIComponent;
const OPS = ['equals', 'contains', 'startswith', 'endswith', 'cidr', 'regex'];

export default async function render(main, _params, ctx) {
  const rows = h('tbody', { 'data-testid': 'rule-rows' });
  const report = h('div', { class: 'card', 'data-testid': 'rules-import-report' });
  const q = h('input', { type: 'search', class: 'grow', placeholder: t('rules.search'), 'data-testid': 'rules-q' });
  const enabledSel = h('select', { 'data-testid': 'rules-enabled' }, ['', 'true', 'false'].map((v) => h('option', { value: v }, v === '' ? t('rules.anyState') : v === 'true' ? t('rules.enabled') : t('rules.disabled'))));
  const canManage = ctx.can('rules.manage');
  const canExcept = ctx.can('exceptions.manage');
  let rules = [];
  let open = null;

  async function toggle(rule, button) {
    button.disabled = true;
    const enabled = Boolean(rule.enabled);
    try {
      await post(`/rules/${enc(ruleId(rule))}/${enabled ? 'disable' : 'enable'}`, {});
      rule.enabled = !enabled;
      renderRules();
    } catch (err) { ctx.flash(errorText(err), 'error'); button.disabled = false; }
  }

  async function exceptionsRow(rule) {
    const body = h('div', { class: 'card', 'data-testid': 'rule-exceptions' }, h('span', { class: 'muted' }, '…'));
    const tr = h('tr', { class: 'exceptions-row' }, h('td', { colspan: 8 }, body));
    (async () => {
      let data;
      try { data = await get(`/rules/${enc(ruleId(rule))}/exceptions`); } catch (err) { fill(body, h('div', { class: 'form-error' }, errorText(err))); return; }
      const items = data.exceptions || listItems(data);
      const addBtn = canExcept ? h('button', { type: 'button', 'data-testid': 'exception-add', onclick: async () => {
        const values = await askDialog(t('rules.addException'), [
          { name: 'field', label: t('rules.exField'), required: true },
          { name: 'op', label: t('rules.exOp'), options: OPS.map((o) => [o, o]) },
          { name: 'values', label: t('rules.exValue'), required: true },
          { name: 'comment', label: t('rules.exReason'), required: true },
        ], t('common.save'), 'exception-dialog');
        if (!values) return;
        try {
          await post(`/rules/${enc(ruleId(rule))}/exceptions`, { field: values.field, op: values.op, values: values.values.split(',').map((v) => v.trim()).filter(Boolean), comment: values.comment });
          fill(tr.firstChild, await exceptionsRow(rule).then((r) => r.firstChild.firstChild));
        } catch (err) { ctx.flash(errorText(err), 'error'); }
      } }, t('rules.addException')) : null;
      fill(body, h('div', { class: 'row' }, h('h3', {}, t('rules.exceptions')), h('span', { class: 'spacer' }), addBtn),
        items.length ? h('table', {}, h('thead', {}, h('tr', {}, ['field', 'op', 'value', 'reason', 'by', ''].map((c) => h('th', {}, c ? t(`rules.exCol.${c}`) : '')))),
          h('tbody', {}, items.map((x) => h('tr', { 'data-testid': 'exception-row' }, h('td', {}, x.field), h('td', {}, x.op), h('td', {}, fmtValue(x.values ?? x.value)),
            h('td', {}, x.comment || ''), h('td', {}, `${x.created_by || ''} ${fmtTime(x.created)}`),
            h('td', {}, canExcept ? h('button', { type: 'button', onclick: async () => {
              try { await del(`/rules/${enc(ruleId(rule))}/exceptions/${enc(x.id)}`); fill(tr.firstChild, await exceptionsRow(rule).then((r) => r.firstChild.firstChild)); } catch (err) { ctx.flash(errorText(err), 'error'); }
            } }, t('common.delete')) : null)))))
          : h('p', { class: 'muted' }, t('rules.noExceptions')));
    })();
    return tr;
  }

  async function renderRules() {
    const needle = q.value.trim().toLowerCase();
    const wanted = enabledSel.value;
    const shown = rules.filter((r) => (!needle || `${r.title} ${ruleId(r)} ${(r.techniques || []).join(' ')}`.toLowerCase().includes(needle))
      && (wanted === '' || String(Boolean(r.enabled)) === wanted));
    fill(rows);
    if (!shown.length) add(rows, emptyRow(8, t('rules.none')));
    for (const r of shown.slice(0, 500)) {
      const stats = r.stats || {};
      const toggleBtn = h('button', { type: 'button', 'data-testid': 'rule-toggle' }, r.enabled ? t('rules.disable') : t('rules.enable'));
      toggleBtn.addEventListener('click', (e) => { e.stopPropagation(); toggle(r, toggleBtn); });
      const tr = h('tr', { 'data-testid': 'rule-row', 'data-rule': ruleId(r), 'data-enabled': String(Boolean(r.enabled)), class: 'clickable',
        onclick: async () => {
          const next = tr.nextSibling;
          if (next && next.classList && next.classList.contains('exceptions-row')) { next.remove(); open = null; return; }
          open = ruleId(r);
          tr.after(await exceptionsRow(r));
        } },
      h('td', {}, h('strong', {}, r.title || ruleId(r)), h('div', { class: 'muted' }, ruleId(r), r.techniques && r.techniques.length ? ` · ${r.techniques.join(', ')}` : '')),
      h('td', {}, sevBadge(r.level)),
      h('td', {}, h('span', { class: r.enabled ? 'pass' : 'muted' }, r.enabled ? t('rules.enabled') : t('rules.disabled')), h('div', { class: 'muted' }, tv('rules.sigmaStatus', r.status))),
      h('td', {}, fmtTime(stats.last_run) || '—', stats.last_duration_ms !== undefined ? h('div', { class: 'muted' }, `${stats.last_duration_ms} ms`) : null),
      h('td', { class: 'num' }, stats.last_hits ?? 0, h('div', { class: 'muted' }, t('rules.totalAlerts', { n: stats.total_alerts ?? 0 }))),
      h('td', { class: stats.errors ? 'fail' : '' }, String(stats.errors ?? 0), stats.last_error ? h('div', { class: 'muted' }, stats.last_error) : null),
      h('td', { class: 'num' }, pick(r, 'exceptions_version') ? String(r.exceptions_version) : ''),
      h('td', {}, canManage ? toggleBtn : null));
      add(rows, tr);
      if (open === ruleId(r)) tr.after(await exceptionsRow(r));
    }
  }

  function renderReport(rep) {
    const r = rep.report || rep;
    const summary = r.summary || r;
    const entries = (r.entries || []).filter((e) => e.status !== 'loaded');
    fill(report, h('h2', {}, t('rules.importReport')),
      h('dl', { class: 'kv' }, ['total', 'loaded', 'rejected'].filter((k) => summary[k] !== undefined).map((k) => [h('dt', {}, t(`rules.report.${k}`)), h('dd', {}, fmtValue(summary[k]))])),
      summary.rejected_by_reason ? h('p', { class: 'muted' }, Object.entries(summary.rejected_by_reason).map(([k, v]) => `${k}: ${v}`).join(' · ')) : null,
      entries.length ? h('details', {}, h('summary', {}, t('rules.problems')), h('ul', {}, entries.slice(0, 200).map((e) => h('li', {}, `${e.title || e.rule_id || e.source}: ${e.reason || e.category || ''}`)))) : null);
  }

  async function load() {
    try {
      rules = listItems(await get('/rules', { limit: 10000 }));
    } catch (err) { fill(rows, emptyRow(8, errorText(err))); markReady('rules'); return; }
    await renderRules();
    markReady('rules');
    get('/rules/import-report').then(renderReport).catch(() => fill(report, h('h2', {}, t('rules.importReport')), h('p', { class: 'muted' }, t('rules.noReport'))));
  }

  q.addEventListener('input', renderRules);
  enabledSel.addEventListener('change', renderRules);
  main.append(h('section', { class: 'page page-rules' },
    h('h1', {}, t('nav.rules')),
    h('div', { class: 'toolbar' }, q, enabledSel),
    h('p', { class: 'muted' }, t('rules.clickForExceptions')),
    h('table', {}, h('thead', {}, h('tr', {}, ['rule', 'level', 'status', 'lastRun', 'hits', 'errors', 'exceptions', ''].map((c) => h('th', {}, c ? t(`rules.col.${c}`) : '')))), rows),
    report));
  await load();
}
