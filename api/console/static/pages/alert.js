// Alert detail: fields, matching event, entity pivots to hunt, history, comments, actions, send to case.
import { errorText, get, post } from '../lib/api.js';
import { add, fmtTime, fmtValue, h, markReady, pick } from '../lib/dom.js';
import { lang, t, tv } from '../lib/i18n.js';
import { askDialog, batchSummary, listItems, sevBadge, statusBadge } from '../lib/ui.js';
import { actionBody, CLOSE_REASONS } from './alerts.js';

const PIVOTS = ['user.name', 'host.name', 'source.ip', 'destination.ip', 'process.name'];

// A pivot keeps the alert's time window (15 minutes either side of when its events happened).
export function huntLink(field, value, window) {
  const query = `${field}:"${String(value).replaceAll('"', '\\"')}"`;
  const params = new URLSearchParams({ q: query });
  if (window) { params.set('start', window.start); params.set('end', window.end); }
  return `#/hunt?${params}`;
}

function alertWindow(alert) {
  const first = Date.parse(pick(alert, 'alert.first_seen') || pick(alert, '@timestamp'));
  const last = Date.parse(pick(alert, 'alert.last_seen') || pick(alert, '@timestamp'));
  if (Number.isNaN(first) || Number.isNaN(last)) return null;
  return { start: new Date(first - 15 * 60e3).toISOString(), end: new Date(last + 15 * 60e3).toISOString() };
}

function pivot(field, value, window) {
  if (value === undefined || value === null || value === '') return '—';
  return h('a', { class: 'pivot', href: huntLink(field, value, window), 'data-testid': `pivot-${field}`, title: t('alert.pivot') }, fmtValue(value));
}

