// Console shell: start-up, hash routing with role guards, header, idle timeout.
import { clearSession, onUnauthenticated, post, session } from './lib/api.js';
import { clear, h } from './lib/dom.js';
import { initI18n, lang, onLangChange, setLang, t } from './lib/i18n.js';
import { forgetDepartments, renderOrgSlot } from './lib/org.js';

const ACTIVITY_KEY = 'qinglang.lastActivity';

// route name -> page module and the permission needed to see it (null: any signed-in user).
const ROUTES = {
  login: { module: './pages/login.js', public: true },
  password: { module: './pages/password.js', permission: null },
  home: { module: './pages/home.js', permission: null },
  overview: { module: './pages/overview.js', permission: 'alerts.read', nav: true },
  alerts: { module: './pages/alerts.js', permission: 'alerts.read', nav: true },
  attack: { module: './pages/attack.js', permission: 'alerts.read', nav: true },
  alert: { module: './pages/alert.js', permission: 'alerts.read' },
  cases: { module: './pages/cases.js', permission: 'cases.read', nav: true },
  case: { module: './pages/case.js', permission: 'cases.read' },
  hunt: { module: './pages/hunt.js', permission: 'events.read', nav: true },
  rules: { module: './pages/rules.js', permission: 'rules.read', nav: true },
  compliance: { module: './pages/compliance.js', permission: 'compliance.read', nav: true },
  backups: { module: './pages/backups.js', permission: 'backups.read', nav: true },
  audit: { module: './pages/audit.js', permission: 'audit.read', nav: true },
  users: { module: './pages/users.js', permission: 'users.read', nav: true },
  notifications: { module: './pages/notifications.js', permission: 'notifications.manage', nav: true },
  privacy: { module: './pages/privacy.js', permission: 'privacy.read', nav: true },
};
const DETAIL_OF = { alerts: 'alert', cases: 'case' };

const state = { config: null, cleanup: null, renderToken: 0, idleTimer: null };

export const ctx = {
  get user() { const s = session(); return s ? s.user : null; },
  get config() { return state.config; },
  can(permission) {
    const user = ctx.user;
    if (!user || !state.config) return false;
    const roles = state.config.permissions[permission] || [];
    return roles.includes(user.role);
  },
  navigate(hash) { if (location.hash === hash) route(); else location.hash = hash; },
  flash(message, kind = 'info') {
    const box = document.getElementById('flash');
    const item = h('div', { class: `flash ${kind}`, 'data-testid': `flash-${kind}` }, message,
      h('button', { type: 'button', class: 'link', onclick: () => item.remove(), 'aria-label': 'close' }, '×'));
    box.append(item);
    if (kind !== 'error') setTimeout(() => item.remove(), 6000);
  },
  refresh() { route(); },
  logout: (reasonKey) => logout(reasonKey),
};

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, queryPart] = raw.split('?');
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  const query = Object.fromEntries(new URLSearchParams(queryPart || ''));
  let name = parts[0] || 'home';
  const params = { query };
  if (parts.length > 1 && DETAIL_OF[name]) { params.id = parts[1]; name = DETAIL_OF[name]; }
  return { name, params };
}

function firstAllowedPage() {
  for (const [name, spec] of Object.entries(ROUTES)) if (spec.nav && ctx.can(spec.permission)) return name;
  return 'home';
}

async function route() {
  const token = ++state.renderToken;
  let { name, params } = parseHash();
  const current = session();
  if (!current && name !== 'login') { location.replace('#/login'); return; }
  if (current && name === 'login') { location.replace('#/'); return; }
  if (current && current.user && current.user.must_change_password && name !== 'password') {
    location.replace('#/password'); return;
  }
  if (current && name === 'home') {
    const first = firstAllowedPage();
    if (first !== 'home') { location.replace(`#/${first}`); return; }
  }
  let spec = ROUTES[name];
  if (!spec) { spec = ROUTES.home; name = 'home'; }
  renderHeader(name);
  const main = document.getElementById('main');
  if (state.cleanup) { try { state.cleanup(); } catch { /* page already gone */ } state.cleanup = null; }
  delete main.dataset.ready;
  clear(main);
  if (!spec.public && spec.permission && !ctx.can(spec.permission)) {
    main.append(h('section', { class: 'page denied', 'data-testid': 'denied' }, h('h1', {}, t('denied.title')), h('p', {}, t('denied.body'))));
    main.dataset.ready = 'denied';
    return;
  }
  const module = await import(spec.module);
  if (token !== state.renderToken) return;
  const cleanup = await module.default(main, params, ctx);
  if (token === state.renderToken && typeof cleanup === 'function') state.cleanup = cleanup;
}

