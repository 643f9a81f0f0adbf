// Notification channels (sysadmin): webhook, e-mail (SMTP), DingTalk and WeCom robots; level,
// rule and audience filters; language; send a test; the latest deliveries with their outcome.
import { del, errorText, get, post } from '../lib/api.js';
import { add, fill, fmtTime, h, markReady } from '../lib/dom.js';
import { t, tv } from '../lib/i18n.js';
import { askDialog, emptyRow } from '../lib/ui.js';

const TYPES = ['webhook', 'smtp', 'dingtalk', 'wecom'];
const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'];
const enc = encodeURIComponent;

function target(c) {
  const cfg = c.config || {};
  return c.type === 'smtp' ? `${(cfg.to || []).join(', ')} via ${cfg.host}:${cfg.port}` : cfg.url || '';
}

export default async function render(main, _params, ctx) {
  const canManage = ctx.can('notifications.manage');
  const rows = h('tbody', { 'data-testid': 'channel-rows' });
  const deliveries = h('tbody', { 'data-testid': 'delivery-rows' });

  async function act(fn, ok) {
    try { await fn(); if (ok) ctx.flash(ok, 'success'); await load(); } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  async function test(c) {
    try {
      const r = await post(`/notifications/channels/${enc(c.id)}/test`, {});
      if (r.ok) ctx.flash(t('notify.testOk', { name: c.name }), 'success');
      else ctx.flash(t('notify.testFailed', { name: c.name, error: r.error }), 'error');
    } catch (err) { ctx.flash(errorText(err), 'error'); }
    await load();
  }

  async function create() {
    const v = await askDialog(t('notify.new'), [
      { name: 'name', label: t('notify.col.name'), required: true },
      { name: 'type', label: t('notify.col.type'), options: TYPES.map((x) => [x, t(`notify.type.${x}`)]) },
      { name: 'min_level', label: t('notify.col.minLevel'), options: LEVELS.map((x) => [x, tv('level', x)]) },
      { name: 'language', label: t('notify.col.language'), options: [['zh-CN', '中文'], ['en', 'English']] },
      { name: 'url', label: t('notify.field.url') },
      { name: 'secret', label: t('notify.field.secret') },
      { name: 'host', label: t('notify.field.host') },
      { name: 'port', label: t('notify.field.port'), value: '25' },
      { name: 'from', label: t('notify.field.from') },
      { name: 'to', label: t('notify.field.to') },
    ], t('common.save'), 'channel-dialog');
    if (!v) return;
    const config = v.type === 'smtp'
      ? { host: v.host, port: Number(v.port) || 25, from: v.from, to: v.to.split(/[,;\s]+/).filter(Boolean) }
      : { url: v.url, ...(v.secret ? { secret: v.secret } : {}) };
    await act(() => post('/notifications/channels', { name: v.name, type: v.type, min_level: v.min_level, language: v.language, config }), t('notify.saved'));
  }

  async function load() {
    let channels = [];
    try { channels = await get('/notifications/channels'); } catch (err) { fill(rows, emptyRow(6, errorText(err))); markReady('notifications'); return; }
    fill(rows);
    if (!channels.length) add(rows, emptyRow(6, t('notify.none')));
    for (const c of channels) {
      add(rows, h('tr', { 'data-testid': 'channel-row', 'data-name': c.name },
        h('td', {}, h('strong', {}, c.name)), h('td', {}, t(`notify.type.${c.type}`)), h('td', { class: 'wrap' }, target(c)),
        h('td', {}, `≥ ${tv('level', c.min_level)}`), h('td', {}, c.enabled ? t('notify.enabled') : t('notify.disabled')),
        h('td', {}, canManage ? [
          h('button', { type: 'button', 'data-testid': 'channel-test', onclick: () => test(c) }, t('notify.test')),
          h('button', { type: 'button', class: 'danger', 'data-testid': 'channel-delete', onclick: () => act(() => del(`/notifications/channels/${enc(c.id)}`), t('notify.deleted')) }, t('notify.delete')),
        ] : null)));
    }
    let recent = [];
    try { recent = await get('/notifications/deliveries', { size: 50 }); } catch { recent = []; }
    const names = Object.fromEntries(channels.map((c) => [c.id, c.name]));
    fill(deliveries);
    if (!recent.length) add(deliveries, emptyRow(5));
    for (const d of recent) {
      add(deliveries, h('tr', { 'data-testid': 'delivery-row' }, h('td', {}, fmtTime(d.time)), h('td', {}, names[d.channel_id] || d.channel_id),
        h('td', {}, h('a', { href: `#/alerts/${enc(d.alert_id)}` }, d.alert_id)), h('td', {}, t(`notify.status.${d.status}`)), h('td', { class: 'wrap' }, d.error || '')));
    }
    markReady('notifications');
  }

  main.append(h('section', { class: 'page page-notifications', 'data-testid': 'notifications' },
    h('div', { class: 'row' }, h('h1', {}, t('nav.notifications')), h('span', { class: 'spacer' }),
      canManage ? h('button', { type: 'button', class: 'primary', onclick: create, 'data-testid': 'channel-new' }, t('notify.new')) : null),
    h('p', { class: 'muted' }, t('notify.intro')),
    h('table', {}, h('thead', {}, h('tr', {}, ['name', 'type', 'target', 'minLevel', 'state', ''].map((c) => h('th', {}, c ? t(`notify.col.${c}`) : '')))), rows),
    h('h2', {}, t('notify.deliveries')),
    h('table', {}, h('thead', {}, h('tr', {}, ['time', 'channel', 'alert', 'status', 'error'].map((c) => h('th', {}, t(`notify.col.${c}`))))), deliveries)));
  await load();
}
