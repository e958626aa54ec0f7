// The theme list, a theme's threads (with, for the signed-in, the replies
// new to them and their subscription to the theme), a user's profile (also
// found by username, as mentions link to it), and the pages for errors.

import * as api from './api.js';
import { ApiError } from './api.js';
import * as live from './live.js';
import { h, replace } from './dom.js';
import { t, regionName, languageName } from './i18n.js';
import { badges, tagLinks, authors, userLink, when, title, crumbs, explain, field, badge } from './ui.js';
import { profileEditor } from './forms.js';
import { subscription, subscriptionControl } from './notify.js';

/** The themes, with their thread counts and latest activity. */
export async function themesPage(ctx) {
  const res = await api.get('themes', { pageSize: 100 }, ctx.signal);
  const themes = res.themes || [];
  const list = h(
    'ul',
    { class: 'cards' },
    themes.map((th) =>
      h(
        'li',
        { class: 'card' },
        h('h2', { dir: 'auto' }, h('a', { href: '/' + th.name }, th.displayName)),
        th.description ? h('p', { dir: 'auto' }, th.description) : null,
        h(
          'p',
          { class: 'meta' },
          t('themes.threads', { n: th.threadCount || 0 }),
          ' · ',
          th.lastActivityTime ? [t('themes.lastActivity'), ' ', when(th.lastActivityTime)] : t('themes.noActivity'),
          th.visibility && th.visibility !== 'THEME_VISIBILITY_PUBLIC' ? [' ', badge(t('vis.' + th.visibility.replace('THEME_VISIBILITY_', '').toLowerCase()), 'b-kind')] : null,
        ),
      ),
    ),
  );
  return { title: t('themes.title'), node: [title(t('themes.title')), themes.length ? list : h('p', null, t('themes.none'))] };
}

