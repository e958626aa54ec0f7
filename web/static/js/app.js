// The forum's web interface: a router over real URLs (history API), the
// header with the session, the notifications bell, the search box and the
// language switch, and the pages of pages.js, thread.js, forms.js,
// search.js, notify.js, settings.js, convenings.js and actionitems.js. The
// server answers index.html for every URL below (web.appRoutes must agree).

import * as api from './api.js';
import { h, replace, focus } from './dom.js';
import { t, lang, setLang, LANGS, apply } from './i18n.js';
import { themesPage, themePage, userPage, mentionPage, errorPage, notFoundPage } from './pages.js';
import { threadPage } from './thread.js';
import { searchPage, searchBox } from './search.js';
import { loginPage, registerPage, passwordPage, newThreadPage, editThreadPage, followUpPage } from './forms.js';
import { notificationsPage, bellLink, startBell, stopBell } from './notify.js';
import { notificationSettingsPage, unsubscribePage } from './settings.js';
import { conveningsPage, conveningPage } from './convenings.js';
import { actionItemsPage } from './actionitems.js';

const routes = [
  [/^\/$/, themesPage],
  [/^\/themes\/([a-z0-9-]+)$/, themePage],
  [/^\/themes\/([a-z0-9-]+)\/new$/, newThreadPage],
  [/^\/threads\/([0-9]+)$/, threadPage],
  [/^\/threads\/([0-9]+)\/edit$/, editThreadPage],
  [/^\/threads\/([0-9]+)\/follow-up$/, followUpPage],
  [/^\/users\/([0-9]+|me)$/, userPage],
  [/^\/u\/([A-Za-z0-9_.-]{1,32})$/, mentionPage],
  [/^\/notifications$/, notificationsPage],
  [/^\/settings\/notifications$/, notificationSettingsPage],
  [/^\/unsubscribe$/, unsubscribePage],
  [/^\/login$/, loginPage],
  [/^\/register$/, registerPage],
  [/^\/password$/, passwordPage],
  [/^\/search$/, searchPage],
  [/^\/convenings$/, conveningsPage],
  [/^\/convenings\/([a-z0-9-]+)$/, conveningPage],
  [/^\/action-items$/, actionItemsPage],
];

const state = { me: null, flash: null, announce: null };
let controller = null;
let firstRender = true;

const $ = (id) => document.getElementById(id);

/** Navigates to path (pushState, or replaceState) and renders it. */
function go(path, opts) {
  if (opts && opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  return render();
}

// What was last said, and when: a message that follows within a second
// (a new reply, then the notification of it) is said with the one before
// (up to three) rather than in its place, so that none is lost.
let said = { list: [], at: 0 };

/** Says msg to screen readers. */
function announce(msg) {
  const el = $('announce');
  const now = Date.now();
  const list = [...(now - said.at < 1000 ? said.list : []), msg].slice(-3);
  said = { list, at: now };
  el.textContent = '';
  setTimeout(() => said.list === list && (el.textContent = list.join(' ')), 50);
}

function setMe(user) {
  state.me = user || null;
  renderHeader();
  bell();
}

/** Starts the bell for the signed-in person, or stops it. */
function bell() {
  if (state.me) startBell(state.me, announce);
  else stopBell();
}

function isMod(me) {
  return !!me && (me.role === 'ROLE_CONVENER' || me.role === 'ROLE_ADMIN');
}

/** The context handed to a page. */
function context(params, query, signal) {
  return {
    params,
    query,
    signal,
    me: state.me,
    isMod: isMod(state.me),
    go,
    /** Renders the page again, then focuses the element with id focusId. */
    reload: (focusId) => render({ keepFocus: true, focusId }),
    setMe,
    flash: (msg) => (state.flash = msg),
    /** Says msg to screen readers once the next render is done. */
    announce: (msg) => (state.announce = msg),
    /** Says msg to screen readers now (politely: #announce is aria-live). */
    say: announce,
    /** Called on a 401 from a write: the session is gone. */
    sessionExpired: () => setMe(null),
  };
}

/** Renders the page of the current URL. */
async function render(opts) {
  if (controller) controller.abort();
  controller = new AbortController();
  const signal = controller.signal;
  const url = new URL(location.href);
  let page = notFoundPage;
  let params = [];
  for (const [re, fn] of routes) {
    const m = re.exec(url.pathname);
    if (m) {
      page = fn;
      params = m.slice(1);
      break;
    }
  }
  syncSearchBox(url);
  const main = $('main');
  main.setAttribute('aria-busy', 'true');
  document.body.classList.add('loading');
  let result;
  try {
    result = await page(context(params, url.searchParams, signal));
  } catch (e) {
    if (signal.aborted || (e && e.name === 'AbortError')) return;
    if (!(e instanceof api.ApiError)) console.error(e); // a bug: say so in the console
    if (e && e.status === 401) setMe(null);
    result = errorPage(e);
  }
  if (signal.aborted) return;
  main.removeAttribute('aria-busy');
  main.dataset.url = location.pathname + location.search;
  document.body.classList.remove('loading');
  document.title = result.title ? `${result.title} · ${t('app.name')}` : t('app.name');
  const flash = state.flash;
  state.flash = null;
  replace(main, flash ? h('p', { class: 'flash', role: 'status' }, flash) : null, result.node);
  if (result.after) result.after();
  const target =
    (opts && opts.focusId && document.getElementById(opts.focusId)) ||
    (!firstRender && result.focus && result.focus.isConnected ? result.focus : null) ||
    (location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1))));
  if (target) {
    focus(target);
    target.scrollIntoView();
  } else if (!firstRender && !(opts && opts.keepFocus)) {
    window.scrollTo(0, 0);
    focus(main.querySelector('h1') || main);
  }
  const said = state.announce || (!firstRender && !(opts && opts.keepFocus) ? document.title : '');
  state.announce = null;
  if (said) announce(said);
  firstRender = false;
}

