// Cases list, and the cases other departments share with the caller.
import { errorText, get, post } from '../lib/api.js';
import { add, clear, fill, fmtTime, h, markReady } from '../lib/dom.js';
import { lang, t, tv } from '../lib/i18n.js';
import { askDialog, emptyRow, listItems, listTotal, sevBadge, statusBadge } from '../lib/ui.js';

export const caseId = (c) => c.case_id || c.id;

export default async function render(main, params, ctx) {
  const rows = h('tbody', { 'data-testid': 'case-rows' });
  const total = h('span', { class: 'muted' });
  const statusSel = h('select', { 'data-testid': 'cases-status' }, ['', 'open', 'in_progress', 'closed'].map((s) => h('option', { value: s, selected: s === (params.query.status || '') }, s ? tv('case_status', s) : t('alerts.anyStatus'))));

  async function load() {
    try {
      const data = await get('/cases', { status: statusSel.value, size: 100 });
      const items = listItems(data);
      total.textContent = t('cases.total', { n: listTotal(data, items) });
      clear(rows);
      if (!items.length) add(rows, emptyRow(7, t('cases.none')));
      for (const c of items) {
        add(rows, h('tr', { 'data-testid': 'case-row' },
          h('td', {}, h('a', { href: `#/cases/${encodeURIComponent(caseId(c))}` }, c.title || caseId(c))),
          h('td', {}, sevBadge(c.severity)), h('td', {}, statusBadge(c.status)), h('td', {}, c.assignee || ''),
          h('td', { class: 'num' }, (c.alert_ids || c.alerts || []).length), h('td', {}, fmtTime(c.updated || c.created))));
      }
    } catch (err) { fill(rows, emptyRow(6, errorText(err))); }
    markReady('cases');
  }

  async function create() {
    const values = await askDialog(t('cases.new'), [{ name: 'title', label: t('case.title'), required: true }, { name: 'severity', label: t('case.severity'), options: ['medium', 'low', 'high', 'critical'].map((l) => [l, tv('level', l)]) }], t('common.save'), 'new-case');
    if (!values) return;
    try {
      const c = await post('/cases', { title: values.title, severity: values.severity, alert_ids: [] });
      ctx.navigate(`#/cases/${encodeURIComponent(caseId(c.case || c))}`);
    } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  const sharedRows = h('tbody', { 'data-testid': 'shared-rows' });
  async function loadShared() {
    try {
      const items = listItems(await get('/shared-with-me'));
      const deptName = (o) => (o ? (lang() === 'en' ? o.name_en : o.name_zh) || o.id : '');
      clear(sharedRows);
      if (!items.length) add(sharedRows, emptyRow(4, t('shared.none')));
      for (const s of items) {
        add(sharedRows, h('tr', { 'data-testid': 'shared-row' },
          h('td', {}, h('a', { href: `#/cases/${encodeURIComponent(s.case_id)}` }, s.case_title || s.case_id)),
          h('td', {}, deptName(s.owner)), h('td', {}, s.created_by || ''), h('td', {}, fmtTime(s.expires))));
      }
    } catch (err) { fill(sharedRows, emptyRow(4, errorText(err))); }
  }

  statusSel.addEventListener('change', load);
  main.append(h('section', { class: 'page page-cases' },
    h('div', { class: 'row' }, h('h1', {}, t('nav.cases')), total, h('span', { class: 'spacer' }), statusSel,
      ctx.can('cases.manage') ? h('button', { type: 'button', class: 'primary', onclick: create, 'data-testid': 'case-new' }, t('cases.new')) : null),
    h('table', {}, h('thead', {}, h('tr', {}, ['title', 'severity', 'status', 'assignee', 'alerts', 'updated'].map((c) => h('th', {}, t(`cases.col.${c}`))))), rows),
    h('h2', {}, t('shared.heading')),
    h('table', { 'data-testid': 'shared-with-me' }, h('thead', {}, h('tr', {}, ['case', 'owner', 'by', 'expires'].map((c) => h('th', {}, t(`shared.col.${c}`))))), sharedRows)));
  await Promise.all([load(), loadShared()]);
}
