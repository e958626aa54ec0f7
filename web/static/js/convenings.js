// Convenings: the conferences and meetings whose discussions and
// follow-ups the forum carries on. /convenings lists them (with, for the
// conveners and admins, the form of a new one behind a button), and
// /convenings/{slug} shows one: its dates, place, organisers, themes and
// description, then its threads, the discussions apart from the
// follow-ups (each with its action items summed up: "2 open, 1 done");
// conveners and admins change its state there.

import * as api from './api.js';
import { ApiError, Code } from './api.js';
import { h, add, focus, setHTML } from './dom.js';
import { t, lang, regionName } from './i18n.js';
import { badges, authors, userLink, when, title, crumbs, field, editor, errorBox, showError, hideError, showFormError, clearErrors, busy, badge } from './ui.js';
import { itemCounts, threadOf } from './actionitems.js';

const PLANNED = 'CONVENING_STATE_PLANNED';
const HELD = 'CONVENING_STATE_HELD';
const ARCHIVED = 'CONVENING_STATE_ARCHIVED';
const FOLLOW_UP = 'THREAD_KIND_FOLLOW_UP';

/** The states, in their order, with their names and badge colours. */
const STATES = [
  [PLANNED, () => t('convening.planned'), 'b-open'],
  [HELD, () => t('convening.held'), 'b-resolved'],
  [ARCHIVED, () => t('convening.archived'), ''],
];
const stateName = (s) => (STATES.find((x) => x[0] === s) || STATES[0])[1]();
const stateBadge = (s) => badge(stateName(s), 'convening-state ' + (STATES.find((x) => x[0] === s) || STATES[0])[2]);

/** A convening's slug: lowercase letters and digits, single hyphens between. */
const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** A day ("2015-10-19") as a Date at midnight UTC, or null. */
function day(s) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s || '')) return null;
  const d = new Date(s + 'T00:00:00Z');
  return isNaN(d) ? null : d;
}

/**
 * The days of a convening in the current language: "Oct 19 – 21, 2015",
 * or one day; the ISO days in a title for those who want them.
 */
export function dateRange(start, end) {
  const a = day(start);
  const b = day(end) || a;
  if (!a) return null;
  const fmt = new Intl.DateTimeFormat(lang(), { dateStyle: 'medium', timeZone: 'UTC' });
  let text;
  try {
    text = b > a ? fmt.formatRange(a, b) : fmt.format(a);
  } catch (e) {
    text = fmt.format(a) + (b > a ? ' – ' + fmt.format(b) : '');
  }
  return h('span', { class: 'dates', title: b > a ? `${start} – ${end}` : start }, text);
}

/** Where it took place: "Beijing, China", or either. */
const where = (c) => [c.place, c.country ? regionName(c.country) : ''].filter(Boolean).join(', ');

/** The slug suggested for a title: "Beijing 2015: volunteering" -> "beijing-2015-volunteering". */
const slugOf = (s) =>
  String(s)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');

/** The list of convenings, most recent first, filtered by state and paged. */
export async function conveningsPage(ctx) {
  const q = ctx.query;
  const state = STATES.some(([s]) => s === 'CONVENING_STATE_' + q.get('state')) ? q.get('state') : '';
  const pageToken = q.get('page') || '';
  const [res, themes] = await Promise.all([
    api.get('convenings', { pageSize: 25, pageToken, filter: state ? `state = ${state}` : '' }, ctx.signal),
    ctx.isMod ? api.get('themes', { pageSize: 100 }, ctx.signal).then((r) => r.themes || []).catch(() => []) : [],
  ]);
  const list = res.convenings || [];

  const fState = field({ name: 'state', label: t('convening.state'), options: [['', t('filter.any')], ...STATES.map(([s, n]) => [s.replace('CONVENING_STATE_', ''), n()])], value: state });
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': t('convening.filter'), action: '/convenings', method: 'get' },
    fState.row,
    h('div', { class: 'row actions' }, h('button', { type: 'submit' }, t('filter.apply'))),
  );
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = fState.input.value;
    ctx.go('/convenings' + (v ? '?state=' + encodeURIComponent(v) : ''));
  });

  const items = h(
    'ul',
    { class: 'cards convenings', id: 'convening-list' },
    list.map((c) =>
      h(
        'li',
        { class: 'card convening', 'data-name': c.name },
        h('h2', { dir: 'auto' }, h('a', { href: '/' + c.name }, c.title)),
        h('p', { class: 'badges' }, stateBadge(c.state)),
        h(
          'p',
          { class: 'meta' },
          dateRange(c.startDate, c.endDate),
          where(c) ? [' · ', h('span', { dir: 'auto', class: 'where' }, where(c))] : null,
          ' · ',
          h('span', { class: 'count' }, t('themes.threads', { n: c.threadCount || 0 })),
        ),
      ),
    ),
  );
  const more = new URLSearchParams(q);
  more.delete('page');
  const firstHref = '/convenings' + (more.toString() ? '?' + more : '');
  if (res.nextPageToken) more.set('page', res.nextPageToken);
  const paging = h(
    'nav',
    { class: 'paging', 'aria-label': t('convening.paging') },
    pageToken ? h('a', { href: firstHref }, t('paging.first')) : null,
    res.nextPageToken ? h('a', { href: '/convenings?' + more, rel: 'next' }, t('convening.more')) : null,
  );
  return {
    title: t('convening.listTitle'),
    node: [
      title(t('convening.listTitle')),
      h('p', { class: 'lead' }, t('convening.intro')),
      ctx.isMod ? newConvening(ctx, themes) : null,
      filters,
      list.length ? items : h('p', { id: 'no-convenings' }, state || pageToken ? t('convening.noneMatch') : t('convening.none')),
      paging,
    ],
  };
}

