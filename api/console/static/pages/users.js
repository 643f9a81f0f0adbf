// Users (admin only): list with lock state, create, change role, disable, unlock, reset password.
import { errorText, get, patch, post } from '../lib/api.js';
import { add, fill, fmtTime, h, markReady } from '../lib/dom.js';
import { t, tv } from '../lib/i18n.js';
import { askDialog, emptyRow, listItems } from '../lib/ui.js';

const enc = encodeURIComponent;

export default async function render(main, _params, ctx) {
  const rows = h('tbody', { 'data-testid': 'user-rows' });
  const secret = h('div', { 'data-testid': 'user-secret' });
  const canManage = ctx.can('users.manage');
  const roles = ctx.config.roles;

  function showTemporary(username, password) {
    fill(secret, h('div', { class: 'notice' }, t('users.temporary', { name: username }), ' ', h('code', { 'data-testid': 'temporary-password' }, password)));
  }

  // Changes to audit-role accounts wait for an auditor's approval (202 with the request).
  function showResult(username, r) {
    if (r && r.request_id) fill(secret, h('div', { class: 'notice', 'data-testid': 'user-pending' }, t('users.pending', { name: username, id: r.request_id })));
    else if (r && r.temporary_password) showTemporary(username, r.temporary_password);
  }

  async function act(fn) {
    try { await fn(); await load(); } catch (err) { ctx.flash(errorText(err), 'error'); }
  }

  async function load() {
    let users;
    try { users = listItems(await get('/users')); } catch (err) { fill(rows, emptyRow(7, errorText(err))); markReady('users'); return; }
    fill(rows);
    if (!users.length) add(rows, emptyRow(7));
    const now = Date.now();
    for (const u of users) {
      const locked = u.locked_until && Date.parse(u.locked_until) > now;
      const roleSel = h('select', { disabled: !canManage || u.username === ctx.user.username, 'aria-label': t('users.col.role') }, roles.map((r) => h('option', { value: r, selected: r === u.role }, tv('role', r))));
      roleSel.addEventListener('change', () => act(async () => showResult(u.username, await patch(`/users/${enc(u.username)}`, { role: roleSel.value }))));
      add(rows, h('tr', { 'data-testid': 'user-row', 'data-user': u.username, 'data-locked': String(Boolean(locked)) },
        h('td', {}, h('strong', {}, u.username)),
        h('td', {}, roleSel),
        h('td', {}, locked ? h('span', { class: 'fail' }, t('users.lockedUntil', { at: fmtTime(u.locked_until) })) : u.disabled ? h('span', { class: 'muted' }, t('users.disabled')) : h('span', { class: 'pass' }, t('users.active')),
          u.must_change_password ? h('div', { class: 'muted' }, t('users.mustChange')) : null),
        h('td', {}, u.totp_enabled ? t('users.totpOn') : '—'),
        h('td', {}, fmtTime(u.last_login) || '—'),
        h('td', {}, fmtTime(u.password_changed) || '—'),
        h('td', {}, canManage ? [
          locked ? h('button', { type: 'button', 'data-testid': 'user-unlock', onclick: () => act(() => post(`/users/${enc(u.username)}/unlock`, {})) }, t('users.unlock')) : null,
          h('button', { type: 'button', 'data-testid': 'user-reset', onclick: () => act(async () => { showResult(u.username, await post(`/users/${enc(u.username)}/reset-password`, {})); }) }, t('users.reset')),
          u.username === ctx.user.username ? null : h('button', { type: 'button', onclick: () => act(async () => showResult(u.username, await patch(`/users/${enc(u.username)}`, { disabled: !u.disabled }))) }, u.disabled ? t('users.enable') : t('users.disable')),
        ] : null)));
    }
    markReady('users');
  }

  async function create() {
    const values = await askDialog(t('users.new'), [
      { name: 'username', label: t('users.col.username'), required: true },
      { name: 'role', label: t('users.col.role'), options: roles.map((r) => [r, tv('role', r)]) },
    ], t('common.save'), 'user-dialog');
    if (!values) return;
    await act(async () => { const name = values.username.trim().toLowerCase(); showResult(name, await post('/users', { username: name, role: values.role })); });
  }

  main.append(h('section', { class: 'page page-users' },
    h('div', { class: 'row' }, h('h1', {}, t('nav.users')), h('span', { class: 'spacer' }), canManage ? h('button', { type: 'button', class: 'primary', onclick: create, 'data-testid': 'user-new' }, t('users.new')) : null),
    h('p', { class: 'muted' }, t('users.separation')),
    secret,
    h('table', {}, h('thead', {}, h('tr', {}, ['username', 'role', 'state', 'totp', 'lastLogin', 'passwordChanged', ''].map((c) => h('th', {}, c ? t(`users.col.${c}`) : '')))), rows)));
  await load();
}
