// Full-text search: the box in the header and the results page,
// /search?q=…&theme=…&organization=…&country=…&after=YYYY-MM-DD&sort=new&page=…,
// over GET /v1/posts:search. The snippets of the hits come as HTML (the
// post's text escaped, what matched in <mark>); they are never parsed as
// HTML here: they are cut at the <mark> markers, unescaped, and built as
// text nodes and <mark> elements.

import * as api from './api.js';
import { ApiError, Code } from './api.js';
import { h, add, replace } from './dom.js';
import { t } from './i18n.js';
import { authors, userLink, when, title, field, explain, badge, errorBox } from './ui.js';

/** Hits per page. */
export const PAGE_SIZE = 20;

// Slugs of themes and organisations (resname: lower case, at most 63).
const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const slugOK = (s) => s.length <= 63 && SLUG.test(s);
const COUNTRY = /^[A-Z]{2}$/;

// The dates the filter takes: the index keeps times as int64 nanoseconds
// (1677 to 2262); a bound outside them is refused.
const MIN_DATE = '1900-01-01';
const MAX_DATE = '2199-12-31';

/** Whether s is a real date written YYYY-MM-DD, between MIN_DATE and MAX_DATE. */
function dateOK(s) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || s < MIN_DATE || s > MAX_DATE) return false;
  const d = new Date(s + 'T00:00:00Z');
  return !isNaN(d) && d.toISOString().slice(0, 10) === s;
}

/** The URL of the results page for params ([[name, value]], empties left out). */
export function searchHref(params) {
  const p = new URLSearchParams();
  for (const [k, v] of params) if (v) p.set(k, v);
  const s = p.toString();
  return '/search' + (s ? '?' + s : '');
}

/**
 * The search box of the header: a search landmark with a labelled input
 * and a button, submitting GET /search?q=… (followed without reloading).
 * value is the query to show in it; go navigates.
 */
export function searchBox(value, go) {
  const input = h('input', { type: 'search', id: 'site-search-q', name: 'q', enterkeyhint: 'search', spellcheck: 'false', dir: 'auto' });
  input.value = value || '';
  const form = h(
    'form',
    { class: 'site-search', role: 'search', 'aria-label': t('search.label'), action: '/search', method: 'get' },
    h('label', { for: 'site-search-q', class: 'visually-hidden' }, t('search.field')),
    input,
    h('button', { type: 'submit' }, t('search.submit')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go(searchHref([['q', input.value.trim()]]));
  });
  return form;
}

// The entities the server's escaping writes (html.EscapeString), and
// numeric ones for good measure; anything else stays as it is.
const NAMED = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
function unescapeText(s) {
  return s.replace(/&(?:([a-z]+)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));/g, (all, name, dec, hex) => {
    if (name) return NAMED[name] !== undefined ? NAMED[name] : all;
    const cp = dec ? parseInt(dec, 10) : parseInt(hex, 16);
    return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : all;
  });
}

/**
 * The nodes of a snippet (snippet_html): text, and <mark> elements for
 * what matched. Only the literal markers <mark> and </mark> are read as
 * markup; everything else becomes text, entities decoded.
 */
export function snippetNodes(html) {
  const out = [];
  let marked = false;
  for (const part of String(html || '').split(/(<mark>|<\/mark>)/)) {
    if (part === '<mark>') marked = true;
    else if (part === '</mark>') marked = false;
    else if (part) {
      const text = unescapeText(part);
      out.push(marked ? h('mark', null, text) : text);
    }
  }
  return out;
}

/** The link of a hit: a thread, or a reply at its place in its thread. */
export function hitHref(hit) {
  const thread = hit.thread || hit.name.replace(/\/replies\/.*$/, '');
  return hit.name !== thread && hit.name.startsWith(thread + '/replies/') ? `/${thread}#${api.replyAnchor(hit.name)}` : '/' + thread;
}

// A list for a filter select; a failure (other than leaving the page)
// leaves the list empty rather than the page unusable.
function list(path, key, signal) {
  return api.get(path, { pageSize: 100 }, signal).then(
    (r) => r[key] || [],
    (e) => {
      if (e && e.name === 'AbortError') throw e;
      return [];
    },
  );
}

