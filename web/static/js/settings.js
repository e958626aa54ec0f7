// E-mail settings, /settings/notifications (GET and PATCH
// /v1/users/me/notificationSettings), and the page of an e-mail's
// unsubscribe link, /unsubscribe?token=… (POST
// /v1/notificationSettings:unsubscribe). The link's GET never changes
// anything: a person confirms with a button (mail scanners follow links);
// mail clients that do RFC 8058's one-click POST /unsubscribe themselves.

import * as api from './api.js';
import { ApiError, Code } from './api.js';
import { h, replace } from './dom.js';
import { t } from './i18n.js';
import { title, field, errorBox, showError, hideError, busy } from './ui.js';
import { needLogin } from './forms.js';

/** A labelled checkbox row; returns { row, input }. */
function checkbox(name, label, checked) {
  const id = 'settings-' + name;
  const input = h('input', { type: 'checkbox', id, name, 'data-field': name });
  input.checked = !!checked;
  return { row: h('div', { class: 'row checkbox' }, input, ' ', h('label', { for: id }, label)), input };
}

export async function notificationSettingsPage(ctx) {
  const heading = t('settings.title');
  if (!ctx.me) return needLogin(heading);
  const s = await api.get('users/me/notificationSettings', null, ctx.signal);
  const mentions = checkbox('emailMentions', t('settings.mentions'), s.emailMentions);
  const replies = checkbox('emailReplies', t('settings.replies'), s.emailReplies);
  const digest = field({
    name: 'emailDigest',
    label: t('settings.digest'),
    hint: t('settings.digestHint'),
    options: [
      ['DIGEST_FREQUENCY_NEVER', t('settings.never')],
      ['DIGEST_FREQUENCY_DAILY', t('settings.daily')],
      ['DIGEST_FREQUENCY_WEEKLY', t('settings.weekly')],
    ],
    value: s.emailDigest || 'DIGEST_FREQUENCY_WEEKLY',
  });
  const saved = h('p', { class: 'saved', role: 'status' });
  const err = errorBox('settings-error');
  const f = h(
    'form',
    { id: 'settings-form', novalidate: true },
    h('fieldset', null, h('legend', null, t('settings.immediate')), mentions.row, replies.row),
    digest.row,
    err,
    h('div', { class: 'row actions' }, h('button', { type: 'submit' }, t('settings.save'))),
    saved,
  );
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    hideError(err);
    saved.textContent = '';
    busy(f, async () => {
      try {
        // The field mask is the body's fields (grpc-gateway infers it).
        await api.patch('users/me/notificationSettings', {
          emailMentions: mentions.input.checked,
          emailReplies: replies.input.checked,
          emailDigest: digest.input.value,
        });
        saved.textContent = t('settings.saved');
        ctx.say(t('settings.saved'));
      } catch (e) {
        showError(err, e, ctx);
      }
    });
  });
  return { title: heading, node: [title(heading), h('p', null, t('settings.intro', { email: ctx.me.email || '' })), f] };
}

export async function unsubscribePage(ctx) {
  const heading = t('unsubscribe.title');
  const token = ctx.query.get('token') || '';
  const result = h('div', { role: 'status' });
  const err = errorBox('unsubscribe-error');
  const button = h('button', { type: 'submit' }, t('unsubscribe.confirm'));
  const f = h('form', { id: 'unsubscribe-form', novalidate: true }, h('p', null, t('unsubscribe.explain')), err, h('div', { class: 'row actions' }, button));
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    hideError(err);
    busy(f, async () => {
      try {
        await api.post('notificationSettings:unsubscribe', { token });
        replace(result, h('p', null, t('unsubscribe.done'), ' ', h('a', { href: '/settings/notifications' }, t('unsubscribe.settings'))));
        f.hidden = true;
        ctx.say(t('unsubscribe.done'));
      } catch (e) {
        if (e instanceof ApiError && e.code === Code.FAILED_PRECONDITION) {
          replace(result, h('p', null, t('unsubscribe.expired'), ' ', h('a', { href: '/settings/notifications' }, t('unsubscribe.settings'))));
        } else if (e instanceof ApiError && e.code === Code.INVALID_ARGUMENT) {
          replace(result, h('p', null, t('unsubscribe.invalid')));
        } else {
          showError(err, e, ctx);
        }
      }
    });
  });
  if (!token) return { title: heading, node: [title(heading), h('p', null, t('unsubscribe.invalid'))] };
  return { title: heading, node: [title(heading), f, result] };
}
