// The edit history of a post (a thread's opening post or a reply): a
// button in the post's meta line opens a panel under it that lists every
// version, the newest first, who wrote it and when, and for each version
// after the first what changed from the one before, word by word (removed
// words in <del>, added ones in <ins>). The versions are fetched when the
// panel is first opened. User text only ever becomes text nodes.

import * as api from './api.js';
import { Code } from './api.js';
import { h, replace, setHTML, newId, focus } from './dom.js';
import { t } from './i18n.js';
import { authors, userLink, when, errorBox, showError } from './ui.js';

/** Above this many words on either side, both versions are shown whole. */
export const MAX_DIFF_WORDS = 2000;

/** The largest table of the comparison (words by words, after the common start and end). */
const MAX_CELLS = 9_000_000;

/** The pages of versions read at most (100 each). */
const MAX_PAGES = 20;

/**
 * The tokens of a text: each word (letters and digits, with inner
 * apostrophes and hyphens) and each other sign, with the white space after
 * it; the white space the text starts with, if any, on its own.
 */
export function words(s) {
  return String(s || '').match(/^\s+|[\p{L}\p{M}\p{N}_]+(?:['’-][\p{L}\p{M}\p{N}_]+)*\s*|\S\s*/gu) || [];
}

/** The number of words of a text, as people count them. */
const wordCount = (s) => (String(s || '').match(/\S+/g) || []).length;

/**
 * The word-level differences from a to b (texts): a list of [op, text],
 * op '=' (in both), '-' (only in a) or '+' (only in b), runs of one op
 * merged. Words are compared without their white space. null when either
 * side has more than max words.
 */
export function diffWords(a, b, max = MAX_DIFF_WORDS) {
  if (wordCount(a) > max || wordCount(b) > max) return null;
  const x = words(a);
  const y = words(b);
  const key = (w) => w.trim();
  // The common start and end, left out of the table.
  let pre = 0;
  while (pre < x.length && pre < y.length && key(x[pre]) === key(y[pre])) pre++;
  let suf = 0;
  while (suf < x.length - pre && suf < y.length - pre && key(x[x.length - 1 - suf]) === key(y[y.length - 1 - suf])) suf++;
  const xs = x.slice(pre, x.length - suf);
  const ys = y.slice(pre, y.length - suf);
  const n = xs.length;
  const m = ys.length;
  if ((n + 1) * (m + 1) > MAX_CELLS) return null;
  // lcs[i*(m+1)+j] (at most 3,000 or so: a Uint16 holds it): the longest common subsequence of xs[i:] and ys[j:].
  const lcs = new Uint16Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = key(xs[i]) === key(ys[j]) ? lcs[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
    }
  }
  const out = [];
  const push = (op, s) => {
    const last = out[out.length - 1];
    if (last && last[0] === op) last[1] += s;
    else out.push([op, s]);
  };
  // In both, the white space of the newer text.
  for (let k = 0; k < pre; k++) push('=', y[k]);
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && key(xs[i]) === key(ys[j])) {
      push('=', ys[j]);
      i++;
      j++;
    } else if (i < n && (j === m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1])) {
      push('-', xs[i++]); // removals first: "-old +new"
    } else {
      push('+', ys[j++]);
    }
  }
  for (let k = y.length - suf; k < y.length; k++) push('=', y[k]);
  return out;
}

/** The nodes of a diff: text, <del> and <ins>, each marked for screen readers. */
function diffNodes(parts) {
  return parts.map(([op, s]) => {
    if (op === '=') return s;
    // The white space after a change stays outside its mark.
    const m = /^(.*?)(\s*)$/s.exec(s);
    const mark = op === '-' ? h('del', null, m[1]) : h('ins', null, m[1]);
    return [h('span', { class: 'visually-hidden' }, op === '-' ? t('history.removed') : t('history.added'), ' '), mark, m[2]];
  });
}

/** The versions of post, the newest first. */
async function fetchRevisions(post) {
  const out = [];
  let token = '';
  for (let i = 0; i < MAX_PAGES; i++) {
    const p = await api.get(post + '/revisions', { pageSize: 100, pageToken: token });
    out.push(...(p.revisions || []));
    token = p.nextPageToken;
    if (!token) break;
  }
  return out;
}

