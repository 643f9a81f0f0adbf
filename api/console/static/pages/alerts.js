// Alert queue: filters, facet counts, severity colours, multi-select bulk actions, keyboard (j/k/x/enter).
import { errorText, get, post } from '../lib/api.js';
import { add, clear, fill, fmtTime, h, markReady, pick } from '../lib/dom.js';
import { t, tv } from '../lib/i18n.js';
import { askDialog, batchSummary, emptyRow, facetBuckets, facetList, listItems, listTotal, sevBadge, statusBadge } from '../lib/ui.js';

export const LEVELS = ['critical', 'high', 'medium', 'low', 'informational'];
export const STATUSES = ['new', 'acknowledged', 'in_progress', 'closed'];
export const CLOSE_REASONS = ['true_positive', 'false_positive', 'benign', 'duplicate'];
const RANGES = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3, all: null };
const PAGE_SIZE = 50;
const FACETS = ['status', 'level', 'rule', 'host', 'user', 'assignee'];

// What each bulk/detail action sends to POST /alerts/bulk.
export function actionBody(action, extra = {}) {
  if (action === 'acknowledge') return { status: 'acknowledged' };
  if (action === 'start') return { status: 'in_progress' };
  if (action === 'close') return { status: 'closed', close_reason: extra.reason, ...(extra.comment ? { comment: extra.comment } : {}) };
  if (action === 'assign') return { assign: true, assignee: extra.assignee || null };
  throw new Error(`unknown action ${action}`);
}

export const alertId = (a) => pick(a, 'alert.id') || a.id || a._id;