/** The query of a search URL, shown in the header's box; '' elsewhere. */
const searchQuery = (url) => (url.pathname === '/search' ? url.searchParams.get('q') || '' : '');

/** Shows the query of url in the header's search box, unless it is being typed in. */
function syncSearchBox(url) {
  const box = $('site-search-q');
  if (box && document.activeElement !== box) box.value = searchQuery(url);
}

function renderHeader() {
  const me = state.me;
  const select = h('select', { id: 'lang-select', onchange: (e) => {
    setLang(e.target.value);
    renderHeader();
    renderChrome();
    render({ keepFocus: true }).then(() => $('lang-select').focus());
  } });
  const names = { en: 'English', fr: 'Français', es: 'Español' };
  for (const l of LANGS) select.append(h('option', { value: l, lang: l, selected: l === lang() }, names[l]));
  replace(
    $('top'),
    h('a', { class: 'brand', href: '/' }, t('app.name')),
    h(
      'nav',
      { 'aria-label': t('nav.label') },
      h(
        'ul',
        null,
        h('li', null, h('a', { href: '/' }, t('nav.themes'))),
        h('li', null, h('a', { href: '/convenings' }, t('nav.convenings'))),
        me
          ? [
              h('li', null, h('a', { href: '/action-items', id: 'nav-action-items' }, t('nav.actionItems'))),
              h('li', null, bellLink()),
              h('li', null, h('a', { href: '/users/' + api.idOf(me.name), dir: 'auto', 'aria-label': t('nav.profile', { name: me.displayName || me.username }) }, me.displayName || me.username)),
              h('li', null, h('button', { type: 'button', class: 'linkish', onclick: logout }, t('nav.logout'))),
            ]
          : [h('li', null, h('a', { href: '/login' }, t('nav.login'))), h('li', null, h('a', { href: '/register' }, t('nav.register')))],
      ),
    ),
    searchBox(searchQuery(new URL(location.href)), go),
    h('div', { class: 'lang' }, h('label', { for: 'lang-select' }, t('nav.language')), select),
  );
}

function renderChrome() {
  $('skip').textContent = t('skip');
  replace($('foot'), h('p', null, t('foot.text'), ' ', h('a', { href: '/openapi.json' }, t('foot.api'))));
}

async function logout() {
  try {
    await api.post('auth:logout', {});
  } catch (e) {
    // A session that had already ended is logged out all the same.
  }
  setMe(null);
  state.flash = t('flash.loggedOut');
  go('/');
}

// Same-origin links to pages of the application are followed without
// reloading; links to the API, the OpenAPI document and files are not.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || (a.target && a.target !== '_self') || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || /^\/(v1\/|static\/|openapi\.json$|healthz$)/.test(url.pathname)) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return; // an anchor in the page
  e.preventDefault();
  go(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => render({ keepFocus: false }));

async function boot() {
  apply();
  renderChrome();
  try {
    state.me = await api.get('users/me');
  } catch (e) {
    state.me = null; // not logged in (401), or the session ended
  }
  renderHeader();
  await render();
  bell(); // after the page: on a slow link, what was asked for comes first
  document.documentElement.classList.add('ready');
}

boot();