const KINDS = ['DISCUSSION', 'QUESTION', 'FOLLOW_UP', 'ANNOUNCEMENT'];
const STATES = ['OPEN', 'RESOLVED', 'LOCKED'];
const TAG = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** A theme's threads: pinned first, sorted, filtered, paged. */
export async function themePage(ctx) {
  const slug = ctx.params[0];
  const name = 'themes/' + slug;
  const q = ctx.query;
  const sort = q.get('sort') === 'new' ? 'new' : '';
  const kind = KINDS.includes(q.get('kind')) ? q.get('kind') : '';
  const state = STATES.includes(q.get('state')) ? q.get('state') : '';
  const tag = (q.get('tag') || '').trim().toLowerCase().replace(/^#/, '');
  const tagOK = tag === '' || (TAG.test(tag) && tag.length <= 32);
  const filter = [`theme = "${name}"`];
  if (kind) filter.push(`kind = ${kind}`);
  // Locked is apart from the state (a resolved thread may be locked): the
  // filter's LOCKED is locked = true.
  if (state) filter.push(state === 'LOCKED' ? 'locked = true' : `state = ${state}`);
  if (tag && tagOK) filter.push(`tag = "${tag}"`);
  // The head of the event log before the list: new threads count from there.
  const events = `theme = "${name}" AND type = "thread.created"`;
  const from = await live.head(ctx.signal);
  const [theme, res, sub] = await Promise.all([
    api.theme(name),
    api.get('threads', { filter: filter.join(' AND '), orderBy: sort ? 'create_time desc' : '', pageSize: 25, pageToken: q.get('page') || '' }, ctx.signal),
    ctx.me ? subscription(name, ctx.signal) : null,
  ]);
  const threads = res.threads || [];
  const who = await authors(threads.map((x) => x.author));

  // The filters: a form whose submission becomes the page's query.
  const fSort = field({ name: 'sort', label: t('filter.sort'), options: [['', t('filter.sortActivity')], ['new', t('filter.sortNew')]], value: sort });
  const fKind = field({ name: 'kind', label: t('filter.kind'), options: [['', t('filter.any')], ...KINDS.map((k) => [k, t('kind.' + k.replace('_', '').toLowerCase())])], value: kind });
  const fState = field({ name: 'state', label: t('filter.state'), options: [['', t('filter.any')], ...STATES.map((s) => [s, t('state.' + s.toLowerCase())])], value: state });
  const fTag = field({ name: 'tag', label: t('filter.tag'), value: tag, attrs: { spellcheck: 'false', autocapitalize: 'none' } });
  if (!tagOK) {
    fTag.error.textContent = t('filter.badTag');
    fTag.error.hidden = false;
    fTag.input.setAttribute('aria-invalid', 'true');
  }
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': t('filter.label'), action: '/' + name, method: 'get' },
    fSort.row,
    fKind.row,
    fState.row,
    fTag.row,
    h('div', { class: 'row actions' }, h('button', { type: 'submit' }, t('filter.apply'))),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) p.set(k, String(v).trim());
    const s = p.toString();
    ctx.go('/' + name + (s ? '?' + s : ''));
  });

  const list = h(
    'ul',
    { class: 'threads' },
    threads.map((th) =>
      h(
        'li',
        { class: 'thread-item' + (th.pinned ? ' pinned' : '') },
        h('h2', { dir: 'auto' }, h('a', { href: '/' + th.name, id: 'title-' + api.idOf(th.name) }, th.title)),
        badges(th),
        h(
          'p',
          { class: 'meta' },
          t('thread.by'),
          ' ',
          userLink(th.author, who),
          ' · ',
          t('thread.replies', { n: th.replyCount || 0 }),
          th.unreadReplyCount > 0 ? [' · ', unreadLink(th)] : null,
          ' · ',
          t('thread.lastActivity'),
          ' ',
          when(th.lastActivityTime),
        ),
        tagLinks(th.tags, name),
      ),
    ),
  );
  const more = new URLSearchParams(q);
  more.delete('page');
  const firstHref = '/' + name + (more.toString() ? '?' + more : '');
  if (res.nextPageToken) more.set('page', res.nextPageToken);
  const paging = h(
    'nav',
    { class: 'paging', 'aria-label': t('paging.threads') },
    q.get('page') ? h('a', { href: firstHref }, t('paging.first')) : null,
    res.nextPageToken ? h('a', { href: '/' + name + '?' + more, rel: 'next' }, t('paging.moreThreads')) : null,
  );
  // Live: threads started since the list was read (that its filters would
  // show), counted, announced, and one click away.
  let fresh = 0;
  const news = h('p', { class: 'actions', id: 'new-threads', hidden: true });
  live.follow(ctx.signal, events, from, {
    'thread.created': (ev) => {
      const th = ev.threadResource;
      if (!th || (kind && th.kind !== 'THREAD_KIND_' + kind) || (state && (state === 'LOCKED' ? !th.locked : th.state !== 'THREAD_STATE_' + state)) || (tag && tagOK && !(th.tags || []).includes(tag))) return;
      const msg = t('live.newThreads', { n: ++fresh });
      replace(news, h('button', { type: 'button', class: 'secondary', onclick: () => ctx.go(firstHref, { replace: firstHref === location.pathname + location.search }) }, msg));
      news.hidden = false;
      ctx.say(msg);
    },
  });
  return {
    title: theme.displayName,
    node: [
      crumbs([['/', t('nav.themes')], [null, theme.displayName]]),
      title(theme.displayName),
      theme.description ? h('p', { dir: 'auto', class: 'lead' }, theme.description) : null,
      h('p', { class: 'actions' }, ctx.me ? h('a', { class: 'button', href: `/${name}/new` }, t('thread.new')) : h('a', { href: '/login?next=' + encodeURIComponent(`/${name}/new`) }, t('thread.loginToPost'))),
      subscriptionControl(name, sub, ctx),
      form,
      news,
      h('h2', { class: 'visually-hidden' }, t('thread.list')),
      threads.length ? list : h('p', null, t('thread.noneMatch')),
      paging,
    ],
  };
}

/**
 * The link to the replies of thread th that are new to the reader: to the
 * first of them, in its place on the thread's page.
 */
function unreadLink(th) {
  const n = th.unreadReplyCount;
  const href = th.firstUnreadReply ? `/${th.name}#${api.replyAnchor(th.firstUnreadReply)}` : '/' + th.name;
  return h('a', { href, class: 'unread-link', 'aria-describedby': 'title-' + api.idOf(th.name) }, t('thread.unread', { n }));
}

/** The most members a group's page names (each is a profile fetched). */
const groupMembersShown = 50;

/**
 * /u/{name}, where a mention (@name) links: the profile of the user with
 * that username; else the group of that slug, if the reader may see it (its
 * members and moderators), with its members; else a page that says there
 * is no one of that name.
 */
