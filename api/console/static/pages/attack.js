// MITRE ATT&CK coverage: tactics as columns, techniques as cells; shaded where enabled rules cover
// the technique, with the number of alerts of the selected period; a cell opens those alerts.
import { errorText, get } from '../lib/api.js';
import { fill, h, markReady } from '../lib/dom.js';
import { lang, t } from '../lib/i18n.js';
import { rangeBounds, rangeSelect } from '../lib/range.js';

export default async function render(main) {
  const grid = h('div', { class: 'attack-matrix', 'data-testid': 'attack-matrix' });
  const summary = h('p', { class: 'muted', 'data-testid': 'attack-summary' });
  const onlyCovered = h('input', { type: 'checkbox', checked: true, 'data-testid': 'attack-only-covered', onchange: () => draw() });
  const error = h('div', { class: 'form-error' });
  let data = null;
  main.append(h('section', { class: 'page page-attack', 'data-testid': 'attack' },
    h('div', { class: 'page-head' }, h('h1', {}, t('attack.title')), rangeSelect(() => load(), 'attack-range'),
      h('label', { class: 'inline' }, onlyCovered, t('attack.onlyCovered'))),
    summary, error,
    h('p', { class: 'legend' }, h('span', { class: 'cell covered' }, t('attack.legend.covered')), ' ',
      h('span', { class: 'cell alerted' }, t('attack.legend.alerted')), ' ', h('span', { class: 'cell' }, t('attack.legend.none'))),
    grid));

  function draw() {
    if (!data) return;
    const zh = lang() === 'zh-CN';
    fill(grid, data.tactics.map((tac) => h('div', { class: 'tactic', 'data-testid': `tactic-${tac.short}` },
      h('a', { class: 'tactic-head', href: `#/alerts?${new URLSearchParams({ tactic: tac.short, range: '30d' })}`, title: tac.id },
        h('strong', {}, zh ? tac.name_zh : tac.name), h('span', { class: 'muted' }, ` ${tac.covered}/${tac.total}`)),
      tac.techniques.filter((c) => !onlyCovered.checked || c.rules || c.alerts).map((c) => h('a', {
        class: `cell${c.rules ? ' covered' : ''}${c.alerts ? ' alerted' : ''}`, 'data-testid': `technique-${c.id}`,
        href: `#/alerts?${new URLSearchParams({ technique: c.id, range: '30d' })}`,
        title: t('attack.cellTitle', { id: c.id, rules: c.rules, alerts: c.alerts }),
      }, h('span', { class: 'tid' }, c.id), ' ', c.name, c.alerts ? h('span', { class: 'badge' }, String(c.alerts)) : null)))));
    summary.textContent = t('attack.summary', { covered: data.covered, total: data.total, version: data.version });
  }

  async function load() {
    error.textContent = '';
    try { data = await get('/attack/matrix', rangeBounds()); } catch (err) { error.textContent = errorText(err); }
    draw();
    markReady('attack');
  }
  await load();
}
