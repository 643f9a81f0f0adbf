// Graded systems (定级对象) roll-up on the compliance page: one row per system the user may see
// (the API applies the department scope), its latest score, band and open high risks, and a
// summary per department. A row opens the system's latest run in the page's run view.
import { errorText, get, post } from '../lib/api.js';
import { add, clear, fill, fmtTime, h } from '../lib/dom.js';
import { lang, t, tv } from '../lib/i18n.js';
import { emptyRow } from '../lib/ui.js';

const num = (v) => (typeof v === 'number' ? v.toFixed(1) : '—');
const bandClass = (band) => (band === '差' ? 'fail' : band === '优' || band === '良' ? 'pass' : '');

async function followJob(started, onMessage) {
  let job = started;
  for (let i = 0; i < 1200 && job.status === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 500));
    job = await get(`/compliance/jobs/${encodeURIComponent(started.job_id)}`);
    const messages = job.messages || [];
    if (messages.length) onMessage(messages[messages.length - 1]);
  }
  if (job.status !== 'finished') throw new Error(job.error || job.status);
  return job;
}

export function systemsSection(ctx, { onOpen }) {
  const canRun = ctx.can('compliance.run');
  const rowsBody = h('tbody', { 'data-testid': 'rollup-rows' });
  const deptBody = h('tbody', { 'data-testid': 'rollup-departments' });
  const total = h('span', { class: 'muted', 'data-testid': 'rollup-total' });
  const progress = h('span', { class: 'muted', 'data-testid': 'rollup-progress' });

  async function runSystem(row, button) {
    button.disabled = true;
    progress.textContent = `${row.system.name}: ${t('compliance.running')}`;
    try {
      const started = await post('/compliance/runs', { system: row.system.id });
      const job = await followJob(started, (m) => { progress.textContent = `${row.system.name}: ${m}`; });
      progress.textContent = '';
      ctx.flash(t('compliance.done'), 'success');
      await load();
      await onOpen(job.result.run_id);
    } catch (err) {
      progress.textContent = '';
      ctx.flash(errorText(err), 'error');
    } finally {
      button.disabled = false;
    }
  }

  function systemRow(r) {
    const never = !r.run;
    const open = never ? h('span', { class: 'muted' }, t('systems.never'))
      : h('button', { type: 'button', class: 'link', 'data-testid': 'rollup-open', onclick: () => onOpen(r.run.id) }, fmtTime(r.latest_run_at));
    const run = canRun ? h('button', { type: 'button', 'data-testid': 'rollup-run' }, t('systems.run')) : null;
    if (run) run.addEventListener('click', () => runSystem(r, run));
    return h('tr', { 'data-testid': 'rollup-row', 'data-system': r.system.id, 'data-org': r.organization.id },
      h('td', {}, r.organization.name),
      h('td', {}, h('strong', {}, r.system.name), h('div', { class: 'muted' }, r.system.id)),
      h('td', {}, t('compliance.levelN', { n: r.system.level })),
      h('td', {}, open, r.level_changed ? h('div', { class: 'fail' }, t('systems.levelChanged')) : null),
      h('td', { class: 'num', 'data-testid': 'rollup-score' }, num(r.score)),
      h('td', { 'data-testid': 'rollup-band' }, r.band ? h('span', { class: bandClass(r.band) }, tv('compliance.band', r.band)) : '—'),
      h('td', { class: 'num', 'data-testid': 'rollup-high' }, r.high_risks === null || r.high_risks === undefined ? '—'
        : h('span', { class: r.high_risks ? 'fail' : '' }, String(r.high_risks))),
      h('td', {}, run));
  }

  function deptRow(d) {
    return h('tr', { 'data-testid': 'rollup-department', 'data-org': d.organization.id },
      h('td', {}, d.organization.name),
      h('td', { class: 'num' }, String(d.systems)),
      h('td', { class: 'num' }, `${d.assessed}/${d.systems}`),
      h('td', { class: 'num' }, num(d.average_score)),
      h('td', { class: 'num' }, num(d.lowest_score)),
      h('td', {}, d.worst_band ? h('span', { class: bandClass(d.worst_band) }, tv('compliance.band', d.worst_band)) : '—'),
      h('td', { class: 'num' }, h('span', { class: d.high_risks ? 'fail' : '' }, String(d.high_risks))));
  }

  async function load() {
    clear(rowsBody); clear(deptBody);
    try {
      const data = await get('/compliance/rollup', { lang: lang() });
      if (!data.rows.length) add(rowsBody, emptyRow(8, t('systems.none')));
      for (const r of data.rows) add(rowsBody, systemRow(r));
      for (const d of data.departments) add(deptBody, deptRow(d));
      fill(total, t('systems.total', { systems: data.total.systems, assessed: data.total.assessed, high: data.total.high_risks }));
    } catch (err) {
      add(rowsBody, emptyRow(8, errorText(err)));
    }
  }

  const head = (keys) => h('thead', {}, h('tr', {}, keys.map((k) => h('th', { class: ['score', 'high', 'systems', 'assessed', 'average', 'lowest'].includes(k) ? 'num' : '' }, k ? t(`systems.col.${k}`) : ''))));
  const element = h('div', { class: 'card', 'data-testid': 'compliance-rollup' },
    h('div', { class: 'row' }, h('h2', {}, t('systems.title')), h('span', { class: 'spacer' }), progress, total),
    h('table', { 'data-testid': 'rollup-table' }, head(['department', 'system', 'level', 'latest', 'score', 'band', 'high', '']), rowsBody),
    h('h3', {}, t('systems.departments')),
    h('table', { 'data-testid': 'rollup-department-table' }, head(['department', 'systems', 'assessed', 'average', 'lowest', 'worst', 'high']), deptBody));
  return { element, load };
}
