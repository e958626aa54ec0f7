// The JSON API (/v1/...), called with the browser's session cookie
// (__Host-forum_session, HttpOnly, set by auth:login and auth:register and
// cleared by auth:logout). The token is never read or stored by script.

/** An error answered by the API, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.message) || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = (body && body.code) || 0; // google.rpc.Code
    this.retryAfter = retryAfter ? Number(retryAfter) || 0 : 0;
    this.violations = [];
    for (const d of (body && body.details) || []) {
      if (d['@type'] === 'type.googleapis.com/google.rpc.BadRequest') {
        for (const v of d.fieldViolations || []) this.violations.push({ field: v.field || '', description: v.description || '' });
      }
      if (d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo') this.reason = d.reason;
    }
  }
}

// google.rpc.Code values the interface tells apart.
export const Code = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, UNAUTHENTICATED: 16 };

let writes = 0;
/** How many writes (calls other than GET) are under way. */
export const writing = () => writes;

/**
 * Calls the API: method, a path under /v1/ ("threads/12"), query
 * parameters (undefined and "" are left out) and a JSON body. With
 * bookkeeping, a write that only keeps the reader's own place (a read
 * mark) is not counted by writing(): it makes no event a page would take
 * for its own.
 */
export async function call(method, path, opts) {
  if (method === 'GET' || (opts && opts.bookkeeping)) return send(method, path, opts);
  writes++;
  try {
    return await send(method, path, opts);
  } finally {
    writes--;
  }
}

async function send(method, path, { query, body, signal } = {}) {
  let url = '/v1/' + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '' && v !== null) q.set(k, String(v));
    const s = q.toString();
    if (s) url += '?' + s;
  }
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal, cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, null);
  }
  let data = null;
  try {
    const text = await res.text();
    data = text ? JSON.parse(text) : {};
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
  }
  if (!res.ok) throw new ApiError(res.status, data, res.headers.get('Retry-After'));
  return data || {};
}

export const get = (path, query, signal) => call('GET', path, { query, signal });
export const post = (path, body, query) => call('POST', path, { body: body || {}, query });
export const patch = (path, body) => call('PATCH', path, { body });
export const del = (path, query) => call('DELETE', path, { query });

/**
 * A fresh request_id (AIP-155): a retried create is then not doubled. It is
 * a time-ordered UUID (version 7: 48 bits of Unix milliseconds, then random
 * bits), which the server records more cheaply than a random one.
 */
export function requestId() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((n) => n.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

// Users and themes are shown on many pages: each is fetched once per page
// load of the application (a soft navigation keeps them).
const users = new Map();
const themes = new Map();

/** The user named `name` ("users/3"), or null if it cannot be read. */
export function user(name) {
  if (!users.has(name)) users.set(name, get(name).catch(() => null));
  return users.get(name);
}

/** Fetches the distinct users of names, so later user() calls are instant. */
export function prefetchUsers(names) {
  return Promise.all([...new Set(names.filter(Boolean))].map(user));
}

/** Forgets a cached user (after a profile edit). */
export function forgetUser(name) {
  users.delete(name);
}

/** The theme named `name` ("themes/x"); rejects with ApiError. */
export function theme(name) {
  if (!themes.has(name)) {
    const p = get(name);
    themes.set(name, p);
    p.catch(() => themes.delete(name));
  }
  return themes.get(name);
}

/** The number in a resource name: "threads/12" -> "12". */
export const idOf = (name) => (name || '').split('/').pop();

/** The URL of a reply's place: "threads/1/replies/5" -> "#r-5". */
export const replyAnchor = (name) => 'r-' + idOf(name);
