// Backups: plans with last backup and last drill, run/drill buttons with live progress, drill
// reports with RPO/RTO against the plan's objectives over time.
import { errorText, get, post } from '../lib/api.js';
import { clear, fmtDuration, fmtTime, h, markReady, pick } from '../lib/dom.js';
import { t, tv } from '../lib/i18n.js';
import { emptyRow, listItems } from '../lib/ui.js';

const DONE = new Set(['succeeded', 'success', 'passed', 'pass', 'failed', 'fail', 'error', 'finished', 'completed', 'done']);
const planName = (p) => p.name || p.id || p.plan;
const passed = (r) => r && (r.passed === true || ['passed', 'pass', 'succeeded', 'success'].includes(r.status || r.outcome || r.result));

function verdict(r) {
  if (!r) return h('span', { class: 'muted' }, '—');
  const ok = passed(r);
  return h('span', { class: ok ? 'pass' : 'fail', 'data-testid': 'verdict' }, ok ? t('backups.passed') : t('backups.failed'));
}

export default async function render(main, _params, ctx) {
  const plansBody = h('tbody', { 'data-testid': 'backup-plans' });
  const drillsBody = h('tbody', { 'data-testid': 'drill-reports' });
  const runsBody = h('tbody', { 'data-testid': 'backup-runs' });
  const live = h('div', { class: 'card', 'data-testid': 'backup-live', hidden: true });
  let stopped = false;

  async function follow(kind, plan, started) {
    live.hidden = false;
    const bar = h('span', { style: { width: '0%' } });
    const label = h('span', { 'data-testid': 'live-step' }, t('backups.starting'));
    const result = h('div', { 'data-testid': 'live-result' });
    clear(live).append(h('h2', {}, `${t(`backups.${kind}`)} · ${plan}`), h('div', { class: 'row' }, h('div', { class: 'progress' }, bar), label), result);
    const jobId = started.job_id || started.id || pick(started, 'job.id');
    let job = started.job || started;
    for (let i = 0; i < 3600 && !stopped; i++) {
      const status = job.status || job.state;
      const fraction = Number(job.progress ?? job.percent ?? 0);
      bar.style.width = `${Math.round(fraction <= 1 ? fraction * 100 : fraction)}%`;
      label.textContent = `${tv('backups.status', status)} ${job.step || job.phase || job.message || ''}`;
      if (DONE.has(status)) break;
      await new Promise((r) => setTimeout(r, 500));
      try { job = await get(`/backups/jobs/${encodeURIComponent(jobId)}`); job = job.job || job; } catch (err) { label.textContent = errorText(err); return; }
    }
    if (stopped) return;
    bar.style.width = '100%';
    const report = job.result || job.report || job.drill || job;
    clear(result).append(verdict(report),
      report.rpo_seconds !== undefined || pick(report, 'rpo.seconds') !== undefined ? h('span', { class: 'muted' }, ` RPO ${fmtDuration(report.rpo_seconds ?? pick(report, 'rpo.seconds'))} · RTO ${fmtDuration(report.rto_seconds ?? pick(report, 'rto.seconds'))}`) : null,
      job.error || report.error ? h('div', { class: 'form-error' }, job.error || report.error) : null);
    ctx.flash(passed(report) ? t(`backups.${kind}Ok`) : t(`backups.${kind}Failed`), passed(report) ? 'success' : 'error');
    await load();
  }

  async function start(kind, plan, button) {
    button.disabled = true;
    try {
      const started = await post(`/backups/plans/${encodeURIComponent(plan)}/${kind === 'drill' ? 'drill' : 'run'}`, {});
      await follow(kind, plan, started);
    } catch (err) {
      ctx.flash(errorText(err), 'error');
    } finally {
      button.disabled = false;
    }
  }

  async function load() {
    let plans = []; let drills = []; let runs = [];
    try {
      [plans, drills, runs] = await Promise.all([
        get('/backups/plans').then(listItems),
        get('/backups/drills', { size: 50 }).then(listItems).catch(() => []),
        get('/backups/runs', { size: 20 }).then(listItems).catch(() => []),
      ]);
    } catch (err) {
      clear(plansBody).append(emptyRow(7, errorText(err)));
      markReady('backups');
      return;
    }
    clear(plansBody);
    if (!plans.length) plansBody.append(emptyRow(7, t('backups.noPlans')));
    for (const p of plans) {
      const name = planName(p);
      const lastRun = p.last_backup || p.last_run || null;
      const lastDrill = p.last_drill || null;
      const runBtn = h('button', { type: 'button', 'data-testid': 'run-backup' }, t('backups.runNow'));
      const drillBtn = h('button', { type: 'button', 'data-testid': 'run-drill' }, t('backups.drillNow'));
      runBtn.addEventListener('click', () => start('backup', name, runBtn));
      drillBtn.addEventListener('click', () => start('drill', name, drillBtn));
      const canRun = ctx.can('backups.run'); const canDrill = ctx.can('drills.run');
      plansBody.append(h('tr', { 'data-testid': 'plan-row', 'data-plan': name },
        h('td', {}, h('strong', {}, name), h('div', { class: 'muted' }, p.schedule || '')),
        h('td', {}, lastRun ? [fmtTime(lastRun.finished || lastRun.ended || lastRun.started || lastRun), ' ', typeof lastRun === 'object' ? verdict(lastRun) : ''] : '—'),
        h('td', {}, lastDrill ? [fmtTime(lastDrill.finished || lastDrill.ended || lastDrill.started || lastDrill), ' ', typeof lastDrill === 'object' ? verdict(lastDrill) : ''] : '—'),
        h('td', {}, fmtDuration(p.rpo_seconds ?? pick(p, 'objectives.rpo_seconds') ?? p.rpo)),
        h('td', {}, fmtDuration(p.rto_seconds ?? pick(p, 'objectives.rto_seconds') ?? p.rto)),
        h('td', {}, canRun ? runBtn : null, ' ', canDrill ? drillBtn : null)));
    }
    clear(drillsBody);
    if (!drills.length) drillsBody.append(emptyRow(7, t('backups.noDrills')));
    for (const d of drills) {
      const rpo = d.rpo_seconds ?? pick(d, 'rpo.seconds');
      const rto = d.rto_seconds ?? pick(d, 'rto.seconds');
      const rpoObj = d.rpo_objective_seconds ?? pick(d, 'objectives.rpo_seconds') ?? pick(d, 'rpo.objective_seconds');
      const rtoObj = d.rto_objective_seconds ?? pick(d, 'objectives.rto_seconds') ?? pick(d, 'rto.objective_seconds');
      const cmp = (v, o) => h('span', { class: o !== undefined && v !== undefined && Number(v) > Number(o) ? 'fail' : '' }, `${fmtDuration(v)} / ${fmtDuration(o)}`);
      drillsBody.append(h('tr', { 'data-testid': 'drill-row' },
        h('td', {}, fmtTime(d.started || d['@timestamp'])), h('td', {}, d.plan || ''), h('td', {}, verdict(d)),
        h('td', {}, cmp(rpo, rpoObj)), h('td', {}, cmp(rto, rtoObj)),
        h('td', {}, (d.failed_checks || d.failures || []).map((f) => (typeof f === 'string' ? f : f.check || f.name)).join(', '))));
    }
    clear(runsBody);
    for (const r of runs) {
      runsBody.append(h('tr', {}, h('td', {}, fmtTime(r.started)), h('td', {}, r.plan || ''), h('td', {}, verdict(r)), h('td', {}, fmtDuration(r.duration_seconds))));
    }
    markReady('backups');
  }

  main.append(h('section', { class: 'page page-backups' },
    h('h1', {}, t('nav.backups')),
    live,
    h('table', { 'data-testid': 'plans-table' }, h('thead', {}, h('tr', {}, ['plan', 'lastBackup', 'lastDrill', 'rpo', 'rto', ''].map((c) => h('th', {}, c ? t(`backups.col.${c}`) : '')))), plansBody),
    h('h2', {}, t('backups.drills')),
    h('table', {}, h('thead', {}, h('tr', {}, ['time', 'plan', 'result', 'rpoVs', 'rtoVs', 'failedChecks'].map((c) => h('th', {}, t(`backups.col.${c}`))))), drillsBody),
    h('h2', {}, t('backups.runs')),
    h('table', {}, h('thead', {}, h('tr', {}, ['time', 'plan', 'result', 'duration'].map((c) => h('th', {}, t(`backups.col.${c}`))))), runsBody)));
  await load();
  return () => { stopped = true; };
}
