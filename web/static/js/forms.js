// Forms: log in, register, change password, start a thread, edit a thread,
// open a follow-up, edit one's profile. Errors from the API appear next to
// the field they are about, or above the submit button.

import * as api from './api.js';
import { ApiError, Code } from './api.js';
import { h, add, focus } from './dom.js';
import { t, regionName } from './i18n.js';
import { field, editor, errorBox, showFormError, clearErrors, busy, title, crumbs } from './ui.js';

/** A path to return to after logging in: only this site's own paths. */
function safeNext(n) {
  return n && /^\/(?![/\\])/.test(n) && !n.startsWith('/login') && !n.startsWith('/register') ? n : '/';
}

/** Shows msg as the error of field f. */
function fieldError(f, msg) {
  f.error.textContent = msg;
  f.error.hidden = false;
  f.input.setAttribute('aria-invalid', 'true');
  focus(f.input);
}

/** Shows msg in the error box of form el. */
function formError(el, msg) {
  const box = el.querySelector('.form-error');
  box.textContent = msg;
  box.hidden = false;
}

/** A form with the given rows, an error box and a submit button. */
function form(id, rows, submitLabel, onSubmit, extra) {
  const el = h('form', { id, novalidate: true }, rows, errorBox(id + '-error'), h('div', { class: 'row actions' }, h('button', { type: 'submit' }, submitLabel), extra || null));
  el.addEventListener('submit', (e) => {
    e.preventDefault();
    clearErrors(el);
    busy(el, () => onSubmit(el));
  });
  return el;
}

/** Asks to log in before using a page that needs it. */
export function needLogin(heading) {
  const next = encodeURIComponent(location.pathname + location.search);
  return { title: heading, node: [title(heading), h('p', null, t('auth.needLogin'), ' ', h('a', { href: '/login?next=' + next }, t('nav.login')))] };
}

