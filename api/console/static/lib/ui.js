// Small shared widgets: severity badge, status badge, modal dialog, facet list, tolerant readers
// for list answers (items + total + facets + cursor).
import { h } from './dom.js';
import { t, tv } from './i18n.js';

export function sevBadge(level) {
  return h('span', { class: `sev sev-${level || 'informational'}`, 'data-level': level || '' }, tv('level', level) || '—');
}

export function statusBadge(status) {
  return h('span', { class: `status status-${status}`, 'data-status': status || '' }, tv('status', status));
}

export function listItems(data) {
  if (Array.isArray(data)) return data;
  return (data && (data.items || data.alerts || data.cases || data.events || data.records || data.results
    || data.rules || data.runs || data.plans || data.drills || data.hits)) || [];
}

export function listTotal(data, items) {
  if (!data || Array.isArray(data)) return items.length;
  const total = data.total ?? data.count;
  if (total && typeof total === 'object') return total.value;
  return total ?? items.length;
}

// Facets arrive as {field: [{key, count}]} or {field: {value: count}}; normalise to [{key, count}].
export function facetBuckets(facets, field) {
  const raw = facets ? facets[field] : null;
  if (!raw) return [];
  if (Array.isArray(raw)) return raw.map((b) => ({ key: b.key ?? b.value, count: b.count ?? b.doc_count ?? 0 }));
  if (Array.isArray(raw.buckets)) return raw.buckets.map((b) => ({ key: b.key, count: b.doc_count ?? b.count }));
  return Object.entries(raw).map(([key, count]) => ({ key, count }));
}

export function facetList(title, buckets, activeValue, onPick, labelFn = (v) => v, testid = '') {
  return h('div', { class: 'facet', 'data-testid': `facet-${testid}` },
    h('h3', {}, title),
    buckets.length ? buckets.map((b) => h('button', {
      type: 'button', class: String(b.key) === String(activeValue) ? 'on' : '',
      onclick: () => onPick(String(b.key) === String(activeValue) ? '' : b.key),
      'data-key': b.key,
    }, h('span', {}, labelFn(b.key)), h('span', { class: 'n' }, b.count))) : h('div', { class: 'muted' }, '—'));
}

// A modal form; resolves with the form values or null when cancelled.
export function askDialog(title, fields, okLabel, testid) {
  return new Promise((resolve) => {
    const inputs = {};
    const body = fields.map((f) => {
      let input;
      if (f.options) {
        input = h('select', { name: f.name, required: f.required, 'data-testid': `${testid}-${f.name}` },
          f.placeholder ? h('option', { value: '' }, f.placeholder) : null,
          f.options.map(([value, label]) => h('option', { value }, label)));
      } else if (f.multiline) {
        input = h('textarea', { name: f.name, rows: 3, required: f.required, 'data-testid': `${testid}-${f.name}` });
      } else {
        input = h('input', { name: f.name, required: f.required, value: f.value || '', 'data-testid': `${testid}-${f.name}` });
      }
      inputs[f.name] = input;
      return h('label', {}, f.label, input);
    });
    const dialog = h('dialog', { 'data-testid': testid });
    // Leaving the page cancels the dialog: it must never act on what another page shows.
    const onNavigate = () => finish(null);
    const finish = (value) => {
      window.removeEventListener('hashchange', onNavigate);
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(value);
    };
    window.addEventListener('hashchange', onNavigate);
    dialog.append(h('form', {
      method: 'dialog',
      onsubmit: (e) => {
        e.preventDefault();
        const values = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]));
        finish(values);
      },
    }, h('h2', {}, title), body,
    h('div', { class: 'row' }, h('span', { class: 'spacer' }),
      h('button', { type: 'button', onclick: () => finish(null), 'data-testid': `${testid}-cancel` }, t('common.cancel')),
      h('button', { type: 'submit', class: 'primary', 'data-testid': `${testid}-ok` }, okLabel))));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); finish(null); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function emptyRow(cols, text) {
  return h('tr', {}, h('td', { colspan: cols, class: 'empty' }, text || t('common.empty')));
}

export function batchSummary(result) {
  // Batch answers report per-item outcomes; show how many worked and the first failure.
  const items = (result && (result.results || result.items)) || [];
  const failed = items.filter((i) => i.ok === false || i.error || i.outcome === 'failed');
  const ok = result && result.succeeded !== undefined ? result.succeeded : items.length - failed.length;
  return { ok, failed };
}
