import { h, markReady } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

// Landing for roles with no console page of their own (admin manages users through the API/CLI).
export default function render(main, _params, ctx) {
  const user = ctx.user || {};
  main.append(h('section', { class: 'page page-home', 'data-testid': 'home' },
    h('h1', {}, t('home.welcome', { name: user.username || '' })),
    h('p', {}, t(`home.role.${user.role}`)),
    h('p', { class: 'muted' }, h('a', { href: '#/password' }, t('password.title')))));
  markReady('home');
}