/**
 * The form of a new convening, behind a "New convening" button: title,
 * slug (suggested from the title until it is typed in), dates, place,
 * country, themes, description and state. The server's field errors show
 * next to their fields.
 */
function newConvening(ctx, themes) {
  const section = h('section', { class: 'convening-new', 'aria-labelledby': 'convening-new-h' }, h('h2', { id: 'convening-new-h', class: 'visually-hidden' }, t('convening.new')));
  const toggle = h('button', { type: 'button', id: 'new-convening', 'aria-expanded': 'false', 'aria-controls': 'convening-form' }, t('convening.new'));
  const fTitle = field({ name: 'title', id: 'convening-title', label: t('convening.title') });
  const fSlug = field({ name: 'conveningId', id: 'convening-slug', label: t('convening.slug'), hint: t('convening.slugHint'), attrs: { maxlength: 63, spellcheck: 'false', autocapitalize: 'none', autocomplete: 'off' } });
  const fStart = field({ name: 'startDate', id: 'convening-start', label: t('convening.start'), type: 'date' });
  const fEnd = field({ name: 'endDate', id: 'convening-end', label: t('convening.end'), type: 'date' });
  const fPlace = field({ name: 'place', id: 'convening-place', label: t('convening.place'), hint: t('convening.placeHint') });
  const fCountry = field({ name: 'country', id: 'convening-country', label: t('convening.country'), hint: t('convening.countryHint'), attrs: { maxlength: 2, autocapitalize: 'characters', spellcheck: 'false', autocomplete: 'off', class: 'short' } });
  const countryName = h('span', { class: 'hint', 'aria-live': 'polite' });
  fCountry.input.after(countryName);
  fCountry.input.addEventListener('input', () => {
    const c = fCountry.input.value.trim().toUpperCase();
    countryName.textContent = /^[A-Z]{2}$/.test(c) ? regionName(c) : '';
  });
  const themesId = 'convening-themes';
  const themeBoxes = h(
    'fieldset',
    { class: 'checks', id: themesId, 'data-field': 'themes', 'aria-describedby': themesId + '-error' },
    h('legend', null, t('convening.themes')),
    themes.length
      ? themes.map((th) => {
          const id = 'convening-theme-' + api.idOf(th.name);
          return h('div', { class: 'check' }, h('input', { type: 'checkbox', id, name: 'themes', value: th.name }), h('label', { for: id, dir: 'auto' }, th.displayName));
        })
      : h('p', { class: 'hint' }, t('convening.noThemes')),
    h('p', { class: 'field-error', id: themesId + '-error', hidden: true }),
  );
  const fDesc = editor({ name: 'description', id: 'convening-description', label: t('convening.description'), rows: 6 });
  const fState = field({ name: 'state', id: 'convening-state-new', label: t('convening.state'), options: STATES.map(([s, n]) => [s, n()]), value: PLANNED });

  // The slug follows the title until it is typed in.
  let slugTyped = false;
  fSlug.input.addEventListener('input', () => (slugTyped = fSlug.input.value !== ''));
  fTitle.input.addEventListener('input', () => {
    if (!slugTyped) fSlug.input.value = slugOf(fTitle.input.value);
  });

  const rid = api.requestId();
  const form = h(
    'form',
    { id: 'convening-form', novalidate: true, hidden: true },
    fTitle.row,
    fSlug.row,
    h('div', { class: 'dates-row' }, fStart.row, fEnd.row),
    fPlace.row,
    fCountry.row,
    themeBoxes,
    fDesc.row,
    fState.row,
    errorBox('convening-form-error'),
    h('div', { class: 'row actions' }, h('button', { type: 'submit', id: 'create-convening' }, t('convening.create')), h('button', { type: 'button', class: 'secondary', onclick: () => open(false) }, t('action.cancel'))),
  );
  function open(yes) {
    form.hidden = !yes;
    toggle.setAttribute('aria-expanded', String(yes));
    if (yes) fTitle.input.focus();
    else toggle.focus();
  }
  toggle.addEventListener('click', () => open(form.hidden));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearErrors(form);
    busy(form, async () => {
      const slug = fSlug.input.value.trim();
      const slugError = (msg) => {
        fSlug.error.textContent = msg;
        fSlug.error.hidden = false;
        fSlug.input.setAttribute('aria-invalid', 'true');
        focus(fSlug.input);
      };
      if (!SLUG.test(slug)) {
        slugError(t('convening.badSlug'));
        return;
      }
      const body = {
        title: fTitle.input.value.trim(),
        description: fDesc.input.value,
        startDate: fStart.input.value,
        endDate: fEnd.input.value,
        place: fPlace.input.value.trim(),
        country: fCountry.input.value.trim().toUpperCase(),
        themes: [...form.querySelectorAll('input[name=themes]:checked')].map((x) => x.value),
        state: fState.input.value,
      };
      try {
        const c = await api.post('convenings', body, { conveningId: slug, requestId: rid });
        ctx.announce(t('done.conveningCreated'));
        ctx.go('/' + c.name);
      } catch (err) {
        if (err instanceof ApiError && err.code === Code.ALREADY_EXISTS) slugError(t('convening.slugTaken', { slug }));
        else showFormError(form, err, ctx);
      }
    });
  });
  add(section, toggle, form);
  return section;
}

