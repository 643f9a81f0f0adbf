// Personal information (个人信息保护): the inventory of where it is processed, the masking policy
// in force, and — for the security administrator — a time-limited, audited unmask of one event.
import { download, errorText, get, post } from '../lib/api.js';
import { add, fill, fmtTime, h, markReady } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { emptyRow } from '../lib/ui.js';

const COLS = ['dataset', 'field', 'type', 'events', 'first_seen', 'last_seen', 'action', 'hosts', 'endpoints'];

export default async function render(main, _params, ctx) {
  const rows = h('tbody', { 'data-testid': 'privacy-rows' });
  const totals = h('div', { class: 'muted', 'data-testid': 'privacy-totals' });
  const policyRows = h('tbody', { 'data-testid': 'privacy-policy-rows' });
  const forbidden = h('div', { class: 'muted' });
  const csvBtn = h('button', { type: 'button', 'data-testid': 'privacy-csv' }, t('privacy.csv'));
  csvBtn.addEventListener('click', async () => {
    try { await download('/privacy/inventory', { format: 'csv' }, 'pii-inventory.csv'); } catch (err) { ctx.flash(errorText(err), 'error'); }
  });

  async function load() {
    try {
      const [inv, policy] = await Promise.all([get('/privacy/inventory'), get('/privacy/policy')]);
      fill(rows);
      if (!inv.rows.length) add(rows, emptyRow(COLS.length, t('privacy.none')));
      for (const r of inv.rows) {
        add(rows, h('tr', { 'data-testid': 'privacy-row', 'data-type': r.type },
          h('td', {}, r.dataset), h('td', {}, h('code', {}, r.field)), h('td', {}, t(`privacy.type.${r.type}`)),
          h('td', { class: 'num' }, r.events), h('td', {}, fmtTime(r.first_seen)), h('td', {}, fmtTime(r.last_seen)),
          h('td', {}, h('span', { class: r.action === 'keep' ? 'warn' : 'pass' }, t(`privacy.action.${r.action}`))),
          h('td', {}, r.hosts.join(', ')), h('td', {}, r.endpoints.join(', '))));
      }
      totals.textContent = t('privacy.totals', { n: inv.rows.length }) + ' ' +
        Object.entries(inv.totals).map(([k, v]) => `${t(`privacy.type.${k}`)} ${v}`).join(' · ');
      fill(policyRows, ...policy.rules.map((r) => h('tr', {},
        h('td', {}, r.dataset), h('td', {}, r.field), h('td', {}, r.type === '*' ? '*' : t(`privacy.type.${r.type}`)),
        h('td', {}, t(`privacy.action.${r.action}`)))));
      forbidden.textContent = policy.forbidden_datasets.length ? t('privacy.forbidden', { list: policy.forbidden_datasets.join(', ') }) : '';
    } catch (err) {
      fill(rows, emptyRow(COLS.length, errorText(err)));
    }
    markReady('privacy');
  }

  let unmask = null;
  if (ctx.can('privacy.unmask')) {
    const caseId = h('input', { placeholder: t('privacy.caseId'), 'data-testid': 'privacy-case' });
    const reason = h('input', { placeholder: t('privacy.reason'), size: 40, 'data-testid': 'privacy-reason' });
    const index = h('input', { placeholder: '_index', size: 36, 'data-testid': 'privacy-index' });
    const eventId = h('input', { placeholder: '_id', size: 24, 'data-testid': 'privacy-event' });
    const out = h('div', { 'data-testid': 'privacy-unmask-result' });
    let grant = null;
    const go = h('button', { type: 'button', class: 'primary', 'data-testid': 'privacy-unmask' }, t('privacy.unmask'));
    go.addEventListener('click', async () => {
      try {
        if (!grant || new Date(grant.expires_at) <= new Date() || grant.case_id !== caseId.value.trim()) {
          grant = await post('/privacy/grants', { case_id: caseId.value.trim(), reason: reason.value.trim() });
        }
        const res = await get(`/privacy/events/${encodeURIComponent(index.value.trim())}/${encodeURIComponent(eventId.value.trim())}`, { grant: grant.id });
        fill(out, h('div', { class: 'muted' }, t('privacy.grantUntil', { at: fmtTime(grant.expires_at), id: grant.case_id })),
          res.not_recoverable.length ? h('div', { class: 'muted' }, t('privacy.notRecoverable', { list: res.not_recoverable.join(', ') })) : null,
          h('pre', { style: 'white-space: pre-wrap; word-break: break-all' }, JSON.stringify(res.event, null, 2)));
      } catch (err) {
        fill(out, h('div', { class: 'form-error' }, errorText(err)));
      }
    });
    unmask = h('section', {}, h('h2', {}, t('privacy.unmaskTitle')), h('p', { class: 'muted' }, t('privacy.unmaskIntro')),
      h('div', { class: 'toolbar' }, caseId, reason, index, eventId, go), out);
  }

  main.append(h('section', { class: 'page page-privacy' },
    h('div', { class: 'row' }, h('h1', {}, t('nav.privacy')), h('span', { class: 'spacer' }), csvBtn),
    h('p', { class: 'muted' }, t('privacy.intro')), totals,
    h('table', {}, h('thead', {}, h('tr', {}, COLS.map((c) => h('th', {}, t(`privacy.col.${c}`))))), rows),
    h('h2', {}, t('privacy.policy')), forbidden,
    h('table', {}, h('thead', {}, h('tr', {}, ['dataset', 'field', 'type', 'action'].map((c) => h('th', {}, t(`privacy.col.${c}`))))), policyRows),
    unmask));
  await load();
}
