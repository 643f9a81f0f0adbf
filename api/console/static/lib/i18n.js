// Console message catalogs: zh-CN (default) and en, in locales/*.json; a missing key falls back
// to English, then to the key itself, so a forgotten translation is visible but harmless.
const LANG_KEY = 'qinglang.lang';
const catalogs = {};
let current = 'zh-CN';
const listeners = new Set();

// Both catalogs are fetched while the settings are still on their way; the settings decide
// the default language.
export async function initI18n(configRequest) {
  const known = ['zh-CN', 'en'];
  const loads = known.map(async (code) => {
    const resp = await fetch(`locales/${code}.json`);
    catalogs[code] = resp.ok ? await resp.json() : {};
  });
  const config = await configRequest;
  const languages = config.languages || known;
  const stored = localStorage.getItem(LANG_KEY);
  current = languages.includes(stored) ? stored : (config.default_language || 'zh-CN');
  await Promise.all(loads);
  document.documentElement.lang = current;
}

export function lang() { return current; }

export function setLang(next) {
  if (!catalogs[next] || next === current) return;
  current = next;
  localStorage.setItem(LANG_KEY, next);
  document.documentElement.lang = next;
  for (const fn of listeners) fn(next);
}

export function onLangChange(fn) { listeners.add(fn); }

export function t(key, params) {
  let text = (catalogs[current] || {})[key] ?? (catalogs.en || {})[key] ?? key;
  if (params) {
    for (const [name, value] of Object.entries(params)) text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

// Enumerated values from the API (status, level, close reason...) have catalog keys "<kind>.<value>".
export function tv(kind, value) {
  if (value === null || value === undefined || value === '') return '';
  const key = `${kind}.${value}`;
  const text = t(key);
  return text === key ? String(value) : text;
}
