// Rules: level, status, last run, hits, errors; enable/disable; import report; exceptions.
import { del, errorText, get, post } from '../lib/api.js';
import { add, clear, fill, fmtTime, fmtValue, h, markReady, pick } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { askDialog, emptyRow, listItems, sevBadge } from '../lib/ui.js';

const ruleId = (r) => r.id || r.rule_id;

export default async function render(main, _params, ctx) {
  const rows = h('tbody', { 'data-testid': 'rule-rows' });
  const report = h('div', { class: 'card', 'data-testid': 'rules-import-report' });
  const exceptions = h('tbody', { 'data-testid': 'rule-exceptions' });
  const q = h('input', { type: 'search', class: 'grow', placeholder: t('rules.search'), 'data-testid': 'rules-q' });
  const canManage = ctx.can('rules.manage');
  const canExcept = ctx.can('exceptions.manage');
  let rules = [];

  function renderRules() {
    const needle = q.value.trim().toLowerCase();
    const shown = rules.filter((r) => !needle || `${r.title || r.name} ${ruleId(r)} ${(r.tags || []).join(' ')}`.toLowerCase().includes(needle));
    clear(rows);
    if (!shown.length) add(rows, emptyRow(8, t('rules.none')));
    for (const r of shown.slice(0, 500)) {
      const enabled = r.enabled ?? r.status !== 'disabled';
      const toggle = h('button', { type: 'button', 'data-testid': 'rule-toggle', onclick: async () => {
        try { await post(`/rules/${encodeURIComponent(ruleId(r))}/${enabled ? 'disable' : 'enable'}`, {}); await load(); } catch (err) { ctx.flash(errorText(err), 'error'); }
      } }, enabled ? t('rules.disable') : t('rules.enable'));
      const errors = r.errors ?? pick(r, 'health.errors') ?? r.last_error;
      add(rows, h('tr', { 'data-testid': 'rule-row', 'data-rule': ruleId(r) },
        h('td', {}, h('strong', {}, r.title || r.name || ruleId(r)), h('div', { class: 'muted' }, ruleId(r))),
        h('td', {}, sevBadge(r.level)),
        h('td', {}, enabled ? t('rules.enabled') : t('rules.disabled'), r.status && !['enabled', 'disabled'].includes(r.status) ? ` (${r.status})` : ''),
        h('td', {}, fmtTime(r.last_run || pick(r, 'health.last_run'))),
        h('td', { class: 'num' }, r.hits ?? pick(r, 'health.hits') ?? 0),
        h('td', { class: errors ? 'fail' : '' }, fmtValue(errors) || '0'),
        h('td', {}, canManage ? toggle : null)));
    }
  }

  async function loadExceptions() {
    let items = [];
    try { items = listItems(await get('/rules/exceptions')); } catch { /* shown empty */ }
    clear(exceptions);
    if (!items.length) add(exceptions, emptyRow(5));
    for (const x of items) {
      add(exceptions, h('tr', { 'data-testid': 'exception-row' }, h('td', {}, x.rule_id || '*'), h('td', {}, x.field), h('td', {}, fmtValue(x.value ?? x.values)),
        h('td', {}, x.reason || x.comment || ''),
        h('td', {}, canExcept ? h('button', { type: 'button', onclick: async () => {
          try { await del(`/rules/exceptions/${encodeURIComponent(x.id)}`); await loadExceptions(); } catch (err) { ctx.flash(errorText(err), 'error'); }
        } }, t('common.delete')) : null)));
    }
  }

  async function addException() {
    const values = await askDialog(t('rules.addException'), [
      { name: 'rule_id', label: t('rules.exRule') }, { name: 'field', label: t('rules.exField'), required: true },
      { name: 'value', label: t('rules.exValue'), required: true }, { name: 'reason', label: t('rules.exReason'), required: true },
    ], t('common.save'), 'exception-dialog');
    if (!values) return;
    try { await post('/rules/exceptions', { ...values, rule_id: values.rule_id || null }); await loadExceptions(); } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  async function load() {
    try {
      rules = listItems(await get('/rules', { size: 1000 }));
    } catch (err) { fill(rows, emptyRow(7, errorText(err))); markReady('rules'); return; }
    renderRules();
    markReady('rules');
    get('/rules/import-report').then((rep) => {
      const r = rep.report || rep;
      fill(report, h('h2', {}, t('rules.importReport')),
        h('dl', { class: 'kv' }, ['loaded', 'converted', 'skipped', 'failed'].filter((k) => r[k] !== undefined).map((k) => [h('dt', {}, t(`rules.report.${k}`)), h('dd', {}, Array.isArray(r[k]) ? r[k].length : fmtValue(r[k]))])),
        (r.problems || r.errors || r.failures || []).length ? h('details', {}, h('summary', {}, t('rules.problems')), h('ul', {}, (r.problems || r.errors || r.failures).slice(0, 100).map((p) => h('li', {}, typeof p === 'string' ? p : `${p.rule || p.path || p.id || ''}: ${p.error || p.message || p.reason || ''}`)))) : null);
    }).catch(() => { fill(report, h('h2', {}, t('rules.importReport')), h('p', { class: 'muted' }, '—')); });
  }

  q.addEventListener('input', renderRules);
  main.append(h('section', { class: 'page page-rules' },
    h('h1', {}, t('nav.rules')),
    h('div', { class: 'toolbar' }, q),
    h('table', {}, h('thead', {}, h('tr', {}, ['rule', 'level', 'status', 'lastRun', 'hits', 'errors', ''].map((c) => h('th', {}, c ? t(`rules.col.${c}`) : '')))), rows),
    report,
    h('div', { class: 'row' }, h('h2', {}, t('rules.exceptions')), h('span', { class: 'spacer' }), canExcept ? h('button', { type: 'button', onclick: addException, 'data-testid': 'exception-add' }, t('rules.addException')) : null),
    h('table', {}, h('thead', {}, h('tr', {}, ['rule', 'field', 'value', 'reason', ''].map((c) => h('th', {}, c ? t(`rules.exCol.${c}`) : '')))), exceptions)));
  await load();
  await loadExceptions();
}
