// Notifications: the bell in the header, the notifications page
// (/notifications) and the control of one's subscription to a thread or a
// theme (watching, tracking, normal, muted).
//
// The bell's count comes from one ListNotifications of a single
// notification per page load (after reading the head of the event log),
// then from the event stream: each notification.created adds one and is
// announced politely. Marking notifications read sets it from the
// server's answer.

import * as api from './api.js';
import * as live from './live.js';
import { h, add, replace, focus } from './dom.js';
import { t } from './i18n.js';
import { authors, when, title, errorBox, showError, hideError, showFormError, badge, busy } from './ui.js';
import { hitHref } from './search.js';
import { needLogin } from './forms.js';

/** Notifications per page of the notifications page. */
export const PAGE_SIZE = 25;

const bell = {
  user: '', // the user the bell is for
  count: null, // unread; null until known
  ac: null, // aborts the bell's requests and its following of the stream
  say: () => {}, // says a message to screen readers
  seen: new Set(), // notifications counted already, so that none counts twice
  watchers: new Set(), // functions told of each new notification
};

/** The bell's count as its badge shows it. */
export const countText = (n) => (n > 99 ? '99+' : String(n));

/** Shows the count on the bell element a, and on the notifications page. */
function paint(a) {
  const n = bell.count || 0;
  if (a) {
    a.setAttribute('aria-label', n ? t('bell.unread', { n }) : t('nav.notifications'));
    if (bell.count === null) delete a.dataset.count;
    else a.dataset.count = String(n);
    const b = a.querySelector('.bell-count');
    b.textContent = countText(n);
    b.hidden = !n;
  }
  const line = document.getElementById('notes-count');
  if (line && bell.count !== null) line.textContent = n ? t('notes.unreadCount', { n }) : t('notes.allRead');
}

/** Sets the bell's count. */
export function setCount(n) {
  bell.count = Math.max(0, Number(n) || 0);
  paint(document.getElementById('bell'));
}

/** The bell: a link to the notifications page with the unread count. */
export function bellLink() {
  const a = h('a', { id: 'bell', href: '/notifications', class: 'bell' }, t('nav.notifications'), h('span', { class: 'bell-count', hidden: true }));
  paint(a);
  return a;
}

/**
 * Starts the bell for the signed-in user me (nothing if it runs for them
 * already): the count, then the stream. say announces new notifications.
 */
export async function startBell(me, say) {
  if (me && bell.user === me.name && bell.ac) return;
  stopBell();
  if (!me) return;
  bell.user = me.name;
  bell.say = say;
  const ac = (bell.ac = new AbortController());
  try {
    const from = await live.head(ac.signal);
    const res = await api.get('users/me/notifications', { pageSize: 1 }, ac.signal);
    if (ac.signal.aborted) return;
    // A notification made between the head and the count is in both.
    for (const n of res.notifications || []) bell.seen.add(n.name);
    setCount(res.unreadCount);
    live.follow(ac.signal, 'type = "notification.created"', from, { 'notification.created': created });
  } catch (e) {
    // No count (the network, or the session ended): the bell stays a link.
  }
}

/** Stops the bell (logged out). */
export function stopBell() {
  if (bell.ac) bell.ac.abort();
  bell.ac = null;
  bell.user = '';
  bell.count = null;
  bell.seen.clear();
  paint(document.getElementById('bell'));
}

/** Calls fn with each new notification until signal aborts. */
export function onNotification(signal, fn) {
  bell.watchers.add(fn);
  signal.addEventListener('abort', () => bell.watchers.delete(fn));
}

async function created(ev) {
  const n = ev.notification;
  if (!n || n.readTime || bell.seen.has(n.name)) return;
  bell.seen.add(n.name);
  setCount((bell.count || 0) + 1);
  for (const fn of bell.watchers) fn(n);
  const u = n.actor ? await api.user(n.actor) : null;
  bell.say(t('bell.new', { what: what(n, u), title: n.threadTitle || t('thread.numbered', { id: api.idOf(n.thread) }) }));
}

