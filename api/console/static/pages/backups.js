// Backups: plans with last backup and last drill, run/drill buttons with live progress, drill
// reports with RPO/RTO against the plan's objectives over time.
import { download, errorText, get, post } from '../lib/api.js';
import { add, clear, fill, fmtBytes, fmtDuration, fmtTime, h, markReady, pick } from '../lib/dom.js';
import { lang, t, tv } from '../lib/i18n.js';
import { emptyRow, listItems } from '../lib/ui.js';

const OK = new Set(['success', 'passed']);
const SVG = 'http://www.w3.org/2000/svg';

function verdict(doc) {
  if (!doc) return h('span', { class: 'muted' }, '—');
  const status = doc.status;
  const cls = OK.has(status) ? 'pass' : status === 'running' ? 'muted' : 'fail';
  return h('span', { class: cls, 'data-testid': 'verdict', 'data-status': status }, tv('backups.status', status));
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// Drills over time: for each drill, RTO and RPO as a share of their objectives (the line at 100%).
function objectivesChart(drills) {
  const done = drills.filter((d) => d.status !== 'running').slice(0, 30).reverse();
  const chart = svg('svg', { class: 'trend', viewBox: '0 0 400 120', preserveAspectRatio: 'none', 'data-testid': 'drill-chart' });
  const y = (ratio) => 110 - Math.min(1.5, ratio) / 1.5 * 100;
  chart.append(svg('line', { x1: 0, x2: 400, y1: y(1), y2: y(1), stroke: '#b42318', 'stroke-dasharray': '4 3' }));
  const step = 400 / Math.max(1, done.length);
  done.forEach((d, i) => {
    const rto = d.rto_seconds / pick(d, 'objectives.rto_seconds');
    const rpo = d.rpo_seconds === null || d.rpo_seconds === undefined ? 1.5 : d.rpo_seconds / pick(d, 'objectives.rpo_seconds');
    const w = Math.min(16, Math.max(2, step / 2 - 2));
    for (const [k, ratio, colour] of [[0, rto, '#2f6fb3'], [1, rpo, '#0b6e4f']]) {
      const top = Math.min(108, y(Number.isFinite(ratio) ? ratio : 0));
      const bar = svg('rect', { x: i * step + k * (w + 1) + 1, y: top, width: w, height: 110 - top, fill: colour });
      bar.append(svg('title', {}));
      bar.firstChild.textContent = `${fmtTime(d.started)} ${k ? 'RPO' : 'RTO'} ${(ratio * 100).toFixed(0)}%`;
      chart.append(bar);
    }
  });
  return chart;
}

export default async function render(main, _params, ctx) {
  const plansBody = h('tbody', { 'data-testid': 'backup-plans' });
  const drillsBody = h('tbody', { 'data-testid': 'drill-reports' });
  const runsBody = h('tbody', { 'data-testid': 'backup-runs' });
  const chartBox = h('div', { class: 'card' });
  const live = h('div', { class: 'card', 'data-testid': 'backup-live', hidden: true });
  let stopped = false;

  async function follow(kind, planId, job) {
    live.hidden = false;
    const bar = h('span', { style: { width: '0%' } });
    const label = h('span', { 'data-testid': 'live-step' }, t('backups.starting'));
    const result = h('div', { 'data-testid': 'live-result' });
    // Stops the job at its next stage (POST /backups/jobs/{id}/cancel); the run or drill is kept as cancelled.
    const cancel = h('button', { type: 'button', 'data-testid': 'live-cancel' }, t('common.cancel'));
    cancel.addEventListener('click', async () => {
      cancel.disabled = true;
      try { await post(`/backups/jobs/${encodeURIComponent(job.job_id)}/cancel`, {}); } catch (err) { ctx.flash(errorText(err), 'error'); cancel.disabled = false; }
    });
    fill(live, h('h2', {}, `${t(`backups.${kind}`)} · ${planId}`), h('div', { class: 'row' }, h('div', { class: 'progress' }, bar), label, cancel), result);
    live.dataset.state = 'running';
    for (let i = 0; i < 7200 && !stopped && job.status === 'running'; i++) {
      bar.style.width = `${Math.round(100 * Number(job.fraction || 0))}%`;
      label.textContent = `${tv('backups.stage', job.stage)} ${job.message || ''}`;
      await new Promise((r) => setTimeout(r, 500));
      try { job = await get(`/backups/jobs/${encodeURIComponent(job.job_id)}`); } catch (err) { label.textContent = errorText(err); live.dataset.state = 'error'; return; }
    }
    if (stopped) return;
    cancel.remove();
    if (job.status === 'cancelled') {
      label.textContent = t('common.cancelled');
      live.dataset.state = 'cancelled';
      ctx.flash(t('common.cancelled'), 'info');
      await load();
      return;
    }
    bar.style.width = '100%';
    const outcome = job.result || {};
    const ok = job.status === 'finished' && OK.has(outcome.status);
    label.textContent = tv('backups.stage', 'done');
    let detail = null;
    if (kind === 'drill' && outcome.drill_id) {
      try {
        const d = await get(`/backups/drills/${encodeURIComponent(outcome.drill_id)}`);
        detail = h('span', { class: 'muted', 'data-testid': 'live-objectives' }, ` RPO ${fmtDuration(d.rpo_seconds)} / ${fmtDuration(pick(d, 'objectives.rpo_seconds'))} · RTO ${fmtDuration(d.rto_seconds)} / ${fmtDuration(pick(d, 'objectives.rto_seconds'))}`);
      } catch { /* the history table shows it */ }
    }
    const problem = job.error || outcome.error || (outcome.failed_check ? t('backups.failedCheck', { name: outcome.failed_check }) : '');
    fill(result, ...[verdict({ status: outcome.status || 'failed' }), detail, problem ? h('div', { class: 'form-error' }, problem) : null].filter(Boolean));
    live.dataset.state = ok ? 'ok' : 'failed';
    ctx.flash(ok ? t(`backups.${kind}Ok`) : t(`backups.${kind}Failed`), ok ? 'success' : 'error');
    await load();
  }

  async function start(kind, planId, button) {
    button.disabled = true;
    try {
      const job = kind === 'drill'
        ? await post(`/backups/plans/${encodeURIComponent(planId)}/drills`, { point: 'newest' })
        : await post(`/backups/plans/${encodeURIComponent(planId)}/runs`, {});
      await follow(kind, planId, job);
    } catch (err) {
      ctx.flash(errorText(err), 'error');
    } finally {
      button.disabled = false;
    }
  }

  // A real restore (sysadmin only): preview the changes, then type the plan id to go on.
  function restoreForm(planId) {
    live.hidden = false;
    live.dataset.state = 'restore';
    const field = (name, attrs) => h('input', { name, 'data-testid': `restore-${name}`, ...attrs });
    const point = field('point', { value: 'newest' });
    const source = h('select', { name: 'source', 'data-testid': 'restore-source' }, h('option', { value: 'primary' }, 'primary'), h('option', { value: 'offsite' }, 'offsite'));
    const indices = field('indices', { type: 'checkbox', checked: true });
    const targetDir = field('target_dir', { placeholder: '/srv/restore' });
    const database = field('database', { placeholder: 'soc_restored' });
    const confirm = field('confirm', { placeholder: planId, autocomplete: 'off' });
    const changes = h('ul', { 'data-testid': 'restore-changes' });
    const result = h('div', { 'data-testid': 'restore-result' });
    const previewBtn = h('button', { type: 'button', 'data-testid': 'restore-preview' }, t('backups.restorePreview'));
    const goBtn = h('button', { type: 'button', class: 'danger', 'data-testid': 'restore-go', disabled: true }, t('backups.restoreGo'));
    const body = (dryRun) => ({ point: point.value || 'newest', source: source.value, indices: indices.checked,
      target_dir: targetDir.value || null, database: database.value || null, dry_run: dryRun, confirm: dryRun ? null : confirm.value });
    const describe = (ch) => [
      ...(ch.indices || []).map((c) => `${c.snapshot_index} → ${c.restore_as}; ${c.name} (${c.now}) → alias${c.set_aside_as ? `; ${c.name} kept as ${c.set_aside_as}` : ''}${c.aliases.map((a) => `; ${a.alias}${a.is_write_index ? ' (write)' : ''}`).join('')}`),
      ...(ch.files ? [`${ch.files.files} files → ${ch.files.target_dir} (${ch.files.would_overwrite} overwritten)`] : []),
      ...(ch.database ? [`pg_restore → ${ch.database.name}${ch.database.exists ? ' — exists!' : ''}`] : [])];
    let previewed = false;
    confirm.addEventListener('input', () => { goBtn.disabled = !previewed || confirm.value !== planId; });
    previewBtn.addEventListener('click', async () => {
      try {
        const doc = await post(`/backups/plans/${encodeURIComponent(planId)}/restore`, body(true));
        fill(changes, ...describe(doc.changes).map((line) => h('li', {}, line)));
        previewed = true;
        goBtn.disabled = confirm.value !== planId;
      } catch (err) { fill(result, h('div', { class: 'form-error' }, errorText(err))); }
    });
    goBtn.addEventListener('click', async () => {
      goBtn.disabled = true;
      live.dataset.state = 'running';
      try {
        const doc = await post(`/backups/plans/${encodeURIComponent(planId)}/restore`, body(false));
        fill(result, verdict(doc), h('span', { class: 'muted', 'data-testid': 'restore-objectives' }, ` RPO ${fmtDuration(doc.rpo_seconds)} · RTO ${fmtDuration(doc.rto_seconds)}`),
          ...(doc.checks || []).map((c) => h('div', { class: c.status === 'failed' ? 'fail' : 'muted' }, `${c.name}: ${c.detail}`)));
        live.dataset.state = doc.status === 'success' ? 'ok' : 'failed';
      } catch (err) {
        fill(result, h('div', { class: 'form-error' }, errorText(err)));
        live.dataset.state = 'error';
      }
    });
    fill(live, h('h2', {}, `${t('backups.restoreTitle')} · ${planId}`),
      h('div', { class: 'row' }, h('label', {}, t('backups.restorePoint'), point), h('label', {}, t('backups.restoreSource'), source),
        h('label', {}, indices, t('backups.restoreIndices'))),
      h('div', { class: 'row' }, h('label', {}, t('backups.restoreTargetDir'), targetDir), h('label', {}, t('backups.restoreDatabase'), database)),
      previewBtn, changes,
      h('div', { class: 'row' }, h('label', {}, t('backups.restoreConfirm', { plan: planId }), confirm), goBtn), result);
  }

  async function load() {
    let plans; let drills; let runs;
    try {
      [plans, drills, runs] = await Promise.all([
        get('/backups/plans').then(listItems),
        get('/backups/drills', { limit: 50 }).then(listItems),
        get('/backups/runs', { limit: 30 }).then(listItems),
      ]);
    } catch (err) {
      fill(plansBody, emptyRow(6, errorText(err)));
      markReady('backups');
      return;
    }
    const newest = (docs, planId) => docs.filter((d) => d.plan_id === planId).sort((a, b) => String(b.started).localeCompare(String(a.started)))[0];
    clear(plansBody);
    if (!plans.length) add(plansBody, emptyRow(6, t('backups.noPlans')));
    for (const p of plans) {
      const lastRun = newest(runs, p.id);
      const lastDrill = newest(drills, p.id);
      const runBtn = h('button', { type: 'button', 'data-testid': 'run-backup' }, t('backups.runNow'));
      const drillBtn = h('button', { type: 'button', 'data-testid': 'run-drill' }, t('backups.drillNow'));
      runBtn.addEventListener('click', () => start('backup', p.id, runBtn));
      drillBtn.addEventListener('click', () => start('drill', p.id, drillBtn));
      const restoreBtn = h('button', { type: 'button', 'data-testid': 'open-restore' }, t('backups.restoreNow'));
      restoreBtn.addEventListener('click', () => restoreForm(p.id));
      const assets = [...(pick(p, 'assets.elasticsearch.indices') || []), ...(pick(p, 'assets.paths') || [])];
      add(plansBody, h('tr', { 'data-testid': 'plan-row', 'data-plan': p.id },
        h('td', {}, h('strong', {}, p.id), h('div', { class: 'muted' }, p.description || ''), h('div', { class: 'muted' }, assets.join(', '))),
        h('td', {}, lastRun ? [fmtTime(lastRun.started), ' ', verdict(lastRun), h('div', { class: 'muted' }, fmtBytes(lastRun.size_bytes))] : '—'),
        h('td', {}, lastDrill ? [fmtTime(lastDrill.started), ' ', verdict(lastDrill)] : '—'),
        h('td', {}, fmtDuration(pick(p, 'objectives.rpo'))),
        h('td', {}, fmtDuration(pick(p, 'objectives.rto'))),
        h('td', {}, ctx.can('backups.run') ? runBtn : null, ' ', ctx.can('drills.run') ? drillBtn : null, ' ',
          ctx.can('backups.restore') ? restoreBtn : null)));
    }
    clear(drillsBody);
    if (!drills.length) add(drillsBody, emptyRow(7, t('backups.noDrills')));
    for (const d of drills) {
      const cmp = (v, o, met) => h('span', { class: met === false ? 'fail' : met ? 'pass' : '' }, `${fmtDuration(v)} / ${fmtDuration(o)}`);
      add(drillsBody, h('tr', { 'data-testid': 'drill-row', 'data-drill': d.drill_id, 'data-status': d.status },
        h('td', {}, fmtTime(d.started)), h('td', {}, d.plan_id), h('td', {}, verdict(d)),
        h('td', { 'data-testid': 'drill-rpo' }, cmp(d.rpo_seconds, pick(d, 'objectives.rpo_seconds'), d.rpo_met)),
        h('td', { 'data-testid': 'drill-rto' }, cmp(d.rto_seconds, pick(d, 'objectives.rto_seconds'), d.rto_met),
          d.rto ? h('div', { class: 'muted' }, `${t('backups.fetch')} ${fmtDuration(d.rto.fetch_seconds)} · ${t('backups.restore')} ${fmtDuration(d.rto.restore_seconds)} · ${t('backups.verify')} ${fmtDuration(d.rto.verify_seconds)}`) : null),
        h('td', {}, (d.failed_checks || []).join(', ')),
        h('td', {}, d.status === 'running' ? null : h('button', { type: 'button', class: 'link', onclick: () => download(`/backups/drills/${encodeURIComponent(d.drill_id)}/report`, { format: 'html', lang: lang() }, `drill-${d.drill_id}.html`).catch((err) => ctx.flash(errorText(err), 'error')) }, t('backups.report')))));
    }
    // One chart per plan: each plan has its own objectives, so its bars are read against its own line.
    const charted = [...new Set(drills.map((d) => d.plan_id))].sort();
    fill(chartBox, h('h2', {}, t('backups.objectivesOverTime')),
      ...charted.map((planId) => h('div', { 'data-testid': 'plan-trend', 'data-plan': planId }, h('h3', {}, planId),
        objectivesChart(drills.filter((d) => d.plan_id === planId)))),
      h('p', { class: 'muted' }, t('backups.chartLegend')));
    clear(runsBody);
    if (!runs.length) add(runsBody, emptyRow(5));
    for (const r of runs) {
      add(runsBody, h('tr', { 'data-testid': 'run-row' }, h('td', {}, fmtTime(r.started)), h('td', {}, r.plan_id), h('td', {}, verdict(r)),
        h('td', {}, `${fmtBytes(r.size_bytes)} (+${fmtBytes(r.added_bytes)})`), h('td', {}, r.error || '')));
    }
    markReady('backups');
  }

  main.append(h('section', { class: 'page page-backups' },
    h('h1', {}, t('nav.backups')),
    live,
    h('table', { 'data-testid': 'plans-table' }, h('thead', {}, h('tr', {}, ['plan', 'lastBackup', 'lastDrill', 'rpo', 'rto', ''].map((c) => h('th', {}, c ? t(`backups.col.${c}`) : '')))), plansBody),
    h('h2', {}, t('backups.drills')),
    chartBox,
    h('table', {}, h('thead', {}, h('tr', {}, ['time', 'plan', 'result', 'rpoVs', 'rtoVs', 'failedChecks', ''].map((c) => h('th', {}, c ? t(`backups.col.${c}`) : '')))), drillsBody),
    h('h2', {}, t('backups.runs')),
    h('table', {}, h('thead', {}, h('tr', {}, ['time', 'plan', 'result', 'size', 'error'].map((c) => h('th', {}, t(`backups.col.${c}`))))), runsBody)));
  await load();
  return () => { stopped = true; };
}
