// Overview: the analyst's landing page — alerts over time by level, top rules/hosts/users/sources,
// open vs closed, response times, events per dataset, platform health. Charts: Apache ECharts
// (vendored, canvas renderer, tooltips drawn on the canvas so no inline styles are needed).
import { errorText, get } from '../lib/api.js';
import { fill, fmtTime, h, markReady } from '../lib/dom.js';
import { t, tv } from '../lib/i18n.js';
import { rangeBounds, rangeSelect } from '../lib/range.js';

const LEVELS = ['critical', 'high', 'medium', 'low', 'informational'];
const LEVEL_COLORS = { critical: '#a8071a', high: '#e8484f', medium: '#f59a23', low: '#d4b106', informational: '#8c8c8c' };
const TOPS = [['rules', 'rule'], ['hosts', 'host'], ['users', 'user'], ['sources', 'address']];

function card(label, value, testid) {
  return h('div', { class: 'kpi', 'data-testid': testid }, h('div', { class: 'kpi-value' }, value), h('div', { class: 'kpi-label' }, label));
}

function minutes(v) { return v === null || v === undefined ? '—' : t('overview.minutes', { n: v }); }

function topTable(kind, filterKey, buckets) {
  const rows = buckets.length ? buckets.map((b) => h('tr', {},
    h('td', {}, h('a', { href: `#/alerts?${new URLSearchParams({ [filterKey]: b.value })}`, 'data-testid': `top-${kind}-link` }, String(b.value))),
    h('td', { class: 'num' }, String(b.count)))) : [h('tr', {}, h('td', { colspan: 2, class: 'muted' }, t('overview.none')))];
  return h('div', { class: 'panel', 'data-testid': `top-${kind}` }, h('h3', {}, t(`overview.top.${kind}`)),
    h('table', { class: 'compact' }, h('thead', {}, h('tr', {}, h('th', {}, t(`overview.col.${kind}`)), h('th', { class: 'num' }, t('overview.col.count')))), h('tbody', {}, rows)));
}

function timeLabel(iso, spanMs) {
  const text = fmtTime(iso);
  return spanMs > 2 * 86400e3 ? text.slice(5, 16) : text.slice(11, 16);
}

export default async function render(main, _params, ctx) {
  const echarts = await import('../vendor/echarts-6.1.0.esm.min.js');
  const charts = [];
  const kpis = h('div', { class: 'kpis', 'data-testid': 'overview-kpis' });
  const alertsChart = h('div', { class: 'chart', 'data-testid': 'chart-alerts' });
  const eventsChart = h('div', { class: 'chart', 'data-testid': 'chart-events' });
  const tops = h('div', { class: 'tops' });
  const health = h('div', { class: 'panel', 'data-testid': 'overview-health' });
  const error = h('div', { class: 'form-error', 'data-testid': 'overview-error' });
  main.append(h('section', { class: 'page page-overview', 'data-testid': 'overview' },
    h('div', { class: 'page-head' }, h('h1', {}, t('overview.title')), rangeSelect(() => load(), 'overview-range')),
    error, kpis,
    h('div', { class: 'panel' }, h('h3', {}, t('overview.alertsOverTime')), alertsChart),
    tops,
    h('div', { class: 'panel' }, h('h3', {}, t('overview.eventsPerDataset')), eventsChart),
    health));

  function chart(el, option) {
    let c = echarts.getInstanceByDom(el);
    if (!c) { c = echarts.init(el, null, { renderer: 'canvas' }); charts.push(c); }
    c.setOption(option, true);
    return c;
  }

  async function load() {
    error.textContent = '';
    const { start, end } = rangeBounds();
    const spanMs = new Date(end) - new Date(start);
    let data;
    try { data = await get('/overview', { start, end }); } catch (err) { error.textContent = errorText(err); markReady('overview'); return; }
    fill(kpis,
      card(t('overview.total'), String(data.total), 'kpi-total'),
      card(t('overview.open'), String(data.open), 'kpi-open'),
      card(t('overview.closed'), String(data.closed), 'kpi-closed'),
      card(t('overview.mtta'), minutes(data.mean_minutes_to_acknowledge), 'kpi-mtta'),
      card(t('overview.mttc'), minutes(data.mean_minutes_to_close), 'kpi-mttc'),
      card(t('overview.events'), String(data.events.total), 'kpi-events'));
    const times = data.over_time.map((b) => timeLabel(b.time, spanMs));
    const tooltip = { trigger: 'axis', renderMode: 'richText' };
    chart(alertsChart, {
      animation: false, tooltip, legend: { top: 0, data: LEVELS.map((l) => tv('level', l)) },
      grid: { left: 48, right: 16, top: 36, bottom: 40 },
      xAxis: { type: 'category', data: times, name: t('overview.axis.time'), nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'value', name: t('overview.axis.alerts'), minInterval: 1 },
      series: LEVELS.map((l) => ({ name: tv('level', l), type: 'bar', stack: 'alerts', itemStyle: { color: LEVEL_COLORS[l] },
        data: data.over_time.map((b) => b[l] || 0) })),
    });
    const datasets = data.events.datasets;
    chart(eventsChart, {
      animation: false, tooltip, legend: { top: 0, type: 'scroll', data: datasets.map((d) => d.dataset) },
      grid: { left: 56, right: 16, top: 36, bottom: 40 },
      xAxis: { type: 'category', data: (datasets[0] ? datasets[0].over_time : []).map((b) => timeLabel(b.time, spanMs)), name: t('overview.axis.time'), nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'value', name: t('overview.axis.events'), minInterval: 1 },
      series: datasets.map((d) => ({ name: d.dataset, type: 'line', stack: 'events', areaStyle: {}, showSymbol: false, data: d.over_time.map((b) => b.count) })),
    });
    fill(tops, TOPS.map(([kind, key]) => topTable(kind, key, data.top[kind] || [])));
    try {
      const hp = await get('/platform/health');
      const comps = Object.entries(hp.components || hp || {}).filter(([, v]) => v && typeof v === 'object');
      // Events without a department get their own card: a count an operator acts on (map the host).
      const orgs = comps.find(([name]) => name === 'organizations');
      const unassigned = orgs ? card(t('overview.health.unassigned'), String(orgs[1].unassigned_events ?? 0), 'health-unassigned') : null;
      fill(health, h('h3', {}, t('overview.health')), unassigned, h('ul', { class: 'health' }, comps.filter(([name]) => name !== 'organizations').map(([name, v]) =>
        h('li', { 'data-testid': `health-${name}`, class: `health-${v.status || 'unknown'}` }, `${name}: ${v.status || '—'}`, v.detail ? ` — ${typeof v.detail === 'string' ? v.detail : ''}` : ''))));
    } catch (err) { fill(health, h('h3', {}, t('overview.health')), h('p', { class: 'muted' }, errorText(err))); }
    markReady('overview');
  }

  const onResize = () => charts.forEach((c) => c.resize());
  window.addEventListener('resize', onResize);
  await load();
  return () => { window.removeEventListener('resize', onResize); charts.forEach((c) => c.dispose()); };
}