/** What a notification says happened, in words: "Ana mentioned you". */
export function what(n, u) {
  const name = u ? u.displayName || u.username : t('user.unknown');
  switch (n.kind) {
    case 'NOTIFICATION_KIND_REPLY':
      return t('notes.reply', { name });
    case 'NOTIFICATION_KIND_MENTION':
      return t('notes.mention', { name });
    case 'NOTIFICATION_KIND_WATCHED_POST':
      return n.post === n.thread ? t('notes.watchedThread', { name }) : t('notes.watchedReply', { name });
    case 'NOTIFICATION_KIND_FOLLOW_UP':
      return t('notes.followUp', { name });
    case 'NOTIFICATION_KIND_RESOLVED':
      return t('notes.resolved', { name });
    case 'NOTIFICATION_KIND_ANSWER_ACCEPTED':
      return t('notes.answerAccepted', { name });
    // The notification does not say whether the item is the user's own or
    // their organisation's: the words cover both.
    case 'NOTIFICATION_KIND_ACTION_ITEM_ASSIGNED':
      return t('notes.itemAssigned', { name });
    // forumd's reminder: no one caused it.
    case 'NOTIFICATION_KIND_ACTION_ITEM_DUE':
      return t('notes.itemDue');
  }
  return t('notes.other', { name });
}

const ITEM_KINDS = ['NOTIFICATION_KIND_ACTION_ITEM_ASSIGNED', 'NOTIFICATION_KIND_ACTION_ITEM_DUE'];

/**
 * The link of a notification's post: a thread, or a reply at its place;
 * for an action item, the follow-up's action items.
 */
export const postHref = (n) => (ITEM_KINDS.includes(n.kind) ? `/${n.thread}#action-items` : hitHref({ name: n.post || n.thread, thread: n.thread }));

/** Marks the named notifications read; returns the server's answer. */
function markRead(body) {
  return api.call('POST', 'users/me/notifications:markRead', { body, bookkeeping: true }).then((r) => {
    setCount(r.unreadCount);
    return r;
  });
}

// RFC 3339 times as protojson writes them (UTC, 0 to 9 digits of
// fractions), made comparable as strings.
const timeKey = (iso) => String(iso || '').replace(/(?:\.(\d+))?Z$/, (_, f) => '.' + (f || '').padEnd(9, '0') + 'Z');