export async function mentionPage(ctx) {
  const username = ctx.params[0].toLowerCase();
  const res = await api.get('users', { filter: `username = "${username}"`, pageSize: 1 }, ctx.signal);
  const u = (res.users || []).find((x) => x.username === username);
  if (u) {
    ctx.go('/users/' + api.idOf(u.name), { replace: true });
    return { title: '@' + username, node: null }; // this render is over: the profile's follows
  }
  const group = /^[a-z0-9]+(-[a-z0-9]+)*$/.test(username) ? await api.get('groups/' + username, null, ctx.signal).catch((e) => {
    if (e instanceof ApiError && (e.status === 404 || e.status === 403 || e.status === 401)) return null;
    throw e;
  }) : null;
  if (group) {
    const members = group.members || [];
    const who = await authors(members.slice(0, groupMembersShown));
    return {
      title: group.displayName,
      node: [
        title(group.displayName),
        h('p', { class: 'meta' }, '@' + username, ' · ', t('group.members', { n: members.length })),
        group.description ? h('p', { dir: 'auto', class: 'bio' }, group.description) : null,
        h('ul', { class: 'plain group-members' }, members.slice(0, groupMembersShown).map((m) => h('li', null, userLink(m, who)))),
        members.length > groupMembersShown ? h('p', null, t('group.more', { n: members.length - groupMembersShown })) : null,
      ],
    };
  }
  const heading = t('user.noSuch');
  return { title: heading, node: [title(heading), h('p', null, t('user.noSuchText', { name: '@' + username })), h('p', null, h('a', { href: '/' }, t('nav.backHome')))] };
}

/** A user's profile: organisation, country, languages, bio; one's own is editable. */
export async function userPage(ctx) {
  const u = await api.get('users/' + ctx.params[0], null, ctx.signal);
  const self = !!ctx.me && ctx.me.name === u.name;
  const [org, threads] = await Promise.all([
    u.organization ? api.get(u.organization, null, ctx.signal).catch(() => null) : null,
    api
      .get('threads', { filter: `author = "${u.name}"`, pageSize: 10 }, ctx.signal)
      .then((r) => r.threads || [])
      .catch(() => []),
  ]);
  const role = { ROLE_CONVENER: 'role.convener', ROLE_ADMIN: 'role.admin' }[u.role] || 'role.member';
  // Anonymous readers get a name only, unless forumd runs with
  // --public-directory: the rest of a profile is for members.
  const namesOnly = !ctx.me && !u.createTime;
  const rows = namesOnly ? [[t('user.username'), h('span', { dir: 'auto' }, u.username)]] : [
    [t('user.username'), h('span', { dir: 'auto' }, u.username)],
    [t('user.role'), t(role)],
    [t('user.organization'), org ? h('span', { dir: 'auto' }, org.displayName, org.country ? ` (${regionName(org.country)})` : '') : u.organization ? api.idOf(u.organization) : t('user.none')],
    [t('user.country'), u.country ? regionName(u.country) : t('user.none')],
    [t('user.languages'), u.languages && u.languages.length ? u.languages.map(languageName).join(', ') : t('user.none')],
    [t('user.since'), when(u.createTime)],
    self ? [t('user.email'), u.email || t('user.none')] : null,
  ].filter(Boolean);
  const node = [
    title(u.displayName || u.username),
    u.state === 'USER_STATE_SUSPENDED' ? h('p', null, badge(t('user.suspended'), 'b-locked')) : null,
    h('dl', { class: 'profile' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    namesOnly ? h('p', null, h('a', { href: '/login?next=' + encodeURIComponent(location.pathname) }, t('profile.membersOnly'))) : null,
    u.bio ? [h('h2', null, t('user.bio')), h('p', { dir: 'auto', class: 'bio' }, u.bio)] : null,
    self ? profileEditor(u, ctx) : null,
    h('h2', null, t('user.threads')),
    threads.length ? h('ul', { class: 'plain' }, threads.map((th) => h('li', null, h('a', { href: '/' + th.name, dir: 'auto' }, th.title), ' · ', when(th.createTime)))) : h('p', null, t('user.noThreads')),
  ];
  return { title: u.displayName || u.username, node };
}

/** The page for an unknown URL. */
export async function notFoundPage() {
  return { title: t('err.pageNotFound'), node: [title(t('err.pageNotFound')), h('p', null, h('a', { href: '/' }, t('nav.backHome')))] };
}

/** The page for an error that stopped a page from loading. */
export function errorPage(e) {
  if (e instanceof ApiError && e.status === 404) {
    return { title: t('err.pageNotFound'), node: [title(t('err.pageNotFound')), h('p', null, t('err.notFound')), h('p', null, h('a', { href: '/' }, t('nav.backHome')))] };
  }
  const login = e instanceof ApiError && e.status === 401 ? h('p', null, h('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search) }, t('nav.login'))) : null;
  return { title: t('err.title'), node: [title(t('err.title')), h('p', { role: 'alert' }, explain(e)), login, h('p', null, h('a', { href: '/' }, t('nav.backHome')))] };
}
