// Pieces shared by the pages: errors in plain words, labelled form fields,
// badges, links to users and tags, and the Markdown editor with its preview.

import * as api from './api.js';
import { ApiError, Code } from './api.js';
import { h, add, replace, setHTML, time, newId, focus } from './dom.js';
import { t, fmtDate } from './i18n.js';
import { preview } from './markdown.js';
import { mentions } from './mention.js';

/** An API error in plain words for the person. */
export function explain(e) {
  if (!(e instanceof ApiError)) {
    console.error(e); // a bug: say so in the console
    return t('err.unexpected');
  }
  if (e.status === 0) return t('err.network');
  if (e.status === 401 || e.code === Code.UNAUTHENTICATED) return t('err.session');
  if (e.status === 413) return t('err.tooLarge');
  if (e.status === 429 || e.code === Code.RESOURCE_EXHAUSTED) return e.retryAfter ? t('err.rateWait', { n: e.retryAfter }) : t('err.rate');
  if (e.status >= 500) return t('err.server');
  switch (e.code) {
    case Code.PERMISSION_DENIED:
      return t('err.forbidden');
    case Code.NOT_FOUND:
      return t('err.notFound');
    case Code.ABORTED:
      return t('err.conflict');
    case Code.ALREADY_EXISTS:
      return t('err.exists');
    case Code.FAILED_PRECONDITION:
      return /\blocked\b/i.test(e.message) ? t('err.locked') : t('err.precondition', { detail: detail(e.message) });
  }
  return t('err.invalid', { detail: detail(e.message) });
}

// The server's message without its code prefix ("invalid argument: ...").
const detail = (m) => String(m || '').replace(/^[a-z ]+: /, '');

/** An element for a form's or an action's error, read out when it appears. */
export function errorBox(id) {
  return h('p', { class: 'form-error', role: 'alert', id, hidden: true });
}

/**
 * Shows e in box, in plain words. A 401 adds a link to log in again and
 * tells the application the session is gone.
 */
