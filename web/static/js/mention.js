// Mentions in the composer: typing @ and the start of a username offers up
// to 8 usernames that start so (ListUsers with the filter
// `username = "an*"`, asked 200 ms after typing stops), in a listbox under
// the text. ArrowDown and ArrowUp move through it, Enter or Tab picks,
// Escape closes; a click picks too. Focus stays in the text area, whose
// aria-activedescendant names the option chosen.

import * as api from './api.js';
import { h, replace, newId } from './dom.js';
import { t } from './i18n.js';

/** At most this many usernames are offered. */
export const MAX = 8;
const DELAY = 200;

// The name typed after "@", as the server's renderer reads a mention: a
// letter, then letters, digits, _ . - (at most 32 in all).
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/;
// Characters after which "@" starts no mention (an e-mail address, a path,
// a URL).
const NOT_BEFORE = /[A-Za-z0-9_.\-@/:]/;

// The users found for each prefix, for this page load.
const found = new Map();

function lookup(prefix) {
  if (!found.has(prefix)) {
    const p = api.get('users', { filter: `username = "${prefix}*"`, pageSize: MAX }).then((r) => (r.users || []).slice(0, MAX));
    found.set(prefix, p);
    p.catch(() => found.delete(prefix));
  }
  return found.get(prefix);
}

/**
 * Adds username suggestions to the text area input (in a form row): it is
 * wrapped with its listbox and a live region that says how many there are.
 */
export function mentions(input) {
  const list = h('ul', { id: newId('mention-list'), class: 'mention-list', role: 'listbox', 'aria-label': t('mention.label'), hidden: true });
  const status = h('p', { class: 'visually-hidden', role: 'status' });
  const wrap = h('div', { class: 'mention-wrap' });
  input.replaceWith(wrap);
  wrap.append(input, list, status);
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', list.id);
  let users = [];
  let active = -1;
  let at = -1; // the index of the "@" being completed
  let timer = 0;
  let seq = 0; // answers to older lookups are dropped

  function close() {
    clearTimeout(timer);
    seq++;
    users = [];
    active = -1;
    list.hidden = true;
    list.replaceChildren();
    input.removeAttribute('aria-activedescendant');
  }

  function highlight(i) {
    active = i;
    [...list.children].forEach((li, k) => li.setAttribute('aria-selected', String(k === i)));
    const li = list.children[i];
    if (li) {
      input.setAttribute('aria-activedescendant', li.id);
      li.scrollIntoView({ block: 'nearest' });
    }
  }

  function show(us) {
    if (!us.length) {
      close();
      return;
    }
    users = us;
    replace(
      list,
      us.map((u, i) =>
        h(
          'li',
          {
            id: `${list.id}-${i}`,
            role: 'option',
            class: 'mention-option',
            'aria-selected': 'false',
            // mousedown, not click: the text area keeps focus.
            onmousedown: (e) => {
              e.preventDefault();
              pick(i);
            },
          },
          h('span', { dir: 'auto' }, u.displayName || u.username),
          ' ',
          h('span', { class: 'mention-user' }, '@' + u.username),
        ),
      ),
    );
    list.hidden = false;
    highlight(0);
    status.textContent = t('mention.found', { n: us.length });
  }

  function pick(i) {
    const u = users[i];
    if (!u || at < 0) return;
    input.setRangeText('@' + u.username + ' ', at, input.selectionStart, 'end');
    close();
    input.dispatchEvent(new Event('input', { bubbles: true })); // the draft and the preview follow
    input.focus();
  }

  // Looks at what is before the caret: "@" and the start of a name opens
  // (or refreshes) the list; anything else closes it.
  function check() {
    const caret = input.selectionStart;
    const v = input.value;
    const i = caret === input.selectionEnd && caret > 0 ? v.lastIndexOf('@', caret - 1) : -1;
    const name = i >= 0 ? v.slice(i + 1, caret) : '';
    if (i < 0 || (i > 0 && NOT_BEFORE.test(v[i - 1])) || !NAME.test(name)) {
      close();
      return;
    }
    at = i;
    clearTimeout(timer);
    const mine = ++seq;
    timer = setTimeout(() => {
      lookup(name.toLowerCase()).then(
        (us) => mine === seq && document.activeElement === input && show(us),
        () => mine === seq && close(),
      );
    }, DELAY);
  }

  input.addEventListener('input', check);
  input.addEventListener('keyup', (e) => {
    if (/^(ArrowLeft|ArrowRight|Home|End)$/.test(e.key)) check();
  });
  input.addEventListener('blur', close);
  input.addEventListener('keydown', (e) => {
    if (list.hidden || !users.length || e.isComposing) return;
    const n = users.length;
    if (e.key === 'ArrowDown') highlight((active + 1) % n);
    else if (e.key === 'ArrowUp') highlight((active - 1 + n) % n);
    else if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && active >= 0) pick(active);
    else if (e.key === 'Escape') {
      e.stopPropagation();
      close();
    } else return;
    e.preventDefault();
  });
  return list;
}