export async function loginPage(ctx) {
  const next = safeNext(ctx.query.get('next'));
  if (ctx.me) {
    return { title: t('auth.loginTitle'), node: [title(t('auth.loginTitle')), h('p', null, t('auth.already', { name: ctx.me.displayName || ctx.me.username }), ' ', h('a', { href: next }, t('nav.continue')))] };
  }
  const user = field({ name: 'username', label: t('auth.username'), autocomplete: 'username', attrs: { autocapitalize: 'none', spellcheck: 'false' } });
  const pass = field({ name: 'password', label: t('auth.password'), type: 'password', autocomplete: 'current-password' });
  const f = form('login-form', [user.row, pass.row], t('auth.login'), async (el) => {
    try {
      const res = await api.post('auth:login', { username: user.input.value.trim(), password: pass.input.value });
      ctx.setMe(res.user);
      ctx.flash(t('flash.loggedIn', { name: res.user.displayName || res.user.username }));
      ctx.go(next, { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.code === Code.UNAUTHENTICATED) fieldError(pass, t('auth.badLogin'));
      else if (e instanceof ApiError && e.code === Code.PERMISSION_DENIED) formError(el, t('auth.suspended'));
      else showFormError(el, e, ctx);
    }
  });
  return {
    title: t('auth.loginTitle'),
    node: [title(t('auth.loginTitle')), f, h('p', null, t('auth.noAccount'), ' ', h('a', { href: '/register' + (next !== '/' ? '?next=' + encodeURIComponent(next) : '') }, t('nav.register')))],
  };
}

export async function registerPage(ctx) {
  const next = safeNext(ctx.query.get('next'));
  if (ctx.me) return loginPage(ctx);
  const user = field({ name: 'username', label: t('auth.username'), hint: t('auth.usernameHint'), autocomplete: 'username', attrs: { autocapitalize: 'none', spellcheck: 'false' } });
  const display = field({ name: 'displayName', label: t('auth.displayName'), hint: t('auth.displayNameHint'), autocomplete: 'name' });
  const pass = field({ name: 'password', label: t('auth.password'), hint: t('auth.passwordHint'), type: 'password', autocomplete: 'new-password' });
  const email = field({ name: 'email', label: t('auth.email'), hint: t('auth.emailHint'), type: 'email', autocomplete: 'email' });
  const code = field({ name: 'invitationCode', label: t('auth.code'), hint: t('auth.codeHint'), value: ctx.query.get('code') || '', attrs: { autocapitalize: 'none', spellcheck: 'false' } });
  const f = form('register-form', [user.row, display.row, pass.row, email.row, code.row], t('auth.register'), async (el) => {
    try {
      const res = await api.post('auth:register', {
        username: user.input.value.trim(),
        displayName: display.input.value.trim(),
        password: pass.input.value,
        email: email.input.value.trim(),
        invitationCode: code.input.value.trim(),
      });
      ctx.setMe(res.user);
      ctx.flash(t('flash.registered', { name: res.user.displayName || res.user.username }));
      ctx.go(next, { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.code === Code.ALREADY_EXISTS) fieldError(user, t('auth.usernameTaken'));
      else if (e instanceof ApiError && e.code === Code.PERMISSION_DENIED && /invitation/i.test(e.message)) fieldError(code, t('auth.needCode'));
      else showFormError(el, e, ctx);
    }
  });
  return { title: t('auth.registerTitle'), node: [title(t('auth.registerTitle')), f, h('p', null, t('auth.haveAccount'), ' ', h('a', { href: '/login' }, t('nav.login')))] };
}

export async function passwordPage(ctx) {
  if (!ctx.me) return needLogin(t('auth.passwordTitle'));
  const old = field({ name: 'oldPassword', label: t('auth.oldPassword'), type: 'password', autocomplete: 'current-password' });
  const neu = field({ name: 'newPassword', label: t('auth.newPassword'), hint: t('auth.passwordHint'), type: 'password', autocomplete: 'new-password' });
  const f = form('password-form', [old.row, neu.row], t('auth.changePassword'), async (el) => {
    try {
      await api.post('auth:changePassword', { oldPassword: old.input.value, newPassword: neu.input.value });
      ctx.setMe(null); // every session of the account has ended
      ctx.flash(t('auth.passwordChanged'));
      ctx.go('/login', { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.code === Code.PERMISSION_DENIED) fieldError(old, t('auth.wrongOld'));
      else showFormError(el, e, ctx);
    }
  });
  return { title: t('auth.passwordTitle'), node: [title(t('auth.passwordTitle')), f] };
}

/** Tags typed as "health, water #youth" -> ["health", "water", "youth"]. */
const parseTags = (s) => [...new Set(String(s).toLowerCase().split(/[\s,]+/).map((x) => x.replace(/^#/, '')).filter(Boolean))];

/** The fields of a thread: title, kind (on create), tags, body. */
function threadFields(ctx, thread, withKind) {
  const fTitle = field({ name: 'title', label: t('compose.title'), value: thread.title || '' });
  const kinds = [['THREAD_KIND_DISCUSSION', t('kind.discussion')], ['THREAD_KIND_QUESTION', t('kind.question')]];
  if (ctx.isMod) kinds.push(['THREAD_KIND_ANNOUNCEMENT', t('kind.announcement')]);
  const fKind = withKind ? field({ name: 'kind', label: t('compose.kind'), options: kinds, value: 'THREAD_KIND_DISCUSSION' }) : null;
  const fTags = field({ name: 'tags', label: t('compose.tags'), hint: t('compose.tagsHint'), value: (thread.tags || []).join(', '), attrs: { autocapitalize: 'none', spellcheck: 'false' } });
  // The preview is the server's rendering of a validate_only CreateThread in
  // the thread's theme; a placeholder title keeps it working before one is
  // typed (nothing is created either way).
  const render = (src, signal) =>
    api
      .call('POST', 'threads', { body: { theme: thread.theme, title: fTitle.input.value.trim() || t('compose.title'), body: src }, query: { validateOnly: true }, signal })
      .then((th) => th.bodyHtml || '');
  const fBody = editor({ name: 'body', id: 'thread-body', label: t('compose.body'), value: thread.body || '', render, mentions: true });
  return { fTitle, fKind, fTags, fBody, rows: [fTitle.row, fKind ? fKind.row : null, fTags.row, fBody.row] };
}

export async function newThreadPage(ctx) {
  const themeName = 'themes/' + ctx.params[0];
  const theme = await api.theme(themeName);
  if (!ctx.me) return needLogin(t('compose.newTitle'));
  const fs = threadFields(ctx, { theme: themeName }, true);
  const rid = api.requestId();
  const f = form('thread-form', fs.rows, t('compose.publish'), async (el) => {
    try {
      const th = await api.post(
        'threads',
        { theme: themeName, title: fs.fTitle.input.value, body: fs.fBody.input.value, kind: fs.fKind.input.value, tags: parseTags(fs.fTags.input.value) },
        { requestId: rid },
      );
      ctx.announce(t('done.threadPosted'));
      ctx.go('/' + th.name);
    } catch (e) {
      showFormError(el, e, ctx);
    }
  });
  return {
    title: t('compose.newTitle'),
    node: [crumbs([['/', t('nav.themes')], ['/' + themeName, theme.displayName], [null, t('compose.newTitle')]]), title(t('compose.newTitle')), f],
  };
}

export async function editThreadPage(ctx) {
  const name = 'threads/' + ctx.params[0];
  const thread = await api.get(name, null, ctx.signal);
  if (!ctx.me) return needLogin(t('compose.editTitle'));
  const fs = threadFields(ctx, thread, false);
  const f = form(
    'thread-form',
    fs.rows,
    t('action.save'),
    async (el) => {
      try {
        await api.patch(name, { title: fs.fTitle.input.value, body: fs.fBody.input.value, tags: parseTags(fs.fTags.input.value), etag: thread.etag });
        ctx.announce(t('done.threadSaved'));
        ctx.go('/' + name);
      } catch (e) {
        showFormError(el, e, ctx);
      }
    },
    h('a', { href: '/' + name, class: 'button secondary' }, t('action.cancel')),
  );
  return {
    title: t('compose.editTitle'),
    node: [crumbs([['/', t('nav.themes')], ['/' + name, thread.title], [null, t('compose.editTitle')]]), title(t('compose.editTitle')), f],
  };
}

export async function followUpPage(ctx) {
  const parentName = 'threads/' + ctx.params[0];
  const parent = await api.get(parentName, null, ctx.signal);
  if (!ctx.me) return needLogin(t('followup.title'));
  if (!ctx.isMod) return { title: t('followup.title'), node: [title(t('followup.title')), h('p', null, t('followup.onlyConveners'))] };
  const fs = threadFields(ctx, { title: t('followup.defaultTitle', { title: parent.title }), tags: parent.tags }, false);
  const rid = api.requestId();
  const f = form('thread-form', [h('p', null, t('followup.intro'), ' ', h('a', { href: '/' + parentName, dir: 'auto' }, parent.title)), fs.rows], t('followup.publish'), async (el) => {
    try {
      const th = await api.post(
        'threads',
        { theme: parent.theme, title: fs.fTitle.input.value, body: fs.fBody.input.value, kind: 'THREAD_KIND_FOLLOW_UP', followUpOf: parentName, tags: parseTags(fs.fTags.input.value) },
        { requestId: rid },
      );
      ctx.announce(t('done.threadPosted'));
      ctx.go('/' + th.name);
    } catch (e) {
      showFormError(el, e, ctx);
    }
  });
  return {
    title: t('followup.title'),
    node: [crumbs([['/', t('nav.themes')], ['/' + parentName, parent.title], [null, t('followup.title')]]), title(t('followup.title')), f],
  };
}

/** The form to edit one's own profile, behind a button on the profile page. */
export function profileEditor(u, ctx) {
  const section = h('section', { class: 'profile-edit', 'aria-labelledby': 'profile-edit-h' }, h('h2', { id: 'profile-edit-h' }, t('profile.edit')));
  const toggle = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': 'profile-form', id: 'edit-profile' }, t('profile.editButton'));
  const display = field({ name: 'displayName', label: t('auth.displayName'), value: u.displayName, autocomplete: 'name' });
  const org = field({ name: 'organization', label: t('user.organization'), options: [['', t('user.none')]], value: '' });
  const country = field({ name: 'country', label: t('user.country'), hint: t('profile.countryHint'), value: u.country || '', autocomplete: 'country', attrs: { maxlength: '2', autocapitalize: 'characters', spellcheck: 'false' } });
  const countryName = h('span', { class: 'hint', 'aria-live': 'polite' }, u.country ? regionName(u.country) : '');
  country.input.after(countryName);
  country.input.addEventListener('input', () => {
    const c = country.input.value.trim().toUpperCase();
    countryName.textContent = /^[A-Z]{2}$/.test(c) ? regionName(c) : '';
  });
  const langs = field({ name: 'languages', label: t('user.languages'), hint: t('profile.languagesHint'), value: (u.languages || []).join(', '), attrs: { autocapitalize: 'none', spellcheck: 'false' } });
  const bio = field({ name: 'bio', label: t('user.bio'), value: u.bio || '', textarea: true, rows: 4 });
  const email = field({ name: 'email', label: t('auth.email'), hint: t('profile.emailHint'), type: 'email', value: u.email || '', autocomplete: 'email' });
  const f = form(
    'profile-form',
    [display.row, org.row, country.row, langs.row, bio.row, email.row],
    t('action.save'),
    async (el) => {
      try {
        const out = await api.patch(u.name, {
          displayName: display.input.value.trim(),
          organization: org.input.value,
          country: country.input.value.trim().toUpperCase(),
          languages: langs.input.value.split(/[\s,]+/).filter(Boolean),
          bio: bio.input.value,
          email: email.input.value.trim(),
          etag: u.etag,
        });
        api.forgetUser(u.name);
        ctx.setMe(out);
        ctx.flash(t('done.profileSaved'));
        ctx.reload('edit-profile');
      } catch (e) {
        showFormError(el, e, ctx);
      }
    },
    h('a', { href: '/password', class: 'button secondary' }, t('auth.changePassword')),
  );
  f.hidden = true;
  let loaded = false;
  toggle.addEventListener('click', async () => {
    const show = f.hidden;
    f.hidden = !show;
    toggle.setAttribute('aria-expanded', String(show));
    if (show) {
      display.input.focus();
      if (!loaded) {
        loaded = true;
        const res = await api.get('organizations', { pageSize: 100 }).catch(() => ({}));
        for (const o of res.organizations || []) org.input.append(h('option', { value: o.name, selected: o.name === u.organization }, o.displayName));
        if (u.organization && !org.input.value) org.input.append(h('option', { value: u.organization, selected: true }, api.idOf(u.organization)));
      }
    }
  });
  add(section, toggle, f);
  return section;
}