export function showError(box, e, ctx) {
  replace(box, explain(e));
  if (e instanceof ApiError && (e.status === 401 || e.code === Code.UNAUTHENTICATED)) {
    add(box, ' ', h('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search) }, t('nav.login')));
    if (ctx) ctx.sessionExpired();
  }
  box.hidden = false;
}

/** Hides box. */
export function hideError(box) {
  box.hidden = true;
  box.replaceChildren();
}

/**
 * A labelled form control: {name, label, hint, type, value, textarea,
 * options: [[value, label]], autocomplete, field (the API field it sets,
 * for errors), attrs}. Returns {row, input, error}.
 */
export function field(o) {
  const id = o.id || newId(o.name);
  const hintId = o.hint ? id + '-hint' : null;
  const errId = id + '-error';
  const attrs = {
    id,
    name: o.name,
    'data-field': o.field || o.name,
    'aria-describedby': [hintId, errId].filter(Boolean).join(' '),
    autocomplete: o.autocomplete,
    ...(o.attrs || {}),
  };
  let input;
  if (o.textarea) {
    input = h('textarea', { ...attrs, rows: o.rows || 8, dir: 'auto' });
    input.value = o.value || '';
  } else if (o.options) {
    input = h('select', attrs, o.options.map(([v, label]) => h('option', { value: v, selected: v === (o.value || '') }, label)));
  } else {
    input = h('input', { ...attrs, type: o.type || 'text', dir: o.type && o.type !== 'text' ? null : 'auto' });
    input.value = o.value || '';
  }
  const error = h('p', { class: 'field-error', id: errId, hidden: true });
  const row = h('div', { class: 'row' }, h('label', { for: id }, o.label), o.hint ? h('p', { class: 'hint', id: hintId }, o.hint) : null, input, error);
  return { row, input, error };
}

// The form control for an API field path: "thread.title" -> [data-field=title];
// an element of a list, "convening.themes[1]", is the list's control.
function controlFor(form, path) {
  const parts = path.replace(/\[\d+\]/g, '').split('.');
  const candidates = [parts.join('.'), parts.slice(1).join('.'), parts[parts.length - 1]];
  for (const c of candidates) {
    if (!c) continue;
    const camel = c.replace(/_([a-z])/g, (_, x) => x.toUpperCase());
    const el = form.querySelector(`[data-field="${CSS.escape(camel)}"]`) || form.querySelector(`[data-field="${CSS.escape(c)}"]`);
    if (el) return el;
  }
  return null;
}

/** Clears the field errors and the form error of form. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error, .form-error')) {
    el.hidden = true;
    el.replaceChildren();
  }
}

/**
 * Shows an API error on form: each field violation next to its control
 * (the first one focused), anything else in the form's error box.
 * fallbackField names a control for errors about the form as a whole that
 * belong to one field (a locked thread -> the reply text).
 */
export function showFormError(form, e, ctx) {
  clearErrors(form);
  const box = form.querySelector('.form-error');
  let first = null;
  const rest = [];
  for (const v of (e instanceof ApiError && e.violations) || []) {
    const input = controlFor(form, v.field);
    if (!input) {
      rest.push(v);
      continue;
    }
    const err = document.getElementById(input.id + '-error');
    // A group of checkboxes (a fieldset) is named by its legend.
    const group = input.tagName === 'FIELDSET';
    const label = group ? input.querySelector('legend') : form.querySelector(`label[for="${CSS.escape(input.id)}"]`);
    add(err, err.hidden ? null : ' ', t('err.field', { field: label ? label.textContent : v.field, detail: v.description }));
    err.hidden = false;
    if (!group) input.setAttribute('aria-invalid', 'true');
    if (!first) first = group ? input.querySelector('input') || input : input;
  }
  if (first && rest.length === 0) {
    focus(first);
    return;
  }
  if (box) {
    showError(box, e, ctx);
    if (rest.length && e.violations.length !== rest.length) replace(box, rest.map((v) => `${v.field}: ${v.description}`).join('; '));
  }
  if (first) focus(first);
}

/** Disables a form's submit button while fn runs. */
export async function busy(form, fn) {
  const buttons = [...form.querySelectorAll('button')];
  for (const b of buttons) b.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    for (const b of buttons) b.disabled = false;
    form.removeAttribute('aria-busy');
  }
}

/** A badge: a short label with a class for its colour. */
export const badge = (text, cls) => h('span', { class: 'badge ' + (cls || '') }, text);

const KIND = { THREAD_KIND_DISCUSSION: 'discussion', THREAD_KIND_QUESTION: 'question', THREAD_KIND_FOLLOW_UP: 'followup', THREAD_KIND_ANNOUNCEMENT: 'announcement' };
const STATE = { THREAD_STATE_OPEN: 'open', THREAD_STATE_RESOLVED: 'resolved' };

/**
 * The badges of a thread: pinned, its kind, its state (open or resolved),
 * locked (apart from the state: a resolved thread may be locked too),
 * answered (a question with an accepted answer) and deleted.
 */
export function badges(thread) {
  const kind = KIND[thread.kind] || 'discussion';
  const state = STATE[thread.state] || 'open';
  return h(
    'p',
    { class: 'badges' },
    thread.pinned ? badge(t('badge.pinned'), 'b-pinned') : null,
    badge(t('kind.' + kind), 'b-kind'),
    badge(t('state.' + state), 'b-' + state),
    thread.locked ? badge(t('state.locked'), 'b-locked') : null,
    thread.kind === 'THREAD_KIND_QUESTION' && thread.acceptedAnswer ? badge(t('badge.answered'), 'b-answered') : null,
    thread.deleteTime ? badge(t('badge.deleted'), 'b-locked') : null,
  );
}

/** Links to a theme's threads with each tag. */
export function tagLinks(tags, theme) {
  if (!tags || !tags.length) return null;
  return h(
    'ul',
    { class: 'tags', 'aria-label': t('thread.tags') },
    tags.map((tag) => h('li', null, h('a', { href: `/${theme}?tag=${encodeURIComponent(tag)}`, dir: 'auto' }, '#' + tag))),
  );
}

/** Fetches the users named in names; returns a Map name -> user. */
export async function authors(names) {
  const list = [...new Set(names.filter(Boolean))];
  const users = await Promise.all(list.map(api.user));
  return new Map(list.map((n, i) => [n, users[i]]));
}

/** A link to a user's profile, with their display name. */
export function userLink(name, who) {
  const u = who && who.get(name);
  const label = u ? u.displayName || u.username : t('user.unknown');
  return h('a', { href: '/users/' + api.idOf(name), dir: 'auto', class: 'who' }, label);
}

/** A date as a <time> element. */
export const when = (iso) => time(iso, fmtDate);

/**
 * A Markdown text area with a preview toggle, and with o.mentions,
 * username suggestions after "@" (mention.js). With o.render (a function of
 * the source and an AbortSignal returning the server's body_html for it,
 * from a validate_only create), the preview is exactly what will be
 * published, rendered and sanitised by the server; it is refreshed a moment
 * after typing stops. Without o.render, or when that call fails, the
 * preview is built on this page as plain text with light formatting (no
 * HTML from the text is ever parsed).
 */
export function editor(o) {
  const f = field({ ...o, textarea: true, hint: o.hint || t('md.hint') });
  if (o.mentions) mentions(f.input);
  const region = h('div', { class: 'preview', id: f.input.id + '-preview', hidden: true, role: 'region', 'aria-label': t('md.preview'), 'aria-busy': 'false' });
  const toggle = h('button', { type: 'button', class: 'secondary', 'aria-controls': region.id, 'aria-expanded': 'false' }, t('md.showPreview'));
  const local = () => replace(region, h('p', { class: 'hint' }, t('md.previewNote')), preview(f.input.value));
  let timer = 0;
  let inflight = null;
  const exact = () => {
    if (inflight) inflight.abort();
    const src = f.input.value;
    if (!o.render || !src.trim()) {
      local();
      return;
    }
    const ac = new AbortController();
    inflight = ac;
    region.setAttribute('aria-busy', 'true');
    o.render(src, ac.signal).then(
      (html) => {
        if (ac.signal.aborted) return;
        replace(region, h('p', { class: 'hint' }, t('md.previewExact')), setHTML(h('div', { class: 'body', dir: 'auto' }), html));
        region.setAttribute('aria-busy', 'false');
      },
      (e) => {
        if (ac.signal.aborted || (e && e.name === 'AbortError')) return;
        local();
        region.setAttribute('aria-busy', 'false');
      },
    );
  };
  const refresh = (now) => {
    clearTimeout(timer);
    if (now) exact();
    else timer = setTimeout(exact, 300);
  };
  toggle.addEventListener('click', () => {
    const show = region.hidden;
    region.hidden = !show;
    toggle.setAttribute('aria-expanded', String(show));
    toggle.textContent = show ? t('md.hidePreview') : t('md.showPreview');
    if (show) refresh(true);
  });
  f.input.addEventListener('input', () => {
    if (!region.hidden) refresh(false);
  });
  add(f.row, h('div', { class: 'preview-bar' }, toggle), region);
  return f;
}

/**
 * The render function of editor() for a reply to thread (its name): the
 * server renders the source as a validate_only CreateReply, creating
 * nothing.
 */
export function replyRenderer(thread) {
  return (src, signal) => api.call('POST', thread + '/replies', { body: { body: src }, query: { validateOnly: true }, signal }).then((r) => r.bodyHtml || '');
}

/** A page heading that takes focus after a navigation. */
export const title = (text, attrs) => h('h1', { dir: 'auto', tabindex: '-1', ...(attrs || {}) }, text);

/** A breadcrumb trail: [[href, text], ..., [null, current]]. */
export function crumbs(items) {
  return h(
    'nav',
    { class: 'crumbs', 'aria-label': t('nav.breadcrumb') },
    h('ol', null, items.map(([href, text]) => h('li', null, href ? h('a', { href, dir: 'auto' }, text) : h('span', { 'aria-current': 'page', dir: 'auto' }, text)))),
  );
}