/** The notifications page: unread first, then read, newest first in each. */
export async function notificationsPage(ctx) {
  const heading = t('notes.title');
  if (!ctx.me) return needLogin(heading);
  const res = await api.get('users/me/notifications', { pageSize: PAGE_SIZE }, ctx.signal);
  const first = res.notifications || [];
  const who = await authors(first.map((n) => n.actor));
  for (const n of first) bell.seen.add(n.name);
  setCount(res.unreadCount);
  // "Mark all read" marks what the person was told of: every notification
  // created at or before the newest one listed or announced.
  let newest = '';
  const saw = (n) => {
    if (timeKey(n.createTime) > timeKey(newest)) newest = n.createTime;
  };
  first.forEach(saw);
  const err = errorBox('notes-error');

  function unmark(li) {
    li.classList.remove('unread');
    const b = li.querySelector('.b-new');
    if (b) b.remove();
  }

  function item(n) {
    const metaId = 'note-' + api.idOf(n.name) + '-meta';
    const li = h('li', { class: 'note' + (n.readTime ? '' : ' unread'), id: 'note-' + api.idOf(n.name) });
    const link = h('a', { href: postHref(n), 'aria-describedby': metaId, dir: 'auto' }, n.threadTitle || t('thread.numbered', { id: api.idOf(n.thread) }));
    // Following the link reads the notification (a soft navigation: the
    // request is not cut short).
    const read = () => {
      if (!li.classList.contains('unread')) return;
      unmark(li);
      markRead({ names: [n.name] }).catch(() => {});
    };
    link.addEventListener('click', read);
    link.addEventListener('auxclick', read);
    const u = who.get(n.actor);
    add(
      li,
      h('p', { class: 'meta note-what', id: metaId }, n.readTime ? null : [badge(t('notes.unread'), 'b-new'), ' '], what(n, u), ' · ', when(n.createTime)),
      h('h2', { class: 'note-title' }, link),
      n.excerpt ? h('p', { class: 'snippet', dir: 'auto' }, n.excerpt) : null,
    );
    return li;
  }

  const list = h('ul', { class: 'notes', id: 'notes' }, first.map(item));
  const markAll = h('button', { type: 'button', class: 'secondary', id: 'mark-all-read' }, t('notes.markAll'));
  let marking = false;
  markAll.addEventListener('click', async () => {
    if (marking) return;
    marking = true;
    hideError(err);
    try {
      await markRead({ before: newest || new Date().toISOString() });
      for (const li of list.querySelectorAll('.note.unread')) unmark(li);
      ctx.say(t('notes.markedAll'));
    } catch (e) {
      showError(err, e, ctx);
    } finally {
      marking = false;
    }
  });

  let token = res.nextPageToken || '';
  const more = h('button', { type: 'button', class: 'secondary', id: 'more-notes', hidden: !token }, t('notes.more'));
  more.addEventListener('click', async () => {
    hideError(err);
    try {
      const r = await api.get('users/me/notifications', { pageSize: PAGE_SIZE, pageToken: token }, ctx.signal);
      const page = r.notifications || [];
      for (const [k, v] of await authors(page.map((n) => n.actor))) who.set(k, v);
      page.forEach(saw);
      const items = page.map(item);
      add(list, items);
      token = r.nextPageToken || '';
      if (items.length) focus(items[0].querySelector('a'));
      more.hidden = !token;
    } catch (e) {
      if (e && e.name === 'AbortError') return;
      showError(err, e, ctx);
    }
  });

  // Live: notifications that come while the page is open are counted (the
  // bell announces each) and shown on request.
  let fresh = 0;
  const news = h('p', { class: 'actions', id: 'new-notes', hidden: true });
  onNotification(ctx.signal, (n) => {
    saw(n);
    replace(news, h('button', { type: 'button', class: 'secondary', onclick: () => ctx.reload('notes-title') }, t('live.newNotes', { n: ++fresh })));
    news.hidden = false;
  });

  const unread = Number(res.unreadCount) || 0;
  return {
    title: heading,
    node: [
      title(heading, { id: 'notes-title' }),
      h('p', { class: 'lead', id: 'notes-count' }, unread ? t('notes.unreadCount', { n: unread }) : t('notes.allRead')),
      h('p', { class: 'actions' }, first.length ? markAll : null, ' ', h('a', { href: '/settings/notifications', id: 'settings-link' }, t('settings.link'))),
      err,
      news,
      first.length ? list : h('p', { id: 'notes-none' }, t('notes.none')),
      h('div', { class: 'paging' }, more),
    ],
  };
}

// Subscriptions.

const NORMAL = 'NORMAL'; // no subscription: the default
const LEVELS = ['SUBSCRIPTION_LEVEL_WATCHING', 'SUBSCRIPTION_LEVEL_TRACKING', NORMAL, 'SUBSCRIPTION_LEVEL_MUTED'];

/** A level's name in words. */
function levelName(level) {
  switch (level) {
    case 'SUBSCRIPTION_LEVEL_WATCHING':
      return t('sub.watching');
    case 'SUBSCRIPTION_LEVEL_TRACKING':
      return t('sub.tracking');
    case 'SUBSCRIPTION_LEVEL_MUTED':
      return t('sub.muted');
  }
  return t('sub.normal');
}

