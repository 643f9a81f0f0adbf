// Department switcher (部门): a district user narrows the whole console to one department (sent
// as X-Organization on every call); a department user sees the name of their own department.
import { DISTRICT, organization, request, setOrganization } from './api.js';
import { clear, h } from './dom.js';
import { lang, t } from './i18n.js';

let cache = null; // { username, promise } — the tree is read once per signed-in user
let renders = 0;

function departments(user) {
  if (!cache || cache.username !== user.username) {
    // The whole scope of the user (never narrowed): the list must offer the way back.
    cache = { username: user.username, promise: request('GET', '/departments', { wholeScope: true }).catch(() => null) };
  }
  return cache.promise;
}

export function forgetDepartments() { cache = null; }

const nameOf = (d) => (lang() === 'en' ? d.name_en : d.name_zh) || d.id;

function depthOf(dept, byId) {
  let depth = 0;
  for (let p = dept.parent; p && p !== DISTRICT && byId[p] && depth < 10; p = byId[p].parent) depth += 1;
  return depth;
}

export async function renderOrgSlot(slot, user, onChange) {
  const token = ++renders;
  if (!user || user.must_change_password) { clear(slot); return; }
  const data = await departments(user);
  if (token !== renders) return;
  clear(slot);
  const items = (data && data.items) || [];
  if ((user.organization || DISTRICT) !== DISTRICT) {
    const own = items.find((d) => d.id === user.organization);
    slot.append(h('span', { class: 'org', 'data-testid': 'org-name', title: t('header.organization') }, own ? nameOf(own) : user.organization));
    return;
  }
  const others = items.filter((d) => d.id !== DISTRICT);
  if (!others.length) return; // no departments yet: nothing to switch
  if (organization() && !others.some((d) => d.id === organization())) setOrganization('');
  const byId = Object.fromEntries(items.map((d) => [d.id, d]));
  const chosen = organization();
  const select = h('select', { 'data-testid': 'org-switch', 'aria-label': t('header.organization'), class: chosen ? 'narrowed' : '' },
    h('option', { value: '', selected: !chosen }, t('org.district')),
    others.map((d) => h('option', { value: d.id, selected: d.id === chosen }, '\u3000'.repeat(depthOf(d, byId)) + nameOf(d))));
  select.addEventListener('change', () => { setOrganization(select.value); onChange(); });
  slot.append(select);
}
