// The time range shared by the overview, the ATT&CK matrix and hunt: one choice, kept across pages.
import { h } from './dom.js';
import { t } from './i18n.js';

export const RANGES = { '15m': 900e3, '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
const KEY = 'qinglang.range';

export function currentRange() {
  const stored = localStorage.getItem(KEY);
  return RANGES[stored] ? stored : '24h';
}

export function rangeBounds(name = currentRange()) {
  const end = new Date();
  return { start: new Date(end.getTime() - RANGES[name]).toISOString(), end: end.toISOString() };
}

export function rangeSelect(onChange, testid = 'range') {
  const select = h('select', { 'data-testid': testid, 'aria-label': t('range.label'),
    onchange: () => { localStorage.setItem(KEY, select.value); onChange(select.value); } },
  Object.keys(RANGES).map((r) => h('option', { value: r, selected: r === currentRange() }, t(`range.${r}`))));
  return select;
}
