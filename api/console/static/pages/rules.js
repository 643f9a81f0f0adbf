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
      const res = await post('/rules/enabled', { ids: [ruleId(rule)], enabled: !enabled });
      const failed = (res.results || []).filter((r) => !r.ok);
      if (failed.length) throw new Error(failed[0].error);
      rule.enabled = !enabled;
      renderRules();
      renderInventory();
    } catch (err) { ctx.flash(errorText(err), 'error'); button.disabled = false; }
  }

  function exceptionsRow(rule) {
    const body = h('div', { class: 'card', 'data-testid': 'rule-exceptions' }, h('span', { class: 'muted' }, '…'));
    const tr = h('tr', { class: 'exceptions-row' }, h('td', { colspan: 9 }, body));
    const path = `/rules/${enc(ruleId(rule))}/exceptions`;
    async function change(fn) {
      try { await fn(); } catch (err) { ctx.flash(errorText(err), 'error'); }
      await reload();
    }
    async function addException() {
      const values = await askDialog(t('rules.addException'), [
        { name: 'field', label: t('rules.exField'), required: true },
        { name: 'op', label: t('rules.exOp'), options: OPS.map((o) => [o, o]) },
        { name: 'values', label: t('rules.exValue'), required: true },
        { name: 'comment', label: t('rules.exReason'), required: true },
      ], t('common.save'), 'exception-dialog');
      if (!values) return;
      await change(() => post(path, { field: values.field, op: values.op, values: values.values.split(',').map((v) => v.trim()).filter(Boolean), comment: values.comment }));
    }
    async function reload() {
      let data;
      try { data = await get(path); } catch (err) { fill(body, h('div', { class: 'form-error' }, errorText(err))); return; }
      const items = data.exceptions || listItems(data);
      fill(body, h('div', { class: 'row' }, h('h3', {}, t('rules.exceptions')), h('span', { class: 'spacer' }),
        canExcept ? h('button', { type: 'button', 'data-testid': 'exception-add', onclick: addException }, t('rules.addException')) : null),
      items.length ? h('table', {}, h('thead', {}, h('tr', {}, ['field', 'op', 'value', 'reason', 'by', ''].map((c) => h('th', {}, c ? t(`rules.exCol.${c}`) : '')))),
        h('tbody', {}, items.map((x) => h('tr', { 'data-testid': 'exception-row' }, h('td', {}, x.field), h('td', {}, x.op), h('td', {}, fmtValue(x.values ?? x.value)),
          h('td', {}, x.comment || ''), h('td', {}, `${x.created_by || ''} ${fmtTime(x.created)}`),
          h('td', {}, canExcept ? h('button', { type: 'button', 'data-testid': 'exception-delete', onclick: () => change(() => del(`${path}/${enc(x.id)}`)) }, t('common.delete')) : null)))))
        : h('p', { class: 'muted' }, t('rules.noExceptions')));
    }
    reload();
    return tr;
  }

  // Run status: ok / failing (with failures, next retry, last error) / not run yet, plus any
  // skipped window and the events raised as grouped alerts past the per-run limit.
  function runCell(stats) {
    const status = stats.status || (stats.last_run ? 'ok' : 'never_run');
    const notes = [];
    if (status === 'failing') notes.push(t('rules.run.retry', { n: stats.failures ?? 0, when: fmtTime(stats.next_retry) || '—' }));
    if (stats.gap_seconds) notes.push(t('rules.run.gap', { n: stats.gap_seconds }));
    if (stats.grouped) notes.push(t('rules.run.grouped', { n: stats.grouped }));
    return h('td', { 'data-testid': 'rule-run-status', 'data-status': status },
      h('span', { class: status === 'failing' ? 'fail' : status === 'ok' ? 'pass' : 'muted' }, t(`rules.run.${status}`)),
      ...notes.map((n) => h('div', { class: 'muted' }, n)));
  }

  function renderRules() {
    const needle = q.value.trim().toLowerCase();
    const wanted = enabledSel.value;
    const shown = rules.filter((r) => (!needle || `${r.title} ${ruleId(r)} ${(r.techniques || []).join(' ')}`.toLowerCase().includes(needle))
      && (wanted === '' || String(Boolean(r.enabled)) === wanted));
    fill(rows);
    if (!shown.length) add(rows, emptyRow(9, t('rules.none')));
    for (const r of shown.slice(0, 500)) {
      const stats = r.stats || {};
      const toggleBtn = h('button', { type: 'button', 'data-testid': 'rule-toggle' }, r.enabled ? t('rules.disable') : t('rules.enable'));
      toggleBtn.addEventListener('click', (e) => { e.stopPropagation(); toggle(r, toggleBtn); });
      const tr = h('tr', { 'data-testid': 'rule-row', 'data-rule': ruleId(r), 'data-enabled': String(Boolean(r.enabled)), class: 'clickable',
        onclick: async () => {
          const next = tr.nextSibling;
          if (next && next.classList && next.classList.contains('exceptions-row')) { next.remove(); open = null; return; }
          open = ruleId(r);
          tr.after(exceptionsRow(r));
        } },
      h('td', {}, h('strong', {}, r.title || ruleId(r)), h('div', { class: 'muted' }, ruleId(r), r.techniques && r.techniques.length ? ` · ${r.techniques.join(', ')}` : '')),
      h('td', {}, sevBadge(r.level)),
      h('td', {}, h('span', { class: r.enabled ? 'pass' : 'muted' }, r.enabled ? t('rules.enabled') : t('rules.disabled')), h('div', { class: 'muted' }, tv('rules.sigmaStatus', r.status))),
      h('td', {}, fmtTime(stats.last_run) || '—', stats.last_duration_ms !== undefined ? h('div', { class: 'muted' }, `${stats.last_duration_ms} ms`) : null),
      runCell(stats),
      h('td', { class: 'num' }, stats.last_hits ?? 0, h('div', { class: 'muted' }, t('rules.totalAlerts', { n: stats.total_alerts ?? 0 }))),
      h('td', { class: stats.errors ? 'fail' : '' }, String(stats.errors ?? 0), stats.last_error ? h('div', { class: 'muted' }, stats.last_error) : null),
      h('td', { class: 'num' }, pick(r, 'exceptions_version') ? String(r.exceptions_version) : ''),
      h('td', {}, canManage ? toggleBtn : null));
      add(rows, tr);
      if (open === ruleId(r)) tr.after(exceptionsRow(r));
    }
  }

  // The last import's lint report (every rule loaded or rejected with its reason), then what is
  // stored: counts by level, Sigma status and state.
  function renderImport(last) {
    if (!last) return h('p', { class: 'muted', 'data-testid': 'rules-import-none' }, t('rules.report.none'));
    const s = last.summary || {};
    const rejected = (last.entries || []).filter((e) => e.status !== 'loaded');
    const reasons = Object.entries(s.rejected_by_reason || {}).map(([k, n]) => `${k} ${n}`).join(' · ');
    return h('div', { 'data-testid': 'rules-import-last' },
      h('dl', { class: 'kv' },
        h('dt', {}, t('rules.report.when')), h('dd', {}, fmtTime(last['@timestamp']), ' · ', last.actor || ''),
        h('dt', {}, t('rules.report.loaded')), h('dd', {}, String(s.loaded ?? 0)),
        h('dt', {}, t('rules.report.rejected')), h('dd', {}, `${s.rejected ?? 0}${reasons ? ` (${reasons})` : ''}`)),
      rejected.length ? h('table', { 'data-testid': 'rules-import-rejected' },
        h('thead', {}, h('tr', {}, h('th', {}, t('rules.col.rule')), h('th', {}, t('rules.report.reason')))),
        h('tbody', {}, rejected.slice(0, 200).map((e) => h('tr', {},
          h('td', {}, e.title || e.source || e.rule_id || ''), h('td', {}, `${e.category || ''}: ${e.reason || ''}`))))) : null);
  }

  function renderInventory(last) {
    const count = (key) => rules.reduce((acc, r) => { const v = typeof key === 'function' ? key(r) : r[key]; acc[v] = (acc[v] || 0) + 1; return acc; }, {});
    const line = (label, counts, fmt = (v) => v) => [h('dt', {}, label), h('dd', {}, Object.entries(counts).map(([k, n]) => `${fmt(k)} ${n}`).join(' · '))];
    fill(report, h('h2', {}, t('rules.importReport')), renderImport(last),
      h('dl', { class: 'kv', 'data-testid': 'rules-inventory' },
        line(t('rules.report.total'), { [t('rules.report.stored')]: rules.length }),
        line(t('rules.col.level'), count('level'), (v) => tv('level', v)),
        line(t('rules.col.status'), count('status'), (v) => tv('rules.sigmaStatus', v)),
        line(t('rules.report.state'), count((r) => (r.enabled ? 'on' : 'off')), (v) => (v === 'on' ? t('rules.enabled') : t('rules.disabled'))),
        line(t('rules.report.errors'), { [t('rules.report.withErrors')]: rules.filter((r) => (r.stats || {}).errors).length })),
      h('p', { class: 'muted' }, t('rules.reportNote')));
  }

  async function load() {
    try {
      rules = listItems(await get('/rules', { limit: 10000 }));
    } catch (err) { fill(rows, emptyRow(9, errorText(err))); markReady('rules'); return; }
    renderRules();
    let last = null;
    try { last = (await get('/rules/import-report')).report; } catch (_err) { last = null; }
    renderInventory(last);
    markReady('rules');
  }

  q.addEventListener('input', renderRules);
  enabledSel.addEventListener('change', renderRules);
  main.append(h('section', { class: 'page page-rules' },
    h('h1', {}, t('nav.rules')),
    h('div', { class: 'toolbar' }, q, enabledSel),
    h('p', { class: 'muted' }, t('rules.clickForExceptions')),
    h('table', {}, h('thead', {}, h('tr', {}, ['rule', 'level', 'status', 'lastRun', 'run', 'hits', 'errors', 'exceptions', ''].map((c) => h('th', {}, c ? t(`rules.col.${c}`) : '')))), rows),
    report));
  await load();
}
