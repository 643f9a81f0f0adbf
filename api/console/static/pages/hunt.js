// Hunt: query bar, time range, histogram of matches, table with a field picker.
import { errorText, get } from '../lib/api.js';
import { add, clear, fill, fmtTime, fmtValue, h, markReady, pick } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { emptyRow, listItems, listTotal } from '../lib/ui.js';

const RANGES = { '15m': 900e3, '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
const DEFAULT_FIELDS = ['@timestamp', 'event.dataset', 'host.name', 'user.name', 'source.ip', 'destination.ip', 'event.action', 'message'];
const FIELDS_KEY = 'qinglang.huntFields';

function flatten(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out); else out[key] = v;
  }
  return out;
}

export default async function render(main, params) {
  const q = h('input', { type: 'search', class: 'grow', value: params.query.q || '', placeholder: t('hunt.placeholder'), 'data-testid': 'hunt-q' });
  // A pivot from an alert brings its own window (start/end); otherwise a relative range.
  const fixed = params.query.start && params.query.end ? { start: params.query.start, end: params.query.end } : null;
  const range = h('select', { 'data-testid': 'hunt-range' },
    fixed ? h('option', { value: 'fixed', selected: true }, t('hunt.alertWindow', { start: fmtTime(fixed.start), end: fmtTime(fixed.end) })) : null,
    Object.keys(RANGES).map((r) => h('option', { value: r, selected: !fixed && r === (params.query.range || '24h') }, t(`range.${r}`))));
  const histogram = h('div', { class: 'histogram', 'data-testid': 'hunt-histogram' });
  const picker = h('div', { class: 'fieldpicker', 'data-testid': 'hunt-fields' });
  const thead = h('thead'); const tbody = h('tbody', { 'data-testid': 'hunt-rows' });
  const total = h('span', { class: 'muted', 'data-testid': 'hunt-total' });
  const error = h('div', { class: 'form-error', 'data-testid': 'hunt-error' });
  let fields = JSON.parse(localStorage.getItem(FIELDS_KEY) || 'null') || DEFAULT_FIELDS;
  let rows = [];

  function renderTable() {
    fill(thead, h('tr', {}, fields.map((f) => h('th', {}, f))));
    clear(tbody);
    if (!rows.length) add(tbody, emptyRow(fields.length, t('hunt.none')));
    for (const ev of rows) add(tbody, h('tr', { 'data-testid': 'hunt-row' }, fields.map((f) => h('td', {}, f === '@timestamp' ? fmtTime(pick(ev, f)) : fmtValue(pick(ev, f))))));
    const seen = new Set(fields);
    for (const ev of rows.slice(0, 50)) for (const k of Object.keys(flatten(ev))) seen.add(k);
    fill(picker, [...seen].sort().map((f) => h('label', { class: 'inline' },
      h('input', { type: 'checkbox', checked: fields.includes(f), onchange: (e) => {
        fields = e.target.checked ? [...fields, f] : fields.filter((x) => x !== f);
        localStorage.setItem(FIELDS_KEY, JSON.stringify(fields));
        renderTable();
      } }), f)));
  }

  async function load() {
    error.textContent = '';
    const span = range.value === 'fixed' && fixed ? fixed
      : { start: new Date(Date.now() - RANGES[range.value]).toISOString(), end: new Date().toISOString() };
    const query = { q: q.value.trim(), ...span };
    const kept = range.value === 'fixed' ? { start: span.start, end: span.end } : { range: range.value };
    history.replaceState(null, '', `#/hunt?${new URLSearchParams({ q: query.q, ...kept })}`);
    try {
      const [data, hist] = await Promise.all([
        get('/events', { ...query, size: 100 }),
        get('/events/histogram', query).catch(() => null),
      ]);
      rows = listItems(data).map((e) => e._source || e);
      total.textContent = t('hunt.total', { n: listTotal(data, rows) });
      const buckets = hist ? (hist.buckets || listItems(hist)) : [];
      const max = Math.max(1, ...buckets.map((b) => b.count ?? b.doc_count ?? 0));
      fill(histogram, buckets.map((b) => h('span', { title: `${fmtTime(b.key_as_string || b.key || b.time)}: ${b.count ?? b.doc_count}`, style: { height: `${((b.count ?? b.doc_count ?? 0) / max) * 100}%` } })));
    } catch (err) {
      rows = [];
      error.textContent = errorText(err);
    }
    renderTable();
    markReady('hunt');
  }

  q.addEventListener('keydown', (e) => { if (e.key === 'Enter') load(); });
  range.addEventListener('change', load);
  main.append(h('section', { class: 'page page-hunt' },
    h('div', { class: 'row' }, h('h1', {}, t('nav.hunt')), total),
    h('div', { class: 'toolbar' }, q, range, h('button', { type: 'button', class: 'primary', onclick: load, 'data-testid': 'hunt-run' }, t('common.search'))),
    error, histogram,
    h('details', {}, h('summary', {}, t('hunt.fieldPicker')), picker),
    h('div', { style: { overflow: 'auto' } }, h('table', { 'data-testid': 'hunt-table' }, thead, tbody))));
  await load();
}