/** All the threads of convening name the reader may see (up to 500), newest first. */
async function threadsOf(name, signal) {
  const out = [];
  let token = '';
  for (let i = 0; i < 5; i++) {
    const r = await api.get('threads', { filter: `convening = "${name}"`, orderBy: 'create_time desc', pageSize: 100, pageToken: token }, signal);
    out.push(...(r.threads || []));
    token = r.nextPageToken;
    if (!token) break;
  }
  return out;
}

/**
 * The action items of the follow-ups of convening name the reader may see
 * (up to 1,000), in one list; null if they cannot be read.
 */
async function itemsOf(name, signal) {
  const out = [];
  let token = '';
  try {
    for (let i = 0; i < 10; i++) {
      const r = await api.get('threads/-/actionItems', { filter: `convening = "${name}"`, pageSize: 100, pageToken: token }, signal);
      out.push(...(r.actionItems || []));
      token = r.nextPageToken;
      if (!token) break;
    }
  } catch (e) {
    if ((e && e.name === 'AbortError') || !(e instanceof ApiError)) throw e;
    return null;
  }
  return out;
}

/** A convening: its details, its discussions and its follow-ups. */
export async function conveningPage(ctx) {
  const name = 'convenings/' + ctx.params[0];
  const [c, threads, items] = await Promise.all([api.get(name, null, ctx.signal), threadsOf(name, ctx.signal), itemsOf(name, ctx.signal)]);
  const organizers = c.organizers || [];
  const userNames = organizers.filter((o) => o.startsWith('users/'));
  const [who, orgs, themes, threadThemes] = await Promise.all([
    authors([...userNames, ...threads.map((x) => x.author)]),
    Promise.all(organizers.filter((o) => o.startsWith('organizations/')).map((o) => api.get(o, null, ctx.signal).catch(() => null).then((x) => [o, x]))).then((l) => new Map(l)),
    Promise.all((c.themes || []).map((th) => api.theme(th).catch(() => null))),
    Promise.all([...new Set(threads.map((x) => x.theme))].map((th) => api.theme(th).catch(() => null))),
  ]);
  const themeNames = new Map(threadThemes.filter(Boolean).map((th) => [th.name, th.displayName]));
  const byName = new Map(threads.map((x) => [x.name, x]));
  // The action items of each follow-up.
  const itemsBy = new Map();
  for (const it of items || []) {
    const th = threadOf(it.name);
    if (!itemsBy.has(th)) itemsBy.set(th, []);
    itemsBy.get(th).push(it);
  }

  const organizerList = organizers.map((o, i) => {
    const sep = i ? ', ' : null;
    if (o.startsWith('users/')) return [sep, userLink(o, who)];
    const org = orgs.get(o);
    return [sep, h('span', { dir: 'auto', class: 'org' }, org ? org.displayName + (org.country ? ` (${regionName(org.country)})` : '') : api.idOf(o))];
  });
  const themeLinks = (c.themes || []).map((th, i) => h('li', null, h('a', { href: '/' + th, dir: 'auto' }, themes[i] ? themes[i].displayName : api.idOf(th))));
  const rows = [
    [t('convening.dates'), dateRange(c.startDate, c.endDate)],
    [t('convening.where'), where(c) ? h('span', { dir: 'auto' }, where(c)) : t('user.none')],
    [t('convening.organizers'), organizers.length ? organizerList : t('user.none')],
    [t('convening.themes'), themeLinks.length ? h('ul', { class: 'tags', id: 'convening-theme-links' }, themeLinks) : t('user.none')],
  ];

  // The conveners' control of the state.
  let stateForm = null;
  if (ctx.isMod) {
    const fState = field({ name: 'state', id: 'convening-state', label: t('convening.changeState'), options: STATES.map(([s, n]) => [s, n()]), value: c.state || PLANNED });
    const err = errorBox('convening-state-form-error');
    stateForm = h(
      'form',
      { id: 'convening-state-form', class: 'state-form', novalidate: true },
      fState.row,
      h('div', { class: 'row actions' }, h('button', { type: 'submit', id: 'convening-state-save', class: 'secondary' }, t('convening.saveState'))),
      err,
    );
    stateForm.addEventListener('submit', (e) => {
      e.preventDefault();
      hideError(err);
      const next = fState.input.value;
      if (next === c.state) return;
      busy(stateForm, async () => {
        try {
          await api.call('PATCH', name, { body: { state: next, etag: c.etag }, query: { updateMask: 'state' } });
          ctx.announce(t('done.conveningState', { state: stateName(next) }));
          ctx.reload('convening-state');
        } catch (x) {
          showError(err, x, ctx);
        }
      });
    });
  }

  const item = (th) =>
    h(
      'li',
      { class: 'thread-item' + (th.pinned ? ' pinned' : '') },
      h('h3', { dir: 'auto' }, h('a', { href: '/' + th.name }, th.title)),
      badges(th),
      h(
        'p',
        { class: 'meta' },
        t('thread.by'),
        ' ',
        userLink(th.author, who),
        themeNames.has(th.theme) ? [' · ', t('convening.inTheme'), ' ', h('a', { href: '/' + th.theme, dir: 'auto' }, themeNames.get(th.theme))] : null,
        ' · ',
        t('thread.replies', { n: th.replyCount || 0 }),
        ' · ',
        t('thread.lastActivity'),
        ' ',
        when(th.lastActivityTime || th.createTime),
      ),
      th.followUpOf
        ? h('p', { class: 'meta' }, t('thread.followsUp'), ' ', h('a', { href: '/' + th.followUpOf, dir: 'auto' }, byName.has(th.followUpOf) ? byName.get(th.followUpOf).title : t('thread.numbered', { id: api.idOf(th.followUpOf) })))
        : null,
      itemsBy.has(th.name)
        ? h('p', { class: 'meta item-counts' }, t('item.counts'), ' ', itemCounts(itemsBy.get(th.name)))
        : null,
    );
  const section = (id, heading, list, none) =>
    h(
      'section',
      { class: 'convening-threads', id, 'aria-labelledby': id + '-h' },
      h('h2', { id: id + '-h' }, heading, ' ', h('span', { class: 'count' }, `(${list.length})`)),
      list.length ? h('ul', { class: 'threads' }, list.map(item)) : h('p', null, none),
    );
  const discussions = threads.filter((x) => x.kind !== FOLLOW_UP);
  const followUps = threads.filter((x) => x.kind === FOLLOW_UP);

  return {
    title: c.title,
    node: [
      crumbs([['/convenings', t('convening.listTitle')], [null, c.title]]),
      h(
        'article',
        { class: 'convening-page', 'aria-labelledby': 'convening-title-h' },
        title(c.title, { id: 'convening-title-h' }),
        h('p', { class: 'badges', id: 'convening-badges' }, stateBadge(c.state)),
        h('dl', { class: 'profile', id: 'convening-details' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
        c.descriptionHtml ? setHTML(h('div', { class: 'body', dir: 'auto', id: 'convening-description' }), c.descriptionHtml) : null,
        stateForm,
      ),
      section('discussions', t('convening.discussions'), discussions, t('convening.noDiscussions')),
      section('follow-ups', t('convening.followUps'), followUps, t('convening.noFollowUps')),
    ],
  };
}
