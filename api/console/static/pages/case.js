// Case detail with timeline, linked alerts, notes, status/assignee/severity; sharing with users
// of another department (grant, list, revoke), read-only when the case is shared with the caller.
import { del, errorText, get, patch, post } from '../lib/api.js';
import { fmtTime, fmtValue, h, markReady, pick } from '../lib/dom.js';
import { lang, t, tv } from '../lib/i18n.js';
import { askDialog, listItems, sevBadge, statusBadge } from '../lib/ui.js';

const SEVERITIES = ['low', 'medium', 'high', 'critical'];
const SHARE_FOR = ['8h', '1d', '3d', '7d', '14d', '30d'];

export default async function render(main, params, ctx) {
  let c; let alerts = []; let shares = []; let sharedWithMe = null;
  try {
    const [data, linked, mine, grants] = await Promise.all([
      get(`/cases/${encodeURIComponent(params.id)}`),
      get('/alerts', { case_id: params.id, size: 100 }).catch(() => ({ items: [] })),
      ctx.can('cases.read') ? get('/shared-with-me').catch(() => ({ items: [] })) : { items: [] },
      ctx.can('cases.read') ? get(`/cases/${encodeURIComponent(params.id)}/shares`).catch(() => ({ items: [] })) : { items: [] },
    ]);
    c = data.case || data;
    alerts = listItems(linked);
    sharedWithMe = listItems(mine).find((s) => s.case_id === (c.case_id || params.id)) || null;
    shares = listItems(grants);
    if (sharedWithMe) {
      const o = sharedWithMe.owner || {};
      sharedWithMe.ownerName = (lang() === 'en' ? o.name_en : o.name_zh) || o.id || pick(sharedWithMe, 'organization.id');
    }
  } catch (err) {
    main.append(h('section', { class: 'page' }, h('p', { class: 'form-error' }, errorText(err))));
    markReady('case');
    return;
  }
  const id = c.case_id || params.id;
  const notes = Object.fromEntries((c.notes || []).map((n) => [n.id, n]));
  // A case another department shares with the caller is read-only (the API refuses changes too).
  const canManage = ctx.can('cases.manage') && c.status !== 'merged' && !sharedWithMe;
  const canShare = ctx.can('cases.share') && c.status !== 'merged' && !sharedWithMe;

  async function share() {
    const values = await askDialog(t('share.title'), [
      { name: 'grantees', label: t('share.grantees'), required: true },
      { name: 'expires', label: t('share.expires'), options: SHARE_FOR.map((d) => [d, t(`share.for.${d}`)]) },
      { name: 'reason', label: t('share.reason'), multiline: true },
    ], t('share.ok'), 'case-share');
    if (!values) return;
    const grantees = values.grantees.split(/[\s,，;；]+/).map((g) => g.trim()).filter(Boolean);
    try {
      await post(`/cases/${encodeURIComponent(id)}/shares`, { grantees, expires: values.expires, reason: values.reason });
      ctx.flash(t('share.done', { users: grantees.join(', ') }));
      ctx.refresh();
    } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  async function revoke(s) {
    if (!window.confirm(t('share.revokeConfirm', { users: (s.grantees || []).join(', ') }))) return;
    try { await del(`/cases/${encodeURIComponent(id)}/shares/${encodeURIComponent(s.share_id)}`); ctx.refresh(); } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  const sharesCard = shares.length || canShare ? h('div', { class: 'card', 'data-testid': 'case-shares' },
    h('div', { class: 'row' }, h('h2', {}, t('share.heading')), h('span', { class: 'spacer' }),
      canShare ? h('button', { type: 'button', onclick: share, 'data-testid': 'case-share-open' }, t('share.open')) : null),
    shares.length ? h('table', {}, h('thead', {}, h('tr', {}, ['grantees', 'expires', 'state', 'by', 'reason', ''].map((k) => h('th', {}, k ? t(`share.col.${k}`) : '')))),
      h('tbody', {}, shares.map((s) => h('tr', { 'data-testid': 'case-share-row', 'data-state': s.state },
        h('td', {}, (s.grantees || []).join(', ')), h('td', {}, fmtTime(s.expires)), h('td', {}, t(`share.state.${s.state}`)),
        h('td', {}, s.created_by || ''), h('td', {}, s.reason || ''),
        h('td', {}, canShare && s.state === 'active' ? h('button', { type: 'button', class: 'link', onclick: () => revoke(s), 'data-testid': 'case-share-revoke' }, t('share.revoke')) : null)))))
      : h('p', { class: 'muted' }, t('share.none'))) : null;

  async function update(change) {
    try { await patch(`/cases/${encodeURIComponent(id)}`, change); ctx.refresh(); } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  function describe(e) {
    if (e.action === 'note') { const n = notes[e.note_id]; return n ? n.text : ''; }
    if (e.from !== undefined || e.to !== undefined) {
      const show = (v) => (e.action === 'status' ? tv('case_status', v) : e.action === 'severity' ? tv('level', v) : fmtValue(v)) || '∅';
      return `${show(e.from)} → ${show(e.to)}`;
    }
    if (e.grantees) return `${e.grantees.join(', ')}${e.expires ? ` · ${t('share.col.expires')} ${fmtTime(e.expires)}` : ''}`;
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
    sharedWithMe ? h('p', { class: 'notice', 'data-testid': 'case-shared-notice' }, t('share.readOnly', { org: sharedWithMe.ownerName || '', by: sharedWithMe.created_by || '', until: fmtTime(sharedWithMe.expires) })) : null,
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
        }, note, h('button', { type: 'submit', 'data-testid': 'case-note-submit' }, t('case.addNote'))) : null)),
    sharesCard));
  markReady('case');
}