function ruleCard(rule, attack) {
  if (!rule) return h('div', { class: 'card', 'data-testid': 'alert-rule' }, h('h2', {}, t('alert.ruleTitle')), h('p', { class: 'muted' }, t('alert.ruleGone')));
  const list = (items) => (items && items.length ? h('ul', {}, items.map((x) => h('li', {}, /^https?:\/\//.test(x) ? h('a', { href: x, rel: 'noopener noreferrer', target: '_blank' }, x) : String(x)))) : '—');
  const zh = lang() === 'zh-CN';
  const chips = [
    ...(attack ? attack.tactics : []).map((tac) => h('a', { class: 'chip', href: `#/alerts?tactic=${tac.short}`, 'data-testid': 'attack-tactic' }, `${tac.id} ${zh ? tac.name_zh : tac.name}`)),
    ...(attack ? attack.techniques : []).map((tech) => h('a', { class: 'chip', href: `#/alerts?technique=${tech.id}`, 'data-testid': 'attack-technique' }, `${tech.id} ${tech.parent ? `${tech.parent.name}: ` : ''}${tech.name}`)),
  ];
  return h('div', { class: 'card', 'data-testid': 'alert-rule' }, h('h2', {}, t('alert.ruleTitle')),
    h('dl', { class: 'kv' },
      [h('dt', {}, t('alert.ruleName')), h('dd', { 'data-testid': 'rule-title' }, rule.title || '')],
      [h('dt', {}, t('alerts.col.level')), h('dd', {}, tv('level', rule.level))],
      [h('dt', {}, t('alert.description')), h('dd', { 'data-testid': 'rule-description' }, rule.description || '—')],
      [h('dt', {}, t('alert.attack')), h('dd', {}, chips.length ? chips : '—')],
      [h('dt', {}, t('alert.references')), h('dd', {}, list(rule.references))],
      [h('dt', {}, t('alert.falsepositives')), h('dd', {}, list(rule.falsepositives))]),
    h('details', { 'data-testid': 'rule-sigma' }, h('summary', {}, t('alert.sigma')), h('pre', {}, rule.sigma || '')),
    h('details', { 'data-testid': 'rule-query' }, h('summary', {}, t('alert.query')), h('pre', {}, JSON.stringify(rule.query || rule.correlation, null, 2))));
}

function eventsCard(id) {
  const tbody = h('tbody', { 'data-testid': 'alert-events-rows' });
  const total = h('span', { class: 'muted', 'data-testid': 'alert-events-total' });
  const more = h('button', { type: 'button', hidden: true, 'data-testid': 'alert-events-more' }, t('alert.moreEvents'));
  let next = null;
  async function page() {
    const data = await get(`/alerts/${encodeURIComponent(id)}/events`, next ? { size: 50, after: next } : { size: 50 });
    next = data.next;
    more.hidden = !next;
    total.textContent = t('alert.eventsTotal', { n: data.total });
    for (const ev of data.items || []) {
      add(tbody, h('tr', { 'data-testid': 'alert-events-row' }, h('td', {}, fmtTime(pick(ev, '@timestamp'))), h('td', {}, fmtValue(pick(ev, 'host.name'))),
        h('td', {}, fmtValue(pick(ev, 'user.name'))), h('td', {}, fmtValue(pick(ev, 'source.ip'))),
        h('td', {}, fmtValue(pick(ev, 'message') || pick(ev, 'event.action')))));
    }
  }
  more.addEventListener('click', () => page().catch(() => null));
  const card = h('div', { class: 'card', 'data-testid': 'alert-events' }, h('h2', {}, t('alert.contributing'), ' ', total),
    h('div', { style: { overflow: 'auto', maxHeight: '420px' } }, h('table', {}, h('thead', {}, h('tr', {},
      [t('alerts.col.time'), t('alerts.col.host'), t('alerts.col.user'), t('alerts.col.source'), t('alert.message')].map((c) => h('th', {}, c)))), tbody)), more);
  return { card, ready: page() };
}

function eventTime(alert) {
  const first = pick(alert, 'alert.first_seen') || pick(alert, '@timestamp');
  const last = pick(alert, 'alert.last_seen');
  return last && last !== first ? `${fmtTime(first)} – ${fmtTime(last)}` : fmtTime(first);
}

export default async function render(main, params, ctx) {
  const id = params.id;
  let data;
  try {
    data = await get(`/alerts/${encodeURIComponent(id)}`);
  } catch (err) {
    main.append(h('section', { class: 'page' }, h('p', { class: 'form-error' }, errorText(err))));
    markReady('alert');
    return;
  }
  const alert = data.alert && data.alert.alert ? data.alert : data;
  const events = listItems(data.events ? { items: data.events } : {});
  const matching = events.length ? events : (alert.event_copy ? [alert.event_copy] : []);
  const history = data.history || pick(alert, 'alert.history') || [];
  const comments = data.comments || pick(alert, 'alert.comments') || [];
  const canUpdate = ctx.can('alerts.update');

  async function act(action, extra = {}) {
    try {
      const result = await post('/alerts/bulk', { ids: [id], ...actionBody(action, extra) });
      const { failed } = batchSummary(result);
      if (failed.length) ctx.flash(`${failed[0].error || failed[0].message}`, 'error');
      else ctx.flash(t('alert.updated'), 'success');
      ctx.refresh();
    } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  async function closeAlert() {
    const values = await askDialog(t('alerts.closeTitle', { n: 1 }), [
      { name: 'reason', label: t('alerts.closeReason'), required: true, placeholder: t('alerts.pickReason'), options: CLOSE_REASONS.map((r) => [r, tv('close_reason', r)]) },
      { name: 'comment', label: t('alerts.comment'), multiline: true },
    ], t('alerts.close'), 'close-dialog');
    if (values) await act('close', values);
  }

  async function assign() {
    const values = await askDialog(t('alerts.assignTitle', { n: 1 }), [{ name: 'assignee', label: t('alerts.assignee'), required: true, value: ctx.user.username }], t('alerts.assign'), 'assign-dialog');
    if (values) await act('assign', { assignee: values.assignee });
  }

  async function sendToCase() {
    let cases = [];
    try { cases = listItems(await get('/cases', { status: 'open', size: 50 })); } catch { /* offer a new case only */ }
    const values = await askDialog(t('alert.toCase'), [
      { name: 'case', label: t('alert.caseTarget'), options: [['', t('alert.newCase')], ...cases.map((c) => [c.case_id || c.id, c.title])] },
      { name: 'title', label: t('case.title'), value: pick(alert, 'rule.name') || '' },
    ], t('alert.toCase'), 'case-dialog');
    if (!values) return;
    try {
      let caseId = values.case;
      if (caseId) await post(`/cases/${encodeURIComponent(caseId)}/alerts`, { alert_ids: [id] });
      else {
        const created = await post('/cases', { title: values.title || pick(alert, 'rule.name') || id, alert_ids: [id], severity: pick(alert, 'alert.level') });
        caseId = (created.case && (created.case.case_id || created.case.id)) || created.case_id || created.id;
      }
      ctx.flash(t('alert.sentToCase'), 'success');
      ctx.navigate(`#/cases/${encodeURIComponent(caseId)}`);
    } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  const commentText = h('textarea', { rows: 2, 'data-testid': 'comment-text', placeholder: t('alert.commentPlaceholder') });
  const commentForm = canUpdate ? h('form', {
    class: 'row',
    onsubmit: async (e) => {
      e.preventDefault();
      if (!commentText.value.trim()) return;
      try {
        await post(`/alerts/${encodeURIComponent(id)}/comments`, { text: commentText.value.trim() });
        ctx.refresh();
      } catch (err) { ctx.flash(errorText(err), 'error'); }
    },
  }, commentText, h('button', { type: 'submit', 'data-testid': 'comment-submit' }, t('alert.addComment'))) : null;

  const status = pick(alert, 'alert.status');
  const actions = canUpdate ? h('div', { class: 'toolbar', 'data-testid': 'alert-actions' },
    h('button', { type: 'button', disabled: status !== 'new', onclick: () => act('acknowledge'), 'data-testid': 'alert-ack' }, t('alerts.acknowledge')),
    h('button', { type: 'button', disabled: status === 'closed' || status === 'in_progress', onclick: () => act('start'), 'data-testid': 'alert-start' }, t('alert.start')),
    h('button', { type: 'button', onclick: assign, 'data-testid': 'alert-assign' }, t('alerts.assign')),
    h('button', { type: 'button', class: 'danger', disabled: status === 'closed', onclick: closeAlert, 'data-testid': 'alert-close' }, t('alerts.close')),
    ctx.can('cases.manage') ? h('button', { type: 'button', onclick: sendToCase, 'data-testid': 'alert-to-case' }, t('alert.toCase')) : null) : null;

  const field = (label, value) => [h('dt', {}, label), h('dd', {}, value)];
  const isCorrelation = pick(alert, 'rule.type') === 'correlation' || pick(alert, 'alert.group_key');
  const contributing = isCorrelation ? eventsCard(id) : null;
  if (contributing) await contributing.ready.catch(() => null);
  main.append(h('section', { class: 'page page-alert', 'data-testid': 'alert-detail' },
    h('p', {}, h('a', { href: '#/alerts' }, `← ${t('nav.alerts')}`)),
    h('div', { class: 'row' }, sevBadge(pick(alert, 'alert.level')), h('h1', {}, pick(alert, 'rule.name') || id), statusBadge(status)),
    actions,
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, t('alert.summary')),
        h('dl', { class: 'kv' },
          field(t('alert.id'), id),
          field(t('alert.eventTime'), h('span', { 'data-testid': 'alert-event-time' }, eventTime(alert))),
          field(t('alert.detected'), fmtTime(pick(alert, 'alert.created') || pick(alert, '@timestamp'))),
          field(t('alert.reason'), pick(alert, 'alert.reason') || ''),
          field(t('alerts.col.assignee'), pick(alert, 'alert.assignee') || '—'),
          field(t('alerts.closeReason'), tv('close_reason', pick(alert, 'alert.close_reason')) || '—'),
          field(t('alert.case'), pick(alert, 'alert.case_id') ? h('a', { href: `#/cases/${encodeURIComponent(pick(alert, 'alert.case_id'))}` }, pick(alert, 'alert.case_id')) : '—'),
          field(t('alert.rule'), `${pick(alert, 'rule.id') || ''}`),
          field(t('alert.tags'), fmtValue(pick(alert, 'rule.tags'))))),
      h('div', { class: 'card', 'data-testid': 'alert-entities' }, h('h2', {}, t('alert.entities')),
        h('dl', { class: 'kv' }, PIVOTS.map((f) => field(f, pivot(f, pick(alert, f) ?? (matching[0] ? pick(matching[0], f) : undefined), alertWindow(alert))))))),
    ruleCard(data.rule, data.attack),
    contributing ? contributing.card : null,
    h('h2', {}, t('alert.event')),
    matching.length ? matching.slice(0, 5).map((ev) => h('pre', { 'data-testid': 'alert-event' }, JSON.stringify(ev, null, 2))) : h('p', { class: 'muted' }, t('alert.noEvent')),
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, t('alert.history')),
        h('ul', { class: 'timeline', 'data-testid': 'alert-history' }, history.map((e) => h('li', {},
          h('strong', {}, e.by || e.actor || ''), ' ', h('span', { class: 'muted' }, fmtTime(e.at || e.time || e['@timestamp'])), h('br'),
          e.field && e.action !== 'comment' ? `${e.field}: ` : '', e.action === 'comment' ? t('alert.commented') : `${fmtValue(e.from) || '∅'} → ${fmtValue(e.to) || '∅'}`, e.close_reason ? ` (${tv('close_reason', e.close_reason)})` : '')))),
      h('div', { class: 'card' }, h('h2', {}, t('alert.comments')),
        h('ul', { class: 'timeline', 'data-testid': 'alert-comments' }, comments.map((c) => h('li', {},
          h('strong', {}, c.by || c.author || ''), ' ', h('span', { class: 'muted' }, fmtTime(c.at || c.time)), h('br'), c.text || c.comment || ''))),
        commentForm))));
  markReady('alert');
}
