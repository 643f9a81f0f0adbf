import { ApiError, errorText, post, saveSession } from '../lib/api.js';
import { h, markReady } from '../lib/dom.js';
import { lang, setLang, t } from '../lib/i18n.js';

// The API's login answer is normalised here so the rest of the console sees one user shape.
export function userFromLogin(data, username) {
  const user = data.user || {};
  return {
    username: user.username || user.name || data.username || username,
    role: user.role || data.role,
    must_change_password: Boolean(user.must_change_password ?? data.must_change_password ?? data.password_change_required),
    organization: user.organization || data.organization || 'district',
  };
}

const FAILURES_KEY = 'qinglang.loginFailures';

function failures() {
  try { return JSON.parse(sessionStorage.getItem(FAILURES_KEY) || '{}'); } catch { return {}; }
}

function countFailure(name, err) {
  if (err.body.detail && err.body.detail.totp_required) return 0;
  const all = failures();
  all[name] = (all[name] || 0) + 1;
  sessionStorage.setItem(FAILURES_KEY, JSON.stringify(all));
  return all[name];
}

function forgetFailures(name) {
  const all = failures();
  delete all[name];
  sessionStorage.setItem(FAILURES_KEY, JSON.stringify(all));
}

const threshold = (err) => (err.body.detail || {}).lockout_threshold || 5;

export default function render(main, _params, ctx) {
  const reason = sessionStorage.getItem('qinglang.logoutReason');
  sessionStorage.removeItem('qinglang.logoutReason');
  const message = h('div', { class: 'form-error', 'data-testid': 'login-error', role: 'alert' });
  const notice = reason ? h('div', { class: 'notice', 'data-testid': 'login-notice' }, reason.startsWith('!') ? reason.slice(1) : t(reason)) : null;
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, 'data-testid': 'login-username', autofocus: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'login-password' });
  const totp = h('input', { name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', 'data-testid': 'login-totp' });
  const totpRow = h('label', { hidden: true }, t('login.totp'), totp);
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, t('login.submit'));

  const form = h('form', {
    class: 'card login', 'data-testid': 'login-form',
    onsubmit: async (e) => {
      e.preventDefault();
      message.textContent = '';
      submit.disabled = true;
      const body = { username: username.value.trim(), password: password.value };
      try {
        if (totp.value) body.totp_code = totp.value.trim();
        const data = await post('/auth/login', body);
        forgetFailures(body.username);
        const token = data.token || data.access_token;
        saveSession(token, userFromLogin(data, body.username));
        sessionStorage.setItem('qinglang.lastActivity', String(Date.now()));
        ctx.navigate(ctx.user.must_change_password ? '#/password' : '#/');
      } catch (err) {
        password.value = '';
        if (err instanceof ApiError && (err.body.detail && err.body.detail.totp_required || /one-time code|一次性验证码/i.test(err.message)) && totpRow.hidden) {
          totpRow.hidden = false;
          message.textContent = t('login.totpNeeded');
        } else if (err instanceof ApiError && err.status === 401 && countFailure(body.username, err) > threshold(err)) {
          // The server answers a locked account exactly like a wrong password (it never tells
          // which accounts exist), so the console counts this browser's failures per name.
          message.textContent = `${t('login.locked')} ${t('login.lockedHint', { minutes: (err.body.detail || {}).lockout_minutes || 15 })}`;
          message.dataset.kind = 'locked';
        } else if (err instanceof ApiError && err.status === 429) {
          message.textContent = errorText(err);
          message.dataset.kind = 'rate';
        } else if (err instanceof ApiError && err.status === 401) {
          message.textContent = `${t('login.failed')} ${errorText(err)}`;
          message.dataset.kind = 'failed';
        } else {
          message.textContent = errorText(err);
          message.dataset.kind = 'error';
        }
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h1', {}, '清朗 ', h('small', {}, 'Qinglang')),
  h('p', { class: 'muted' }, t('login.subtitle')),
  notice,
  h('label', {}, t('login.username'), username),
  h('label', {}, t('login.password'), password),
  totpRow,
  message,
  submit);
  // The header (and its language switch) shows only after signing in: offer the choice here too.
  const langs = h('select', { 'data-testid': 'login-lang', 'aria-label': t('login.language'),
    onchange: () => setLang(langs.value) }, [['zh-CN', '中文'], ['en', 'English']].map(([v, label]) => h('option', { value: v, selected: v === lang() }, label)));
  main.append(h('section', { class: 'page page-login' }, h('div', { class: 'row login-lang' }, h('span', { class: 'spacer' }), langs), form));
  markReady('login');
}