/** What changed from prev to rev: title, tags and body. */
function changes(rev, prev, isThread) {
  const nodes = [];
  if (isThread && (rev.title || '') !== (prev.title || '')) {
    nodes.push(h('p', { class: 'diff diff-title', dir: 'auto' }, h('strong', null, t('history.titleLabel')), ' ', diffNodes(diffWords(prev.title, rev.title))));
  }
  const tags = (r) => (r.tags || []).join(' ');
  if (isThread && tags(rev) !== tags(prev)) {
    nodes.push(h('p', { class: 'diff diff-tags', dir: 'auto' }, h('strong', null, t('history.tagsLabel')), ' ', diffNodes(diffWords(tags(prev), tags(rev)))));
  }
  if ((rev.body || '') === (prev.body || '')) {
    if (!nodes.length) nodes.push(h('p', { class: 'hint' }, t('history.noChange')));
    return nodes;
  }
  const parts = diffWords(prev.body, rev.body);
  if (parts) {
    nodes.push(h('div', { class: 'diff diff-body', dir: 'auto' }, diffNodes(parts)));
    return nodes;
  }
  // Too long to compare word by word: both versions whole.
  nodes.push(
    h('p', { class: 'hint' }, t('history.tooLong')),
    h('div', { class: 'diff-whole' }, h('h4', null, t('history.before')), setHTML(h('div', { class: 'body', dir: 'auto' }), prev.bodyHtml)),
    h('div', { class: 'diff-whole' }, h('h4', null, t('history.after')), setHTML(h('div', { class: 'body', dir: 'auto' }), rev.bodyHtml)),
  );
  return nodes;
}

/**
 * The control of a post's history: {button, panel}. The button (labelled
 * label: "edited" or "History") goes in the post's meta line, the panel
 * under the post. post: the post's name ("threads/1" or
 * "threads/1/replies/2"); describedBy: the id of the post's meta line.
 */
export function historyControl(post, label, describedBy, ctx) {
  const isThread = !post.includes('/replies/');
  const panelId = newId('history');
  const headingId = panelId + '-h';
  const button = h('button', { type: 'button', class: 'linkish history-toggle', 'aria-expanded': 'false', 'aria-controls': panelId, 'aria-describedby': describedBy || null }, label);
  const heading = h('h3', { id: headingId, tabindex: '-1' }, t('history.title'));
  const list = h('ol', { class: 'revisions' });
  const status = h('p', { class: 'hint', role: 'status' });
  const err = errorBox();
  const close = h('button', { type: 'button', class: 'secondary history-close' }, t('history.close'));
  const panel = h('section', { class: 'history', id: panelId, 'aria-labelledby': headingId, hidden: true }, h('div', { class: 'history-head' }, heading, close), status, err, list);
  let loaded = null; // the promise of the first load

  async function load() {
    status.textContent = t('history.loading');
    panel.setAttribute('aria-busy', 'true');
    try {
      const revs = await fetchRevisions(post);
      const who = await authors(revs.map((r) => r.editor));
      if (ctx && ctx.signal && ctx.signal.aborted) return;
      replace(
        list,
        revs.map((rev, k) => {
          const prev = revs[k + 1];
          const n = Number(rev.number) || revs.length - k;
          return h(
            'li',
            { class: 'revision', 'data-number': n },
            h('p', { class: 'meta' }, h('strong', null, t('history.version', { n })), ' · ', userLink(rev.editor, who), ' · ', when(rev.createTime), n === 1 ? [' · ', t('history.original')] : null),
            prev ? changes(rev, prev, isThread) : [isThread && rev.title ? h('p', { class: 'diff-title', dir: 'auto' }, h('strong', null, t('history.titleLabel')), ' ', rev.title) : null, setHTML(h('div', { class: 'body', dir: 'auto' }), rev.bodyHtml)],
          );
        }),
      );
      status.textContent = t('history.count', { n: revs.length });
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      loaded = null; // try again on the next opening
      status.textContent = '';
      if (e instanceof api.ApiError && (e.status === 404 || e.code === Code.NOT_FOUND)) {
        replace(err, t('history.unavailable'));
        err.hidden = false;
      } else {
        showError(err, e, ctx);
      }
    } finally {
      panel.removeAttribute('aria-busy');
    }
  }

  function open() {
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    if (!loaded) {
      err.hidden = true;
      loaded = load();
    }
    loaded.then(() => {
      if (!panel.hidden) focus(heading);
    });
  }
  function shut() {
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    button.focus();
  }
  button.addEventListener('click', () => (panel.hidden ? open() : shut()));
  close.addEventListener('click', shut);
  panel.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    e.preventDefault();
    shut();
  });
  return { button, panel };
}
