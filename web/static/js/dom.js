// Building the page. Text from users (titles, names, bios, tags, Markdown
// sources) only ever becomes text nodes or attribute values; the one HTML
// sink is setHTML, for the server's sanitised body_html, through the
// Trusted Types policy "forum" (the Content-Security-Policy admits no other).

const policy = window.trustedTypes ? window.trustedTypes.createPolicy('forum', { createHTML: (s) => s }) : null;

/**
 * Creates an element. attrs: "class", "text" (textContent), "on<event>"
 * (a listener function, never an attribute), true/false for boolean
 * attributes, anything else a string attribute. children: nodes, strings
 * (text nodes), arrays, and null/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'href') el.setAttribute('href', safeHref(v));
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  add(el, children);
  return el;
}

/** Appends children (see h) to el. */
export function add(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replaces el's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

// Links the script builds point into this site ("/threads/3", "#r-4",
// "/openapi.json"); anything else is refused rather than risk a URL that
// runs script.
function safeHref(v) {
  const s = String(v);
  if ((s.startsWith('/') && !s.startsWith('//') && !s.startsWith('/\\')) || s.startsWith('#') || s.startsWith('?')) return s;
  throw new Error('refused link ' + s);
}

/** Sets el's content to the server's sanitised HTML (body_html). */
export function setHTML(el, html) {
  el.innerHTML = policy ? policy.createHTML(html || '') : html || '';
  return el;
}

/** A <time> element showing iso in the current language. */
export function time(iso, fmt) {
  if (!iso) return null;
  return h('time', { datetime: iso }, fmt(iso));
}

/** Moves keyboard focus to el, making it focusable if it is not. */
export function focus(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex') && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) el.setAttribute('tabindex', '-1');
  el.focus({ preventScroll: false });
}

let uid = 0;
/** A fresh id for label/field pairs. */
export const newId = (prefix) => `${prefix}-${++uid}`;
