// Audit: searchable trail (user, action, outcome, time range) and a verify button with its result.
import { errorText, get } from '../lib/api.js';
import { add, clear, fill, fmtTime, fmtValue, h, markReady } from '../lib/dom.js';
import { t, tv } from '../lib/i18n.js';
import { emptyRow, listItems, listTotal } from '../lib/ui.js';

const PAGE = 100;

function isoOrEmpty(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export default async function render(main, params, ctx) {
  const filters = { user: '', action: '', outcome: '', ...params.query };
  const rows = h('tbody', { 'data-testid': 'audit-rows' });
  const total = h('span', { class: 'muted', 'data-testid': 'audit-total' });
  const result = h('div', { 'data-testid': 'audit-verify-result' });
  const user = h('input', { value: filters.user, placeholder: t('audit.col.actor'), 'data-testid': 'audit-user' });
  const action = h('input', { value: filters.action, placeholder: t('audit.actionHint'), 'data-testid': 'audit-action' });
  const outcome = h('select', { 'data-testid': 'audit-outcome' }, ['', 'success', 'failure', 'denied'].map((o) => h('option', { value: o, selected: o === filters.outcome }, o ? tv('outcome', o) : t('audit.anyOutcome'))));
  const start = h('input', { type: 'datetime-local', 'aria-label': t('audit.start'), 'data-testid': 'audit-start' });
  const end = h('input', { type: 'datetime-local', 'aria-label': t('audit.end'), 'data-testid': 'audit-end' });
  const pages = [null]; let page = 0; let next = null;
  const prev = h('button', { type: 'button', onclick: () => { if (page > 0) { page -= 1; load(); } } }, t('common.prev'));
  const more = h('button', { type: 'button', onclick: () => { pages[page + 1] = next; page += 1; load(); } }, t('common.next'));

  async function load() {
    try {
      const data = await get('/audit', {
        user: user.value.trim(), action: action.value.trim(), outcome: outcome.value,
        start: isoOrEmpty(start.value), end: isoOrEmpty(end.value), size: PAGE, search_after: pages[page],
      });
      const items = listItems(data);
      next = data.next ?? null;
      total.textContent = t('audit.total', { n: listTotal(data, items) });
      clear(rows);
      if (!items.length) add(rows, emptyRow(9));
      for (const r of items) {
        add(rows, h('tr', { 'data-testid': 'audit-row', 'data-action': r.action },
          h('td', { class: 'num' }, r.seq ?? ''), h('td', { class: 'nowrap' }, fmtTime(r.time || r['@timestamp'])), h('td', { class: 'wrap' }, r.actor || ''), h('td', { class: 'nowrap' }, tv('role', r.role)),
          h('td', { class: 'wrap' }, r.address || ''), h('td', { class: 'wrap' }, r.action || ''), h('td', { class: 'wrap' }, r.target || ''),
          h('td', { class: 'nowrap' }, h('span', { class: r.outcome === 'success' ? 'pass' : 'fail' }, tv('outcome', r.outcome))),
          h('td', { class: 'detail' }, r.detail && Object.keys(r.detail).length
            ? h('details', {}, h('summary', {}, h('code', {}, fmtValue(r.detail).slice(0, 60))), h('pre', {}, JSON.stringify(r.detail, null, 2))) : '')));
      }
      prev.disabled = page === 0; more.disabled = next === null || next === undefined;
    } catch (err) {
      fill(rows, emptyRow(9, errorText(err)));
    }
    markReady('audit');
  }

  async function verify(button) {
    button.disabled = true;
    fill(result, h('span', { class: 'muted' }, t('audit.verifying')));
    try {
      const v = await get('/audit/verify');
      const counts = v.records || {};
      const problem = v.first_problem;
      fill(result, h('div', { class: `notice ${v.ok ? 'pass' : 'fail'}`, 'data-ok': String(Boolean(v.ok)), 'data-testid': 'audit-verify-outcome' },
        v.ok ? t('audit.verifyOk', { es: counts.elasticsearch ?? '?', mirror: counts.mirror ?? '?' }) : t('audit.verifyBroken'),
        problem ? h('div', { 'data-testid': 'audit-first-problem' }, `[${problem.source}] ${problem.kind} #${problem.seq ?? problem.position}: ${problem.message}`) : null,
        h('div', { class: 'muted' }, t('audit.verifiedAt', { at: fmtTime(v.verified_at) }))));
      page = 0; load();
    } catch (err) {
      fill(result, h('div', { class: 'form-error' }, errorText(err)));
    } finally {
      button.disabled = false;
    }
  }

  const verifyBtn = h('button', { type: 'button', class: 'primary', 'data-testid': 'audit-verify' }, t('audit.verify'));
  verifyBtn.addEventListener('click', () => verify(verifyBtn));
  for (const el of [user, action]) el.addEventListener('keydown', (e) => { if (e.key === 'Enter') { page = 0; load(); } });
  for (const el of [outcome, start, end]) el.addEventListener('change', () => { page = 0; load(); });
  main.append(h('section', { class: 'page page-audit' },
    h('div', { class: 'row' }, h('h1', {}, t('nav.audit')), total, h('span', { class: 'spacer' }), ctx.can('audit.verify') ? verifyBtn : null),
    result,
    h('div', { class: 'toolbar' }, user, action, outcome, h('label', { class: 'inline' }, t('audit.start'), start), h('label', { class: 'inline' }, t('audit.end'), end),
      h('button', { type: 'button', 'data-testid': 'audit-search', onclick: () => { page = 0; load(); } }, t('common.search'))),
    h('table', { class: 'audit-table', 'data-testid': 'audit-table' }, h('thead', {}, h('tr', {}, ['seq', 'time', 'actor', 'role', 'address', 'action', 'target', 'outcome', 'detail'].map((c) => h('th', {}, t(`audit.col.${c}`))))), rows),
    h('div', { class: 'pager' }, prev, more)));
  await load();
}
