// The API client: one place that knows the token, the base path and the error shape.
import { lang } from './i18n.js';

const TOKEN_KEY = 'qinglang.token';
const USER_KEY = 'qinglang.user';
const ORG_KEY = 'qinglang.organization';
const BASE = '/api/v1';
export const DISTRICT = 'district';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.message || body.detail)) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
    this.body = body || {};
  }
}

const unauthenticatedHandlers = new Set();
export function onUnauthenticated(fn) { unauthenticatedHandlers.add(fn); }

export function session() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const user = sessionStorage.getItem(USER_KEY);
  return token ? { token, user: user ? JSON.parse(user) : null } : null;
}

export function saveSession(token, user) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, JSON.stringify(user || {}));
}

// The department a district user narrowed the console to (sent as X-Organization on every call);
// kept per user in localStorage, so it survives a reload and another user starts unnarrowed.
// Department users never send it: the API already holds them to their department.
function orgKey() {
  const current = session();
  const user = current && current.user;
  if (!user || !user.username || (user.organization && user.organization !== DISTRICT)) return null;
  return `${ORG_KEY}.${user.username}`;
}

export function organization() {
  const key = orgKey();
  return (key && localStorage.getItem(key)) || '';
}

export function setOrganization(id) {
  const key = orgKey();
  if (!key) return;
  if (id && id !== DISTRICT) localStorage.setItem(key, id); else localStorage.removeItem(key);
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
}

function buildUrl(path, query) {
  const url = new URL(path.startsWith('/') && !path.startsWith(BASE) ? BASE + path : path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === null || value === undefined || value === '') continue;
    if (Array.isArray(value)) { for (const v of value) url.searchParams.append(key, v); } else url.searchParams.set(key, value);
  }
  return url;
}

export async function request(method, path, { body, query, raw = false, form = null, wholeScope = false } = {}) {
  const headers = { 'Accept-Language': lang(), Accept: 'application/json' };
  const current = session();
  if (current) headers.Authorization = `Bearer ${current.token}`;
  const narrowed = current && !wholeScope ? organization() : '';
  if (narrowed) headers['X-Organization'] = narrowed;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  let resp;
  try {
    resp = await fetch(buildUrl(path, query), { method, headers, body: payload });
  } catch (err) {
    throw new ApiError(0, { error: 'network', message: String(err) });
  }
  if (resp.status === 401 && current && !path.includes('/auth/login')) {
    clearSession();
    let data = {};
    try { data = await resp.json(); } catch { /* empty body */ }
    for (const fn of unauthenticatedHandlers) fn(data);
    throw new ApiError(401, data);
  }
  if (!resp.ok) {
    let data = {};
    try { data = await resp.json(); } catch { data = { message: await resp.text().catch(() => '') }; }
    throw new ApiError(resp.status, data);
  }
  if (raw) return resp;
  if (resp.status === 204) return null;
  const type = resp.headers.get('Content-Type') || '';
  return type.includes('json') ? resp.json() : resp.text();
}

export const get = (path, query) => request('GET', path, { query });
export const post = (path, body, query) => request('POST', path, { body, query });
export const put = (path, body) => request('PUT', path, { body });
export const patch = (path, body) => request('PATCH', path, { body });
export const del = (path) => request('DELETE', path);

// Downloads go through fetch (the token is a header, not a cookie) and are handed to the browser
// as a blob so the file name from Content-Disposition is kept.
export async function download(path, query, fallbackName) {
  const resp = await request('GET', path, { query, raw: true });
  const blob = await resp.blob();
  const disposition = resp.headers.get('Content-Disposition') || '';
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : fallbackName;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url; a.download = name; document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return { name, size: blob.size };
}

// Error text for a user: the API's message says what to do next; field errors are listed.
export function errorText(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  const detail = Array.isArray(err.body.detail)
    ? err.body.detail.map((d) => (d.field ? `${d.field}: ${d.message || d.msg}` : (d.message || d.msg || JSON.stringify(d)))).join('; ')
    : '';
  return detail ? `${err.message} (${detail})` : err.message;
}
