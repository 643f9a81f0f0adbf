// Case detail with timeline, linked alerts, notes, status/assignee/severity.
import { errorText, get, patch, post } from '../lib/api.js';
import { fmtTime, fmtValue, h, markReady, pick } from '../lib/dom.js';
import { t, tv } from '../lib/i18n.js';
import { listItems, sevBadge, statusBadge } from '../lib/ui.js';

export default async function render(main, params, ctx) {
  let data;
  try { data = await get(`/cases/${encodeURIComponent(params.id)}`); } catch (err) {
    main.append(h('section', { class: 'page' }, h('p', { class: 'form-error' }, errorText(err))));
    markReady('case');
    return;
  }
  const c = data.case || data;
  const alerts = listItems({ items: data.alerts || [] });
  const timeline = data.timeline || c.timeline || [];
  const canManage = ctx.can('cases.manage');

  async function update(change) {
    try { await patch(`/cases/${encodeURIComponent(params.id)}`, change); ctx.refresh(); } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  const note = h('textarea', { rows: 2, 'data-testid': 'case-note' });
  const status = h('select', { 'data-testid': 'case-status' }, ['open', 'in_progress', 'closed'].map((s) => h('option', { value: s, selected: s === c.status }, tv('case_status', s))));
  status.addEventListener('change', () => update({ status: status.value }));
  const assignee = h('input', { value: c.assignee || '', 'data-testid': 'case-assignee' });
  assignee.addEventListener('change', () => update({ assignee: assignee.value }));

  main.append(h('section', { class: 'page page-case', 'data-testid': 'case-detail' },
    h('p', {}, h('a', { href: '#/cases' }, `← ${t('nav.cases')}`)),
    h('div', { class: 'row' }, sevBadge(c.severity), h('h1', {}, c.title || params.id), statusBadge(c.status)),
    canManage ? h('div', { class: 'toolbar' }, h('label', {}, t('cases.col.status'), status), h('label', {}, t('cases.col.assignee'), assignee)) : null,
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, t('case.alerts')),
        h('ul', { 'data-testid': 'case-alerts' }, alerts.length ? alerts.map((a) => {
          const id = typeof a === 'string' ? a : (pick(a, 'alert.id') || a.id);
          return h('li', {}, typeof a === 'object' ? sevBadge(pick(a, 'alert.level')) : null, ' ', h('a', { href: `#/alerts/${encodeURIComponent(id)}` }, (typeof a === 'object' && pick(a, 'rule.name')) || id));
        }) : (c.alert_ids || []).map((id) => h('li', {}, h('a', { href: `#/alerts/${encodeURIComponent(id)}` }, id))))),
      h('div', { class: 'card' }, h('h2', {}, t('case.timeline')),
        h('ul', { class: 'timeline', 'data-testid': 'case-timeline' }, timeline.map((e) => h('li', {},
          h('strong', {}, e.by || e.actor || ''), ' ', h('span', { class: 'muted' }, fmtTime(e.at || e.time || e['@timestamp'])), h('br'),
          tv('case_event', e.type || e.action || e.kind), ' ', e.text || e.note || (e.from !== undefined ? `${fmtValue(e.from)} → ${fmtValue(e.to)}` : fmtValue(e.detail || e.alert_ids || '')))))),
        canManage ? h('form', {
          class: 'row',
          onsubmit: async (e) => {
            e.preventDefault();
            if (!note.value.trim()) return;
            try { await post(`/cases/${encodeURIComponent(params.id)}/notes`, { text: note.value.trim() }); ctx.refresh(); } catch (err) { ctx.flash(errorText(err), 'error'); }
          },
        }, note, h('button', { type: 'submit', 'data-testid': 'case-note-submit' }, t('case.addNote'))) : null)));
  markReady('case');
}