function renderHeader(active) {
  const bar = document.getElementById('topbar');
  const user = ctx.user;
  bar.hidden = !user;
  document.getElementById('lang-switch').value = lang();
  document.title = `${t('app.title')} · Qinglang`;
  if (!user) { forgetDepartments(); return; }
  renderOrgSlot(document.getElementById('org-slot'), user, () => route());
  document.getElementById('who-name').textContent = user.username || user.name || '';
  document.getElementById('who-role').textContent = t(`role.${user.role}`);
  document.getElementById('logout').textContent = t('header.logout');
  const nav = clear(document.getElementById('nav'));
  const activeList = active === 'alert' ? 'alerts' : active === 'case' ? 'cases' : active;
  for (const [name, spec] of Object.entries(ROUTES)) {
    if (!spec.nav || !ctx.can(spec.permission) || user.must_change_password) continue;
    nav.append(h('a', { href: `#/${name}`, class: name === activeList ? 'active' : '', 'data-testid': `nav-${name}` }, t(`nav.${name}`)));
  }
}

export async function logout(reasonKey) {
  // The request takes the token when it is issued; the local session is cleared at once, so a
  // navigation right after the click (which may cut the request short) cannot bring it back.
  const ending = session() ? post('/auth/logout', {}).catch(() => null) : null;
  clearSession();
  sessionStorage.removeItem(ACTIVITY_KEY);
  if (reasonKey) sessionStorage.setItem('qinglang.logoutReason', reasonKey);
  location.hash = '#/login';
  route();
  await ending;
}

// Idle timeout: the API expires idle tokens; the console also leaves on its own so an unattended
// screen does not keep showing data. Activity is kept in sessionStorage so a reload honours it.
function touch() { sessionStorage.setItem(ACTIVITY_KEY, String(Date.now())); }
function idleExpired() {
  if (!session() || !state.config) return false;
  const last = Number(sessionStorage.getItem(ACTIVITY_KEY) || Date.now());
  return Date.now() - last > state.config.idle_timeout_minutes * 60000;
}
function checkIdle() { if (idleExpired()) logout('login.idle'); }

async function start() {
  // Everything the first screen needs is requested at once: settings, both catalogs and the
  // module of the page in the address bar (the browser caches it for route()).
  const first = ROUTES[parseHash().name];
  if (first) import(first.module).catch(() => null);
  const configRequest = fetch('config.json', { cache: 'no-store' }).then((r) => r.json());
  const catalogs = initI18n(configRequest);
  state.config = await configRequest;
  await catalogs;
  // Decided before the first render: a page started with the stale session could finish after
  // the logout and paint over the login screen.
  const expiredAtStart = idleExpired();
  for (const ev of ['mousedown', 'keydown', 'wheel', 'touchstart']) window.addEventListener(ev, touch, { passive: true });
  if (session() && !sessionStorage.getItem(ACTIVITY_KEY)) touch();
  state.idleTimer = setInterval(checkIdle, 5000);
  onUnauthenticated((body) => {
    sessionStorage.setItem('qinglang.logoutReason', body && body.message ? `!${body.message}` : 'login.expired');
    location.hash = '#/login';
  });
  onLangChange(() => route());
  document.getElementById('lang-switch').addEventListener('change', (e) => setLang(e.target.value));
  document.getElementById('logout').addEventListener('click', () => logout());
  window.addEventListener('hashchange', route);
  if (expiredAtStart) await logout('login.idle');
  else await route();
}

start().catch((err) => {
  document.getElementById('main').textContent = `Console failed to start: ${err}`;
});

