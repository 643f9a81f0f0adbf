// Compliance: overall score, per-family bars, trend over runs, failed items with evidence,
// manual assessment form, report download (PDF/HTML).
import { download, errorText, get, post } from '../lib/api.js';
import { clear, fmtTime, fmtValue, h, markReady, pick } from '../lib/dom.js';
import { t, tv } from '../lib/i18n.js';
import { emptyRow, listItems } from '../lib/ui.js';

const MANUAL_RESULTS = ['符合', '部分符合', '不符合', '不适用'];
const FAILED = new Set(['不符合', '部分符合', 'fail', 'failed', 'non_compliant', 'partial']);

export const runId = (r) => r.id || r.run_id;
const scoreOf = (r) => pick(r, 'score.overall') ?? pick(r, 'summary.score') ?? r.score;

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

function familyRows(run) {
  const fam = pick(run, 'score.families') || run.families || pick(run, 'summary.families') || [];
  const list = Array.isArray(fam) ? fam : Object.entries(fam).map(([family, v]) => ({ family, ...(typeof v === 'object' ? v : { score: v }) }));
  return list.map((f) => {
    const score = Number(f.score ?? f.percent ?? 0);
    return h('tr', { 'data-testid': 'family-row' },
      h('td', {}, f.name || f.family || f.title),
      h('td', { style: { width: '45%' } }, h('div', { class: 'bar' }, h('span', { style: { width: `${Math.max(0, Math.min(100, score))}%` } }))),
      h('td', { class: 'num' }, score.toFixed(1)));
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

  async function runNow(button) {
    button.disabled = true;
    progress.textContent = t('compliance.running');
    try {
      const started = await post('/compliance/runs', { level: Number(levelSel.value) });
      let run = started.run || started;
      // Runs may finish inside the request or continue in the background; follow until done.
      for (let i = 0; i < 600 && run && !['finished', 'completed', 'done', 'failed', 'error'].includes(run.status) && !scoreOf(run); i++) {
        if (run.progress !== undefined) progress.textContent = `${t('compliance.running')} ${Math.round(Number(run.progress) * (run.progress <= 1 ? 100 : 1))}%`;
        await new Promise((r) => setTimeout(r, 500));
        run = await get(`/compliance/runs/${encodeURIComponent(runId(run) || runId(started))}`);
        run = run.run || run;
      }
      progress.textContent = t('compliance.done');
      ctx.flash(t('compliance.done'), 'success');
      await load(runId(run));
    } catch (err) {
      progress.textContent = '';
      ctx.flash(errorText(err), 'error');
    } finally {
      button.disabled = false;
    }
  }

  async function assess(item) {
    const resultSel = h('select', { required: true, 'data-testid': 'assess-result' }, MANUAL_RESULTS.map((r) => h('option', { value: r }, tv('compliance.result', r))));
    const note = h('textarea', { rows: 3, required: true, 'data-testid': 'assess-note' });
    const evidence = h('input', { type: 'file', 'data-testid': 'assess-file' });
    const dialog = h('dialog', { 'data-testid': 'assess-dialog' });
    const close = () => { dialog.close(); dialog.remove(); };
    dialog.append(h('form', {
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const body = { run_id: runId(current), item_id: item.item_id || item.id, result: resultSel.value, note: note.value };
          if (evidence.files[0]) {
            const file = evidence.files[0];
            body.evidence = { name: file.name, content: await file.text() };
          }
          await post('/compliance/assessments', body);
          close();
          ctx.flash(t('compliance.assessed'), 'success');
          await load(runId(current));
        } catch (err) { ctx.flash(errorText(err), 'error'); }
      },
    }, h('h2', {}, `${item.item_id || item.id} ${t('compliance.assess')}`),
    h('label', {}, t('compliance.result'), resultSel), h('label', {}, t('compliance.note'), note), h('label', {}, t('compliance.evidence'), evidence),
    h('div', { class: 'row' }, h('span', { class: 'spacer' }), h('button', { type: 'button', onclick: close }, t('common.cancel')), h('button', { type: 'submit', class: 'primary', 'data-testid': 'assess-ok' }, t('common.save')))));
    document.body.append(dialog);
    dialog.showModal();
  }

  function renderRun(run, results) {
    current = run;
    clear(summary); clear(families); clear(failedBody);
    if (!run) { summary.append(h('p', { class: 'muted' }, t('compliance.noRuns'))); return; }
    const score = scoreOf(run);
    const risks = pick(run, 'score.risks') || run.risks || {};
    summary.append(
      h('div', { class: 'row' }, h('span', { class: 'score', 'data-testid': 'compliance-score' }, typeof score === 'number' ? score.toFixed(1) : '—'),
        h('span', {}, pick(run, 'score.band') || run.band || run.conclusion || ''), h('span', { class: 'spacer' }),
        ['pdf', 'html'].map((fmt) => h('button', { type: 'button', 'data-testid': `download-${fmt}`, onclick: () => download(`/compliance/runs/${encodeURIComponent(runId(run))}/report`, { format: fmt }, `compliance-${runId(run)}.${fmt}`).catch((err) => ctx.flash(errorText(err), 'error')) }, t(`compliance.download.${fmt}`)))),
      h('dl', { class: 'kv' },
        h('dt', {}, t('compliance.run')), h('dd', {}, runId(run)),
        h('dt', {}, t('compliance.when')), h('dd', {}, fmtTime(run.finished || run.started || run['@timestamp'])),
        h('dt', {}, t('compliance.risks')), h('dd', {}, ['high', 'medium', 'low'].map((k) => `${t(`risk.${k}`)} ${risks[k] ?? 0}`).join(' · '))),
      h('p', { class: 'muted' }, t('compliance.estimate')));
    families.append(...familyRows(run));
    const failed = results.filter((r) => FAILED.has(r.result || r.status));
    if (!failed.length) failedBody.append(emptyRow(5, t('compliance.noFailed')));
    for (const item of failed.slice(0, 200)) {
      const ev = item.evidence || [];
      failedBody.append(h('tr', { 'data-testid': 'failed-row' },
        h('td', {}, item.item_id || item.id),
        h('td', {}, item.title || item.requirement || item.summary || ''),
        h('td', {}, tv('compliance.result', item.result || item.status), item.asset ? h('div', { class: 'muted' }, item.asset) : null),
        h('td', {}, h('details', {}, h('summary', {}, t('compliance.evidence')), (Array.isArray(ev) ? ev : [ev]).map((e) => h('pre', {}, typeof e === 'string' ? e : JSON.stringify(e, null, 2)))), item.remediation ? h('div', { class: 'muted' }, item.remediation) : null),
        h('td', {}, canAssess ? h('button', { type: 'button', 'data-testid': 'assess-button', onclick: () => assess(item) }, t('compliance.assess')) : null)));
    }
  }

  async function load(selectId) {
    let runs = [];
    try { runs = listItems(await get('/compliance/runs', { size: 20 })); } catch (err) { summary.append(h('p', { class: 'form-error' }, errorText(err))); }
    clear(runsBody);
    for (const r of runs) {
      runsBody.append(h('tr', {}, h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => load(runId(r)) }, runId(r))),
        h('td', {}, fmtTime(r.finished || r.started)), h('td', {}, fmtValue(r.level)), h('td', { class: 'num' }, typeof scoreOf(r) === 'number' ? scoreOf(r).toFixed(1) : '—')));
    }
    clear(trendBox).append(h('h2', {}, t('compliance.trend')), trendChart(runs));
    let run = runs.find((r) => runId(r) === selectId) || runs[0] || null;
    let results = [];
    if (run) {
      try {
        const full = await get(`/compliance/runs/${encodeURIComponent(runId(run))}`);
        run = full.run || full;
        results = listItems(await get(`/compliance/runs/${encodeURIComponent(runId(run))}/results`, { size: 500 }));
      } catch (err) { ctx.flash(errorText(err), 'error'); }
    }
    renderRun(run, results);
    markReady('compliance');
  }

  const runButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'compliance-run' }, t('compliance.runNow'));
  runButton.addEventListener('click', () => runNow(runButton));
  main.append(h('section', { class: 'page page-compliance' },
    h('div', { class: 'row' }, h('h1', {}, t('nav.compliance')), h('span', { class: 'spacer' }), canRun ? [levelSel, runButton, progress] : null),
    summary,
    h('div', { class: 'grid' },
      h('div', { class: 'card' }, h('h2', {}, t('compliance.families')), h('table', {}, families)),
      h('div', {}, trendBox, h('div', { class: 'card' }, h('h2', {}, t('compliance.runs')), h('table', {}, runsBody)))),
    h('h2', {}, t('compliance.failed')),
    h('table', {}, h('thead', {}, h('tr', {}, ['item', 'requirement', 'result', 'evidence', ''].map((c) => h('th', {}, c ? t(`compliance.col.${c}`) : '')))), failedBody)));
  await load(params.query.run);
}