export default async function render(main, params, ctx) {
  const filters = { status: '', level: '', rule: '', host: '', user: '', assignee: '', q: '', range: '7d', ...params.query };
  const state = { items: [], cursor: 0, selected: new Set(), pages: [null], page: 0, next: null, total: 0 };
  const canUpdate = ctx.can('alerts.update');

  const q = h('input', { type: 'search', class: 'grow', value: filters.q, placeholder: t('alerts.search'), 'data-testid': 'alerts-q' });
  const range = h('select', { 'data-testid': 'alerts-range' }, Object.keys(RANGES).map((r) => h('option', { value: r, selected: r === filters.range }, t(`range.${r}`))));
  const statusSel = h('select', { 'data-testid': 'alerts-status' }, h('option', { value: '' }, t('alerts.anyStatus')), STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, tv('status', s))));
  const levelSel = h('select', { 'data-testid': 'alerts-level' }, h('option', { value: '' }, t('alerts.anyLevel')), LEVELS.map((s) => h('option', { value: s, selected: s === filters.level }, tv('level', s))));
  const facetsBox = h('aside', { class: 'facets', 'data-testid': 'alerts-facets' });
  const tbody = h('tbody', { 'data-testid': 'alerts-rows' });
  const totalLabel = h('span', { class: 'muted', 'data-testid': 'alerts-total' });
  const selectAll = h('input', { type: 'checkbox', 'aria-label': t('alerts.selectAll'), 'data-testid': 'alerts-select-all' });
  const selCount = h('span', { 'data-testid': 'alerts-selected' });
  const bulkButtons = canUpdate ? [
    h('button', { type: 'button', 'data-testid': 'bulk-ack', onclick: () => bulk('acknowledge') }, t('alerts.acknowledge')),
    h('button', { type: 'button', 'data-testid': 'bulk-assign', onclick: () => bulk('assign') }, t('alerts.assign')),
    h('button', { type: 'button', class: 'danger', 'data-testid': 'bulk-close', onclick: () => bulk('close') }, t('alerts.close')),
  ] : [];
  const prev = h('button', { type: 'button', 'data-testid': 'alerts-prev', onclick: () => turn(-1) }, t('common.prev'));
  const next = h('button', { type: 'button', 'data-testid': 'alerts-next', onclick: () => turn(1) }, t('common.next'));

  function queryParams() {
    const out = { size: PAGE_SIZE, sort: '@timestamp', order: 'desc' };
    for (const k of ['status', 'level', 'rule', 'host', 'user', 'assignee', 'q', 'address', 'technique', 'tactic']) if (filters[k]) out[k] = filters[k];
    if (RANGES[filters.range]) out.start = new Date(Date.now() - RANGES[filters.range]).toISOString();
    const after = state.pages[state.page];
    if (after) out.after = after;
    return out;
  }

  function setFilter(key, value) {
    filters[key] = value;
    state.pages = [null]; state.page = 0;
    const hq = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
    history.replaceState(null, '', `#/alerts?${hq}`);
    load();
  }

  // The page is usable as soon as its rows are on screen; facet counts (aggregations over the
  // whole index) arrive in a second request and fill in the side panel when ready.
  async function load() {
    const params = queryParams();
    const facetsRequest = state.page === 0 ? get('/alerts', { ...params, size: 1, after: '', facets: 'true' }) : null;
    if (facetsRequest) facetsRequest.catch(() => null);
    let data;
    try {
      data = await get('/alerts', params);
    } catch (err) {
      fill(tbody, emptyRow(9, errorText(err)));
      markReady('alerts');
      return;
    }
    state.items = listItems(data);
    state.total = listTotal(data, state.items);
    state.next = data.next || null;
    state.cursor = Math.min(state.cursor, Math.max(0, state.items.length - 1));
    state.selected = new Set([...state.selected].filter((id) => state.items.some((a) => alertId(a) === id)));
    renderRows();
    markReady('alerts');
    if (!facetsRequest) return;
    try {
      const withFacets = await facetsRequest;
      renderFacets(withFacets.facets || {});
    } catch (err) {
      fill(facetsBox, h('div', { class: 'form-error' }, errorText(err)));
    }
  }

  function renderFacets(facets) {
    clear(facetsBox);
    facetsBox.dataset.ready = 'true';
    for (const key of FACETS) {
      const label = key === 'status' ? (v) => tv('status', v) : key === 'level' ? (v) => tv('level', v) : (v) => v;
      add(facetsBox, facetList(t(`alerts.col.${key}`), facetBuckets(facets, key), filters[key], (v) => setFilter(key, v), label, key));
    }
  }

  function renderRows() {
    clear(tbody);
    totalLabel.textContent = t('alerts.total', { n: state.total });
    prev.disabled = state.page === 0;
    next.disabled = !state.next || state.items.length < PAGE_SIZE;
    if (!state.items.length) { add(tbody, emptyRow(9, t('alerts.none'))); updateSelection(); return; }
    state.items.forEach((a, i) => {
      const id = alertId(a);
      const box = h('input', { type: 'checkbox', checked: state.selected.has(id), 'aria-label': id, onclick: (e) => { e.stopPropagation(); toggle(id); } });
      add(tbody, h('tr', {
        'data-id': id, 'data-testid': 'alert-row', class: `${i === state.cursor ? 'cursor' : ''} ${state.selected.has(id) ? 'selected' : ''}`,
        ondblclick: () => open(id),
        onclick: () => { state.cursor = i; paintCursor(); },
      },
      h('td', {}, box),
      h('td', {}, fmtTime(pick(a, '@timestamp'))),
      h('td', {}, sevBadge(pick(a, 'alert.level') || pick(a, 'rule.level'))),
      h('td', {}, h('a', { href: `#/alerts/${encodeURIComponent(id)}` }, pick(a, 'rule.name') || '')),
      h('td', {}, pick(a, 'host.name') || ''),
      h('td', {}, pick(a, 'user.name') || ''),
      h('td', {}, pick(a, 'source.ip') || ''),
      h('td', {}, statusBadge(pick(a, 'alert.status'))),
      h('td', {}, pick(a, 'alert.assignee') || '')));
    });
    updateSelection();
  }

  function paintCursor() {
    [...tbody.querySelectorAll('tr')].forEach((tr, i) => tr.classList.toggle('cursor', i === state.cursor));
    const row = tbody.children[state.cursor];
    if (row && row.scrollIntoView) row.scrollIntoView({ block: 'nearest' });
  }

  function toggle(id) {
    if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
    const row = tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (row) { row.classList.toggle('selected', state.selected.has(id)); row.querySelector('input').checked = state.selected.has(id); }
    updateSelection();
  }

  function updateSelection() {
    selCount.textContent = t('alerts.selected', { n: state.selected.size });
    selectAll.checked = state.items.length > 0 && state.selected.size === state.items.length;
    for (const b of bulkButtons) b.disabled = state.selected.size === 0;
  }

  function open(id) { ctx.navigate(`#/alerts/${encodeURIComponent(id)}`); }

  function turn(step) {
    if (step > 0) { state.pages[state.page + 1] = state.next; state.page += 1; } else if (state.page > 0) state.page -= 1;
    state.cursor = 0;
    load();
  }

  async function bulk(action) {
    const ids = [...state.selected];
    if (!ids.length) return;
    const extra = {};
    if (action === 'assign') {
      const values = await askDialog(t('alerts.assignTitle', { n: ids.length }), [{ name: 'assignee', label: t('alerts.assignee'), required: true, value: ctx.user.username }], t('alerts.assign'), 'assign-dialog');
      if (!values) return;
      extra.assignee = values.assignee;
    }
    if (action === 'close') {
      const values = await askDialog(t('alerts.closeTitle', { n: ids.length }), [
        { name: 'reason', label: t('alerts.closeReason'), required: true, placeholder: t('alerts.pickReason'), options: CLOSE_REASONS.map((r) => [r, tv('close_reason', r)]) },
        { name: 'comment', label: t('alerts.comment'), multiline: true },
      ], t('alerts.close'), 'close-dialog');
      if (!values) return;
      extra.reason = values.reason;
      extra.comment = values.comment;
    }
    try {
      const result = await post('/alerts/bulk', { ids, ...actionBody(action, extra) });
      const { ok, failed } = batchSummary(result);
      ctx.flash(t('alerts.bulkDone', { ok, failed: failed.length }), failed.length ? 'error' : 'success');
      if (failed.length) ctx.flash(failed.map((f) => `${f.id}: ${f.error || f.message}`).slice(0, 3).join('; '), 'error');
      state.selected.clear();
      await load();
    } catch (err) {
      ctx.flash(errorText(err), 'error');
    }
  }

  function onKey(e) {
    if (e.target.closest('input, textarea, select, dialog') || e.ctrlKey || e.metaKey || e.altKey) return;
    if (!state.items.length) return;
    if (e.key === 'j') { state.cursor = Math.min(state.items.length - 1, state.cursor + 1); paintCursor(); } else if (e.key === 'k') { state.cursor = Math.max(0, state.cursor - 1); paintCursor(); } else if (e.key === 'x') toggle(alertId(state.items[state.cursor])); else if (e.key === 'Enter') open(alertId(state.items[state.cursor])); else return;
    e.preventDefault();
  }

  selectAll.addEventListener('change', () => {
    state.selected = selectAll.checked ? new Set(state.items.map(alertId)) : new Set();
    renderRows();
  });
  q.addEventListener('keydown', (e) => { if (e.key === 'Enter') setFilter('q', q.value.trim()); });
  range.addEventListener('change', () => setFilter('range', range.value));
  statusSel.addEventListener('change', () => setFilter('status', statusSel.value));
  levelSel.addEventListener('change', () => setFilter('level', levelSel.value));

  main.append(h('section', { class: 'page page-alerts' },
    h('div', { class: 'row' }, h('h1', {}, t('nav.alerts')), totalLabel),
    h('div', { class: 'toolbar' }, q, statusSel, levelSel, range,
      h('button', { type: 'button', onclick: () => setFilter('q', q.value.trim()), 'data-testid': 'alerts-apply' }, t('common.search'))),
    h('div', { class: 'layout-facets' }, facetsBox,
      h('div', {},
        h('div', { class: 'toolbar' }, selCount, bulkButtons, h('span', { class: 'spacer' }),
          h('span', { class: 'keys' }, h('kbd', {}, 'j'), '/', h('kbd', {}, 'k'), ` ${t('alerts.keyMove')} `, h('kbd', {}, 'x'), ` ${t('alerts.keySelect')} `, h('kbd', {}, 'Enter'), ` ${t('alerts.keyOpen')}`)),
        h('table', { 'data-testid': 'alerts-table' },
          h('thead', {}, h('tr', {}, h('th', {}, selectAll), ['time', 'level', 'rule', 'host', 'user', 'source', 'status', 'assignee'].map((c) => h('th', {}, t(`alerts.col.${c}`))))),
          tbody),
        h('div', { class: 'pager' }, prev, next)))));
  document.addEventListener('keydown', onKey);
  await load();
  return () => document.removeEventListener('keydown', onKey);
}
