// Users (admin only): list with lock state and department, create, change role, disable, unlock,
// reset password. A department's administrator sees and creates the users of their department.
import { errorText, get, organization, patch, post, request } from '../lib/api.js';
import { add, fill, fmtTime, h, markReady } from '../lib/dom.js';
import { lang, t, tv } from '../lib/i18n.js';
import { askDialog, emptyRow, listItems } from '../lib/ui.js';

const enc = encodeURIComponent;

export default async function render(main, _params, ctx) {
  const rows = h('tbody', { 'data-testid': 'user-rows' });
  const secret = h('div', { 'data-testid': 'user-secret' });
  const canManage = ctx.can('users.manage');
  const roles = ctx.config.roles;
  let departments = [];
  try { departments = (await request('GET', '/departments', { wholeScope: true })).items || []; } catch { departments = []; }
  const deptName = (id) => {
    const d = departments.find((x) => x.id === id);
    if (!d) return id || '';
    return d.id === 'district' ? t('org.district') : (lang() === 'en' ? d.name_en : d.name_zh);
  };

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
    try { users = listItems(await get('/users')); } catch (err) { fill(rows, emptyRow(8, errorText(err))); markReady('users'); return; }
    fill(rows);
    if (!users.length) add(rows, emptyRow(8));
    const now = Date.now();
    for (const u of users) {
      const locked = u.locked_until && Date.parse(u.locked_until) > now;
      const roleSel = h('select', { disabled: !canManage || u.username === ctx.user.username, 'aria-label': t('users.col.role') }, roles.map((r) => h('option', { value: r, selected: r === u.role }, tv('role', r))));
      roleSel.addEventListener('change', () => act(async () => showResult(u.username, await patch(`/users/${enc(u.username)}`, { role: roleSel.value }))));
      add(rows, h('tr', { 'data-testid': 'user-row', 'data-user': u.username, 'data-locked': String(Boolean(locked)) },
        h('td', {}, h('strong', {}, u.username)),
        h('td', {}, roleSel),
        h('td', { 'data-testid': 'user-organization' }, deptName(u.organization)),
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
    // The department list starts with the one the console acts for (the API's default too).
    const here = organization() || ctx.user.organization || 'district';
    const choices = [...departments].sort((a, b) => (b.id === here) - (a.id === here));
    const fields = [
      { name: 'username', label: t('users.col.username'), required: true },
      { name: 'role', label: t('users.col.role'), options: roles.map((r) => [r, tv('role', r)]) },
    ];
    if (choices.length > 1) fields.push({ name: 'organization', label: t('users.col.organization'), options: choices.map((d) => [d.id, deptName(d.id)]) });
    const values = await askDialog(t('users.new'), fields, t('common.save'), 'user-dialog');
    if (!values) return;
    const body = { role: values.role };
    if (values.organization) body.organization = values.organization;
    await act(async () => { const name = values.username.trim().toLowerCase(); showResult(name, await post('/users', { username: name, ...body })); });
  }

  main.append(h('section', { class: 'page page-users' },
    h('div', { class: 'row' }, h('h1', {}, t('nav.users')), h('span', { class: 'spacer' }), canManage ? h('button', { type: 'button', class: 'primary', onclick: create, 'data-testid': 'user-new' }, t('users.new')) : null),
    h('p', { class: 'muted' }, t('users.separation')),
    secret,
    h('table', {}, h('thead', {}, h('tr', {}, ['username', 'role', 'organization', 'state', 'totp', 'lastLogin', 'passwordChanged', ''].map((c) => h('th', {}, c ? t(`users.col.${c}`) : '')))), rows)));
  await load();
}
