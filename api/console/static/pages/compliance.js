// Compliance: overall score, per-family bars, trend over runs, failed items with evidence,
// manual assessment form, report download (PDF/HTML).
import { download, errorText, get, post, request } from '../lib/api.js';
import { add, clear, fill, fmtTime, fmtValue, h, markReady, pick } from '../lib/dom.js';
import { lang, t, tv } from '../lib/i18n.js';
import { emptyRow, listItems } from '../lib/ui.js';
import { systemsSection } from './compliance_systems.js';

const MANUAL_RESULTS = ['符合', '部分符合', '不符合', '不适用'];
const FAILED = new Set(['不符合', '部分符合']);
const PENDING = '待人工';

export const runId = (r) => r.id || r.run_id;
const scoreOf = (r) => r.overall ?? pick(r, 'score.overall');

function trendChart(runs) {
  const points = runs.filter((r) => typeof scoreOf(r) === 'number').slice().reverse();
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'trend'); svg.setAttribute('viewBox', '0 0 400 120'); svg.setAttribute('preserveAspectRatio', 'none');
  svg.dataset.testid = 'compliance-trend';
  if (points.length) {
    const step = points.length > 1 ? 380 / (points.length - 1) : 0;
    const coords = points.map((r, i) => [10 + i * step, 110 - Math.max(0, Math.min(100, scoreOf(r)))]);
    const line = document.createElementNS(svg.namespaceURI, 'polyline');
    line.setAttribute('points', coords.map((c) => c.join(',')).join(' '));
    line.setAttribute('fill', 'none'); line.setAttribute('stroke', '#0b6e4f'); line.setAttribute('stroke-width', '2');
    svg.append(line);
    for (const [x, y] of coords) {
      const dot = document.createElementNS(svg.namespaceURI, 'circle');
      dot.setAttribute('cx', x); dot.setAttribute('cy', y); dot.setAttribute('r', '3'); dot.setAttribute('fill', '#0b6e4f');
      svg.append(dot);
    }
  }
  return svg;
}

function familyRows(run, names) {
  const fam = pick(run, 'score.families') || {};
  return Object.entries(fam).map(([code, f]) => {
    const score = f.score === null || f.score === undefined ? null : Number(f.score);
    return h('tr', { 'data-testid': 'family-row', 'data-family': code },
      h('td', {}, names[code] || code),
      h('td', { style: { width: '45%' } }, h('div', { class: 'bar' }, h('span', { style: { width: `${Math.max(0, Math.min(100, score || 0))}%` } }))),
      h('td', { class: 'num' }, score === null ? '—' : score.toFixed(1)),
      h('td', { class: 'num muted' }, `${f.assessed ?? 0}/${f.items ?? 0}`));
  });
}

