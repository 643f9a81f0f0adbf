// Case detail with timeline, linked alerts, notes, status/assignee/severity.
import { errorText, get, patch, post } from '../lib/api.js';
import { fmtTime, fmtValue, h, markReady, pick } from '../lib/dom.js';
import { t, tv } from '../lib/i18n.js';
import { listItems, sevBadge, statusBadge } from '../lib/ui.js';

const SEVERITIES = ['low', 'medium', 'high', 'critical'];

export default async function render(main, params, ctx) {
  let c; let alerts = [];
  try {
    const [data, linked] = await Promise.all([
      get(`/cases/${encodeURIComponent(params.id)}`),
      get('/alerts', { case_id: params.id, size: 100 }).catch(() => ({ items: [] })),
    ]);
    c = data.case || data;
    alerts = listItems(linked);
  } catch (err) {
    main.append(h('section', { class: 'page' }, h('p', { class: 'form-error' }, errorText(err))));
    markReady('case');
    return;
  }
  const id = c.case_id || params.id;
  const notes = Object.fromEntries((c.notes || []).map((n) => [n.id, n]));
  const canManage = ctx.can('cases.manage') && c.status !== 'merged';

  async function update(change) {
    try { await patch(`/cases/${encodeURIComponent(id)}`, change); ctx.refresh(); } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  function describe(e) {
    if (e.action === 'note') { const n = notes[e.note_id]; return n ? n.text : ''; }
    if (e.from !== undefined || e.to !== undefined) {
      const show = (v) => (e.action === 'status' ? tv('case_status', v) : e.action === 'severity' ? tv('level', v) : fmtValue(v)) || '∅';
      return `${show(e.from)} → ${show(e.to)}`;
    }
    if (e.case_id) return e.case_id;
    if (e.alerts) return t('case.alertCount', { n: e.alerts.length });
    return '';
  }

  // The case's own events and its alerts' histories, in one timeline.
  const timeline = [...(c.timeline || []), ...(c.alert_timeline || [])].sort((a, b) => String(a.time || '').localeCompare(String(b.time || '')));
  const note = h('textarea', { rows: 2, 'data-testid': 'case-note' });
  const status = h('select', { 'data-testid': 'case-status' }, ['open', 'in_progress', 'closed'].map((s) => h('option', { value: s, selected: s === c.status }, tv('case_status', s))));
  status.addEventListener('change', () => update({ status: status.value }));
  const severity = h('select', { 'data-testid': 'case-severity' }, SEVERITIES.map((s) => h('option', { value: s, selected: s === c.severity }, tv('level', s))));
  severity.addEventListener('change', () => update({ severity: severity.value }));
  const assignee = h('input', { value: c.assignee || '', 'data-testid': 'case-assignee' });
  assignee.addEventListener('change', () => update({ assign: true, assignee: assignee.value.trim() || null }));

  main.append(h('section', { class: 'page page-case', 'data-testid': 'case-detail' },
    h('p', {}, h('a', { href: '#/cases' }, `← ${t('nav.cases')}`)),
    h('div', { class: 'row' }, sevBadge(c.severity), h('h1', { 'data-testid': 'case-title' }, c.title || id), statusBadge(c.status)),
    c.merged_into ? h('p', { class: 'notice' }, t('case.mergedInto'), ' ', h('a', { href: `#/cases/${encodeURIComponent(c.merged_into)}` }, c.merged_into)) : null,
    canManage ? h('div', { class: 'toolbar' }, h('label', {}, t('cases.col.status'), status), h('label', {}, t('cases.col.severity'), severity), h('label', {}, t('cases.col.assignee'), assignee)) : null,
    c.description ? h('p', {}, c.description) : null,
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, t('case.alerts')),
        h('ul', { 'data-testid': 'case-alerts' }, alerts.length
          ? alerts.map((a) => h('li', {}, sevBadge(pick(a, 'alert.level')), ' ', h('a', { href: `#/alerts/${encodeURIComponent(pick(a, 'alert.id'))}` }, pick(a, 'rule.name') || pick(a, 'alert.id')), ' ', statusBadge(pick(a, 'alert.status'))))
          : (c.alert_ids || []).map((aid) => h('li', {}, h('a', { href: `#/alerts/${encodeURIComponent(aid)}` }, aid))))),
      h('div', { class: 'card' }, h('h2', {}, t('case.timeline')),
        h('ul', { class: 'timeline', 'data-testid': 'case-timeline' }, timeline.map((e) => (e.alert_id
          ? h('li', { 'data-action': e.action, 'data-alert': e.alert_id, class: 'alert-entry' },
            h('strong', {}, e.actor || ''), ' ', h('span', { class: 'muted' }, fmtTime(e.time)), h('br'),
            h('a', { href: `#/alerts/${encodeURIComponent(e.alert_id)}` }, e.rule || e.alert_id), ': ',
            e.action === 'alert_raised' ? t('case.alertRaised') : e.action === 'comment' ? t('alert.commented')
              : `${e.field ? `${e.field}: ` : ''}${(e.field === 'status' ? tv('status', e.from) : fmtValue(e.from)) || '∅'} → ${(e.field === 'status' ? tv('status', e.to) : fmtValue(e.to)) || '∅'}`)
          : h('li', { 'data-action': e.action },
            h('strong', {}, e.actor || ''), ' ', h('span', { class: 'muted' }, fmtTime(e.time)), h('br'),
            tv('case_event', e.action), ' ', describe(e))))),
        canManage ? h('form', {
          class: 'row',
          onsubmit: async (e) => {
            e.preventDefault();
            if (!note.value.trim()) return;
            try { await post(`/cases/${encodeURIComponent(id)}/notes`, { text: note.value.trim() }); ctx.refresh(); } catch (err) { ctx.flash(errorText(err), 'error'); }
          },
        }, note, h('button', { type: 'submit', 'data-testid': 'case-note-submit' }, t('case.addNote'))) : null))));
  markReady('case');
}