/** What a level does, on a thread or a theme. */
function levelHint(level, theme) {
  switch (level) {
    case 'SUBSCRIPTION_LEVEL_WATCHING':
      return theme ? t('sub.watchingTheme') : t('sub.watchingThread');
    case 'SUBSCRIPTION_LEVEL_TRACKING':
      return t('sub.trackingHint');
    case 'SUBSCRIPTION_LEVEL_MUTED':
      return t('sub.mutedHint');
  }
  return t('sub.normalHint');
}

/** The name of the signed-in user's subscription to target ("threads/7", "themes/x"). */
export function subscriptionName(target) {
  const [kind, id] = target.split('/');
  return `users/me/subscriptions/${kind === 'themes' ? 'theme' : 'thread'}-${id}`;
}

/**
 * The signed-in user's subscription to target: {level: ''} when there is
 * none (404: the default), null when it cannot be read.
 */
export function subscription(target, signal) {
  return api.get(subscriptionName(target), null, signal).catch((e) => {
    if (e && e.name === 'AbortError') throw e;
    return e && e.status === 404 ? { level: '' } : null;
  });
}

/**
 * The control of the subscription sub (from subscription()) to target, a
 * thread or a theme: a button that shows the level and opens a form to
 * choose another, each level explained.
 */
export function subscriptionControl(target, sub, ctx) {
  if (!sub || !ctx.me) return null;
  const theme = target.startsWith('themes/');
  const name = subscriptionName(target);
  let level = sub.level || NORMAL;
  const toggle = h('button', { type: 'button', class: 'secondary', id: 'subscription-toggle', 'aria-expanded': 'false', 'aria-controls': 'subscription-form' }, t('sub.toggle', { level: levelName(level) }));
  const auto = sub.automatic ? h('p', { class: 'hint', id: 'subscription-auto' }, t('sub.automatic')) : null;
  const radios = LEVELS.map((l) => {
    const id = 'subscription-' + l.replace('SUBSCRIPTION_LEVEL_', '').toLowerCase();
    return h(
      'div',
      { class: 'level' },
      h('input', { type: 'radio', name: 'level', value: l, id, checked: l === level, 'aria-describedby': id + '-hint' }),
      h('label', { for: id }, levelName(l)),
      h('p', { class: 'hint', id: id + '-hint' }, levelHint(l, theme)),
    );
  });
  const form = h(
    'form',
    { id: 'subscription-form', class: 'subscription-form', novalidate: true, hidden: true },
    h('fieldset', null, h('legend', null, theme ? t('sub.legendTheme') : t('sub.legendThread')), auto, radios),
    errorBox('subscription-error'),
    h('div', { class: 'row actions' }, h('button', { type: 'submit' }, t('action.save')), h('button', { type: 'button', class: 'secondary', onclick: () => shut() }, t('action.cancel'))),
  );
  const open = (yes) => {
    form.hidden = !yes;
    toggle.setAttribute('aria-expanded', String(yes));
  };
  function shut() {
    for (const r of form.querySelectorAll('input[type=radio]')) r.checked = r.value === level;
    open(false);
    toggle.focus();
  }
  toggle.addEventListener('click', () => {
    open(form.hidden);
    if (!form.hidden) (form.querySelector('input:checked') || form.querySelector('input')).focus();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form, async () => {
      const chosen = form.elements.level.value || NORMAL;
      try {
        if (chosen === NORMAL) await api.call('DELETE', name, { query: { allowMissing: true } });
        else await api.call('PATCH', name, { body: { level: chosen }, query: { allowMissing: true } });
      } catch (err) {
        showFormError(form, err, ctx);
        return;
      }
      level = chosen;
      if (auto) auto.remove();
      replace(toggle, t('sub.toggle', { level: levelName(level) }));
      ctx.say(t('sub.saved', { level: levelName(level) }));
      shut();
    });
  });
  return h('div', { class: 'subscription', role: 'group', 'aria-label': theme ? t('sub.legendTheme') : t('sub.legendThread') }, toggle, form);
}