/** Shows msg as the error of field f. */
function fieldError(f, msg) {
  f.error.textContent = msg;
  f.error.hidden = false;
  f.input.setAttribute('aria-invalid', 'true');
}

/** The results page. */
export async function searchPage(ctx) {
  const q = ctx.query;
  const query = (q.get('q') || '').trim();
  const sort = q.get('sort') === 'new' ? 'new' : '';
  const theme = (q.get('theme') || '').trim().replace(/^themes\//, '');
  const org = (q.get('organization') || '').trim().replace(/^organizations\//, '');
  const country = (q.get('country') || '').trim().toUpperCase();
  const after = (q.get('after') || '').trim();
  const page = q.get('page') || '';
  const ok = { theme: !theme || slugOK(theme), org: !org || slugOK(org), country: !country || COUNTRY.test(country), after: !after || dateOK(after) };

  const filter = [];
  if (theme && ok.theme) filter.push(`theme = "themes/${theme}"`);
  if (org && ok.org) filter.push(`author.organization = "organizations/${org}"`);
  if (country && ok.country) filter.push(`author.country = "${country}"`);
  if (after && ok.after) filter.push(`create_time >= "${after}"`);

  const [themes, orgs, found] = await Promise.all([
    list('themes', 'themes', ctx.signal),
    list('organizations', 'organizations', ctx.signal),
    query
      ? api.get('posts:search', { query, filter: filter.join(' AND '), orderBy: sort ? 'create_time desc' : '', pageSize: PAGE_SIZE, pageToken: page }, ctx.signal).then(
          (res) => ({ res }),
          (err) => {
            if (err && err.name === 'AbortError') throw err;
            return { err };
          },
        )
      : null,
  ]);
  const res = found && found.res;
  const hits = (res && res.hits) || [];
  const who = await authors(hits.map((x) => x.author));

  // The form: the query, then the filters; submitting it is a new URL.
  const fq = field({ name: 'q', id: 'search-q', label: t('search.query'), hint: t('search.hint'), type: 'search', value: query, field: 'query', attrs: { enterkeyhint: 'search', spellcheck: 'false' } });
  fq.input.dir = 'auto';
  fq.error.setAttribute('role', 'alert');
  const line = h('div', { class: 'search-line' });
  fq.input.replaceWith(line);
  add(line, fq.input, h('button', { type: 'submit', id: 'search-submit' }, t('search.submit')));

  const withCurrent = (options, value) => (value && !options.some(([v]) => v === value) ? [...options, [value, value]] : options);
  const fTheme = field({ name: 'theme', label: t('search.theme'), options: withCurrent([['', t('filter.any')], ...themes.map((th) => [api.idOf(th.name), th.displayName])], ok.theme ? theme : ''), value: ok.theme ? theme : '' });
  const fOrg = orgs.length || (org && ok.org)
    ? field({ name: 'organization', label: t('search.organization'), options: withCurrent([['', t('filter.any')], ...orgs.map((o) => [api.idOf(o.name), o.displayName])], ok.org ? org : ''), value: ok.org ? org : '' })
    : null;
  const fCountry = field({ name: 'country', label: t('search.country'), hint: t('search.countryHint'), value: country, attrs: { maxlength: 2, autocapitalize: 'characters', spellcheck: 'false', autocomplete: 'off', class: 'short' } });
  const fAfter = field({ name: 'after', label: t('search.after'), type: 'date', value: ok.after ? after : '', attrs: { min: MIN_DATE, max: MAX_DATE } });
  const fSort = field({ name: 'sort', label: t('filter.sort'), options: [['', t('search.sortRelevance')], ['new', t('filter.sortNew')]], value: sort });
  if (!ok.country) fieldError(fCountry, t('search.badCountry'));
  if (!ok.after) fieldError(fAfter, t('search.badDate'));
  if (!ok.theme) fieldError(fTheme, t('search.badChoice'));
  if (!ok.org && fOrg) fieldError(fOrg, t('search.badChoice'));
  const box = errorBox('search-error');
  const form = h(
    'form',
    { id: 'search-form', class: 'search-form', role: 'search', 'aria-label': t('search.pageLabel'), action: '/search', method: 'get', novalidate: true },
    fq.row,
    h(
      'fieldset',
      { class: 'filters' },
      h('legend', { class: 'visually-hidden' }, t('search.filters')),
      fTheme.row,
      fOrg ? fOrg.row : null,
      fCountry.row,
      fAfter.row,
      fSort.row,
      h('div', { class: 'row actions' }, h('button', { type: 'submit', class: 'secondary' }, t('filter.apply'))),
    ),
    box,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const params = [];
    for (const [k, v] of new FormData(form)) params.push([k, k === 'country' ? String(v).trim().toUpperCase() : String(v).trim()]);
    ctx.go(searchHref(params));
  });

  // What the server refused: the query next to the box, the rest above
  // the results.
  let focusEl = null;
  const err = found && found.err;
  if (err) {
    const rest = [];
    for (const v of (err instanceof ApiError && err.code === Code.INVALID_ARGUMENT && err.violations) || []) {
      if (v.field === 'query') {
        fieldError(fq, t('search.badQuery', { detail: v.description }));
        focusEl = fq.input;
      } else if (v.field === 'page_token') {
        rest.push(h('span', null, t('search.badPage'), ' ', h('a', { href: searchHref([...q].filter(([k]) => k !== 'page')) }, t('paging.firstResults'))));
      } else if (v.field === 'filter') {
        rest.push(t('search.badFilter', { detail: v.description }));
      } else {
        rest.push(`${v.field}: ${v.description}`);
      }
    }
    if (!focusEl && !rest.length) rest.push(explain(err));
    if (rest.length) {
      replace(box, rest.map((x, i) => [i ? ' ' : null, x]));
      box.hidden = false;
    }
  }

  const themeNames = new Map(themes.map((th) => [th.name, th.displayName]));
  const heading = query ? t('search.resultsFor', { q: query }) : t('search.title');
  const node = [title(heading), form];
  if (!query) {
    node.push(h('p', { id: 'search-empty' }, t('search.empty')));
  } else if (res) {
    const total = Number(res.totalSize || 0); // an int64: a string in JSON
    const totalText = t('search.total', { n: total });
    node.push(h('p', { class: 'search-total', id: 'search-total' }, totalText));
    node.push(h('h2', { class: 'visually-hidden' }, t('search.results')));
    if (hits.length) {
      node.push(
        h(
          'ul',
          { class: 'hits' },
          hits.map((hit, i) => {
            const reply = hit.name !== hit.thread;
            const metaId = 'hit-' + i + '-meta';
            const th = hit.theme ? themeNames.get(hit.theme) || api.idOf(hit.theme) : null;
            return h(
              'li',
              { class: 'hit' + (reply ? ' hit-reply' : ' hit-thread'), 'data-name': hit.name },
              h('h3', { dir: 'auto' }, h('a', { href: hitHref(hit), 'aria-describedby': metaId }, hit.threadTitle || t('thread.numbered', { id: api.idOf(hit.thread) }))),
              h(
                'p',
                { class: 'meta', id: metaId },
                badge(reply ? t('search.reply') : t('search.thread'), 'b-kind'),
                ' ',
                t('thread.by'),
                ' ',
                userLink(hit.author, who),
                th ? [' · ', t('search.inTheme'), ' ', h('a', { href: '/' + hit.theme, dir: 'auto' }, th)] : null,
                ' · ',
                when(hit.createTime),
              ),
              h('p', { class: 'snippet', dir: 'auto' }, snippetNodes(hit.snippetHtml)),
            );
          }),
        ),
      );
    } else {
      node.push(h('p', null, page ? t('search.noMore') : t('search.none')));
    }
    if (page || res.nextPageToken) {
      const first = [...q].filter(([k]) => k !== 'page');
      node.push(
        h(
          'nav',
          { class: 'paging', 'aria-label': t('paging.search') },
          page ? h('a', { href: searchHref(first) }, t('paging.firstResults')) : null,
          res.nextPageToken ? h('a', { href: searchHref([...first, ['page', res.nextPageToken]]), rel: 'next' }, t('paging.moreResults')) : null,
        ),
      );
    }
    ctx.announce(`${heading}. ${totalText}`);
  }
  return { title: query ? t('search.titleFor', { q: query }) : t('search.title'), node, focus: focusEl };
}
