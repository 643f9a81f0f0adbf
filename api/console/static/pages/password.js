import { errorText, post, saveSession, session } from '../lib/api.js';
import { h, markReady } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

export default function render(main, _params, ctx) {
  const user = ctx.user || {};
  const min = ctx.config.password_min_length;
  const current = h('input', { type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'pw-current' });
  const next = h('input', { type: 'password', autocomplete: 'new-password', required: true, 'data-testid': 'pw-new' });
  const again = h('input', { type: 'password', autocomplete: 'new-password', required: true, 'data-testid': 'pw-again' });
  const message = h('div', { class: 'form-error', role: 'alert', 'data-testid': 'pw-error' });
  const form = h('form', {
    class: 'card login', 'data-testid': 'password-form',
    onsubmit: async (e) => {
      e.preventDefault();
      message.textContent = '';
      if (next.value !== again.value) { message.textContent = t('password.mismatch'); return; }
      try {
        const data = await post('/auth/password', { old_password: current.value, new_password: next.value });
        const token = (data && (data.token || data.access_token)) || session().token;
        saveSession(token, { ...user, must_change_password: false });
        ctx.flash(t('password.changed'), 'success');
        ctx.navigate('#/');
      } catch (err) {
        message.textContent = errorText(err);
      }
    },
  },
  h('h1', {}, t('password.title')),
  user.must_change_password ? h('p', { class: 'notice', 'data-testid': 'pw-required' }, t('password.required')) : null,
  h('p', { class: 'muted' }, t('password.policy', { min })),
  h('label', {}, t('password.current'), current),
  h('label', {}, t('password.new'), next),
  h('label', {}, t('password.again'), again),
  message,
  h('button', { type: 'submit', class: 'primary', 'data-testid': 'pw-submit' }, t('password.submit')));
  main.append(h('section', { class: 'page page-login' }, form));
  markReady('password');
}