export default async function render(main, params, ctx) {
  const canRun = ctx.can('compliance.run');
  const canAssess = ctx.can('compliance.assess');
  const summary = h('div', { class: 'card', 'data-testid': 'compliance-summary' });
  const families = h('tbody', { 'data-testid': 'compliance-families' });
  const failedBody = h('tbody', { 'data-testid': 'compliance-failed' });
  const runsBody = h('tbody', { 'data-testid': 'compliance-runs' });
  const trendBox = h('div', { class: 'card' });
  const progress = h('span', { class: 'muted', 'data-testid': 'compliance-progress' });
  const levelSel = h('select', { 'data-testid': 'compliance-level' }, h('option', { value: '3' }, t('compliance.level3')), h('option', { value: '2' }, t('compliance.level2')));
  let current = null;
  let allResults = [];
  let checkResults = new Map();
  let familyNames = {};
  const itemFilter = h('select', { 'data-testid': 'compliance-item-filter' }, ['failed', 'pending', 'all'].map((f) => h('option', { value: f }, t(`compliance.filter.${f}`))));
  itemFilter.addEventListener('change', () => { itemPage = 0; renderItems(); });
  const ITEMS_PER_PAGE = 25;
  let itemPage = 0;
  const itemSearch = h('input', { type: 'search', placeholder: t('compliance.searchItems'), 'data-testid': 'compliance-item-search' });
  itemSearch.addEventListener('input', () => { itemPage = 0; renderItems(); });
  const pager = h('span', { class: 'pager', 'data-testid': 'items-pager' });

  async function runNow(button) {
    button.disabled = true;
    progress.textContent = t('compliance.running');
    let cancel = null;
    try {
      const started = await post('/compliance/runs', { level: Number(levelSel.value) });
      let job = started;
      // Stops the run between hosts (POST /compliance/jobs/{id}/cancel); it is kept as cancelled.
      cancel = h('button', { type: 'button', 'data-testid': 'compliance-cancel' }, t('common.cancel'));
      cancel.addEventListener('click', async () => {
        cancel.disabled = true;
        try { await post(`/compliance/jobs/${encodeURIComponent(started.job_id)}/cancel`, {}); } catch (err) { ctx.flash(errorText(err), 'error'); cancel.disabled = false; }
      });
      progress.after(cancel);
      // The run continues in the background; follow its job until it is done.
      for (let i = 0; i < 1200 && job.status === 'running'; i++) {
        await new Promise((r) => setTimeout(r, 500));
        job = await get(`/compliance/jobs/${encodeURIComponent(started.job_id)}`);
        const messages = job.messages || [];
        if (messages.length) progress.textContent = `${t('compliance.running')} ${messages[messages.length - 1]}`;
      }
      if (job.status === 'cancelled') {
        progress.textContent = t('common.cancelled');
        ctx.flash(t('common.cancelled'), 'info');
        return;
      }
      if (job.status !== 'finished') throw new Error(job.error || job.status);
      progress.textContent = t('compliance.done');
      ctx.flash(t('compliance.done'), 'success');
      await load(job.result.run_id);
    } catch (err) {
      progress.textContent = '';
      ctx.flash(errorText(err), 'error');
    } finally {
      if (cancel) cancel.remove();
      button.disabled = false;
    }
  }

  async function assess(item) {
    const resultSel = h('select', { required: true, 'data-testid': 'assess-result' }, MANUAL_RESULTS.map((r) => h('option', { value: r }, tv('compliance.result', r))));
    const note = h('textarea', { rows: 3, required: true, 'data-testid': 'assess-note' });
    const evidence = h('input', { type: 'file', multiple: true, 'data-testid': 'assess-file' });
    const dialog = h('dialog', { 'data-testid': 'assess-dialog' });
    const close = () => { dialog.close(); dialog.remove(); };
    dialog.append(h('form', {
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const form = new FormData();
          form.append('item_id', item.item_id);
          form.append('result', resultSel.value);
          form.append('note', note.value);
          form.append('asset', item.asset || 'system');
          for (const file of evidence.files) form.append('files', file);
          await request('POST', `/compliance/runs/${encodeURIComponent(runId(current))}/assessments`, { form });
          close();
          ctx.flash(t('compliance.assessed'), 'success');
          await load(runId(current));
        } catch (err) { ctx.flash(errorText(err), 'error'); }
      },
    }, h('h2', {}, `${item.item_id} ${t('compliance.assess')}`), h('p', { class: 'muted' }, item.asset || ''),
    h('label', {}, t('compliance.result'), resultSel), h('label', {}, t('compliance.note'), note), h('label', {}, t('compliance.evidence'), evidence),
    h('div', { class: 'row' }, h('span', { class: 'spacer' }), h('button', { type: 'button', onclick: close }, t('common.cancel')), h('button', { type: 'submit', class: 'primary', 'data-testid': 'assess-ok' }, t('common.save')))));
    document.body.append(dialog);
    dialog.showModal();
  }

  function evidenceList(ev) {
    return (Array.isArray(ev) ? ev : [ev]).map((e) => (typeof e === 'string' ? h('pre', {}, e)
      : h('div', { class: 'evidence' }, h('strong', {}, e.source || e.path || e.name || ''), e.sha256 ? h('span', { class: 'muted' }, ` sha256 ${String(e.sha256).slice(0, 12)}…`) : null,
        e.time ? h('span', { class: 'muted' }, ` ${fmtTime(e.time)}`) : null, e.excerpt ? h('pre', {}, e.excerpt) : null)));
  }

  // An item's evidence: its own (manual) evidence plus what each of its checks inspected.
  function evidenceCell(item) {
    const checks = (item.checks || []).map((id) => checkResults.get(`${id}|${item.asset}`)).filter(Boolean);
    const count = (item.evidence || []).length + checks.reduce((n, c) => n + (c.evidence || []).length, 0);
    if (!count && !checks.length) return '—';
    return h('details', {}, h('summary', {}, `${t('compliance.evidence')} (${count})`),
      evidenceList(item.evidence || []),
      checks.map((c) => h('div', { class: 'check-evidence' },
        h('div', {}, h('code', {}, c.check_id), ' ', h('span', { class: FAILED.has(c.result) ? 'fail' : c.result === '符合' ? 'pass' : '' }, tv('compliance.result', c.result)), ' ', h('span', { class: 'muted' }, c.detail || c.error || '')),
        evidenceList(c.evidence || []))));
  }

  function renderItems() {
    clear(failedBody);
    const wanted = itemFilter.value;
    const needle = itemSearch.value.trim().toLowerCase();
    const rows = allResults.filter((r) => (wanted === 'failed' ? FAILED.has(r.result) : wanted === 'pending' ? r.result === PENDING : true))
      .filter((r) => !needle || [r.item_id, r.requirement, r.summary, r.detail, r.asset].some((v) => String(v || '').toLowerCase().includes(needle)));
    const pages = Math.max(1, Math.ceil(rows.length / ITEMS_PER_PAGE));
    itemPage = Math.min(itemPage, pages - 1);
    fill(pager, h('button', { type: 'button', disabled: itemPage === 0, 'data-testid': 'items-prev', onclick: () => { itemPage -= 1; renderItems(); } }, '‹'),
      h('span', { class: 'muted', 'data-testid': 'items-page' }, t('compliance.page', { page: itemPage + 1, pages, n: rows.length })),
      h('button', { type: 'button', disabled: itemPage >= pages - 1, 'data-testid': 'items-next', onclick: () => { itemPage += 1; renderItems(); } }, '›'));
    if (!rows.length) add(failedBody, emptyRow(6, t('compliance.noFailed')));
    for (const item of rows.slice(itemPage * ITEMS_PER_PAGE, (itemPage + 1) * ITEMS_PER_PAGE)) {
      const text = lang() === 'zh-CN' ? item.requirement : (item.summary || item.requirement);
      add(failedBody, h('tr', { 'data-testid': 'failed-row', 'data-item': item.item_id },
        h('td', { class: 'item-cell' }, h('strong', {}, item.item_id), h('div', { class: 'muted' }, familyNames[item.family] || item.family || ''),
          text ? h('div', { class: 'requirement', 'data-testid': 'item-requirement' }, text) : null),
        h('td', {}, item.asset || ''),
        h('td', {}, h('span', { class: FAILED.has(item.result) ? 'fail' : item.result === '符合' ? 'pass' : '' }, tv('compliance.result', item.result)), h('div', { class: 'muted' }, tv('compliance.source', item.source))),
        h('td', {}, item.detail || ''),
        h('td', { 'data-testid': 'item-evidence' }, evidenceCell(item)),
        h('td', {}, canAssess ? h('button', { type: 'button', 'data-testid': 'assess-button', onclick: () => assess(item) }, t('compliance.assess')) : null)));
    }
  }

  function renderRun(run) {
    current = run;
    clear(summary); clear(families);
    if (!run) { add(summary, h('p', { class: 'muted', 'data-testid': 'compliance-empty' }, t('compliance.noRuns'))); renderItems(); return; }
    const score = scoreOf(run);
    const risks = pick(run, 'score.risks') || {};
    const counts = run.counts || pick(run, 'score.counts') || {};
    add(summary, 
      h('div', { class: 'row' }, h('span', { class: 'score', 'data-testid': 'compliance-score' }, typeof score === 'number' ? score.toFixed(1) : '—'),
        h('span', { class: 'band', 'data-testid': 'compliance-band', 'data-band': run.band || '' }, tv('compliance.band', run.band) || ''), h('span', { class: 'spacer' }),
        ['pdf', 'html'].map((fmt) => h('button', { type: 'button', 'data-testid': `download-${fmt}`, onclick: () => download(`/compliance/runs/${encodeURIComponent(runId(run))}/report`, { format: fmt, lang: lang() }, `compliance-${runId(run)}.${fmt}`).catch((err) => ctx.flash(errorText(err), 'error')) }, t(`compliance.download.${fmt}`)))),
      h('dl', { class: 'kv' },
        h('dt', {}, t('compliance.run')), h('dd', { 'data-testid': 'compliance-run-id' }, runId(run)),
        run.system ? [h('dt', {}, t('systems.col.system')), h('dd', { 'data-testid': 'compliance-run-system' }, `${pick(run.system, `name.${lang() === 'en' ? 'en' : 'zh'}`) || run.system.id} (${run.system.id})`)] : null,
        h('dt', {}, t('compliance.when')), h('dd', {}, `${fmtTime(run.finished_at || run.started_at)} · ${t('compliance.levelN', { n: run.level })} · ${(run.targets || []).join(', ')}`),
        h('dt', {}, t('compliance.risks')), h('dd', {}, ['high', 'medium', 'low'].map((k) => `${t(`risk.${k}`)} ${risks[k] ?? 0}`).join(' · ')),
        h('dt', {}, t('compliance.counts')), h('dd', {}, Object.entries(counts).map(([k, v]) => `${tv('compliance.result', k)} ${v}`).join(' · '))),
      (run.errors || []).length ? h('div', { class: 'form-error' }, run.errors.join('; ')) : null,
      h('p', { class: 'muted' }, t('compliance.estimate')));
    add(families, ...familyRows(run, familyNames));
    renderItems();
  }

  async function load(selectId) {
    let runs = [];
    try {
      const [list, cats] = await Promise.all([get('/compliance/runs', { limit: 20 }), catalogsOnce()]);
      runs = listItems(list);
      familyNames = cats;
    } catch (err) { add(summary, h('p', { class: 'form-error' }, errorText(err))); }
    clear(runsBody);
    for (const r of runs) {
      add(runsBody, h('tr', { 'data-testid': 'run-row' }, h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => load(runId(r)) }, runId(r))),
        h('td', {}, fmtTime(r.finished_at || r.started_at)), h('td', {}, fmtValue(r.level)), h('td', {}, tv('compliance.status', r.status)),
        h('td', { class: 'num' }, typeof scoreOf(r) === 'number' ? scoreOf(r).toFixed(1) : '—')));
    }
    fill(trendBox, h('h2', {}, t('compliance.trend')), trendChart(runs.filter((r) => r.status === 'finished')));
    const run = runs.find((r) => runId(r) === selectId) || runs.find((r) => r.status === 'finished') || runs[0] || null;
    allResults = [];
    checkResults = new Map();
    if (run) {
      try {
        const [items, checks] = await Promise.all([
          get(`/compliance/runs/${encodeURIComponent(runId(run))}/results`),
          get(`/compliance/runs/${encodeURIComponent(runId(run))}/results`, { kind: 'check' }),
        ]);
        allResults = listItems(items);
        for (const c of listItems(checks)) checkResults.set(`${c.check_id}|${c.asset}`, c);
      } catch (err) { ctx.flash(errorText(err), 'error'); }
    }
    renderRun(run);
    markReady('compliance');
  }

  let catalogNames = null;
  async function catalogsOnce() {
    if (!catalogNames) {
      catalogNames = {};
      for (const cat of listItems(await get('/compliance/catalogs'))) {
        for (const f of cat.families || []) catalogNames[f.code] = (f.name && (f.name[lang()] || f.name['zh-CN'])) || f.code;
      }
    }
    return catalogNames;
  }

  const systemsBox = systemsSection(ctx, { onOpen: (id) => load(id) });
  const runButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'compliance-run' }, t('compliance.runNow'));
  runButton.addEventListener('click', () => runNow(runButton));
  main.append(h('section', { class: 'page page-compliance' },
    h('div', { class: 'row' }, h('h1', {}, t('nav.compliance')), h('span', { class: 'spacer' }), canRun ? [levelSel, runButton, progress] : null),
    systemsBox.element,
    summary,
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, t('compliance.families')), h('table', { 'data-testid': 'compliance-family-table' }, families)),
      h('div', {}, trendBox, h('div', { class: 'card' }, h('h2', {}, t('compliance.runs')), h('table', {}, runsBody)))),
    h('div', { class: 'row' }, h('h2', {}, t('compliance.items')), itemFilter, itemSearch, pager),
    h('table', {}, h('thead', {}, h('tr', {}, ['item', 'asset', 'result', 'detail', 'evidence', ''].map((c) => h('th', {}, c ? t(`compliance.col.${c}`) : '')))), failedBody)));
  await Promise.all([load(params.query.run), systemsBox.load()]);
}
