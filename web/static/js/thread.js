// A thread: its body and replies (the server's sanitised body_html),
// in-reply-to quotes, follow-up links both ways, badges, paging, the reply
// composer, editing and deleting one's own posts, and the conveners'
// actions (pin, lock, resolve, open a follow-up). The convening the thread
// belongs to, linked. A follow-up's action items (actionitems.js), after
// its body. A question's accepted answer, shown under it, and
// the buttons of the asker and the conveners that accept one. Reactions to
// each post. For the signed-in: the control of their subscription to the
// thread, the replies new since their last visit marked, and their read
// position moved to the last reply shown.

import * as api from './api.js';
import * as live from './live.js';
import { h, add, replace, setHTML, focus, newId } from './dom.js';
import { t, fmtNumber } from './i18n.js';
import { badges, badge, tagLinks, authors, userLink, when, title, crumbs, errorBox, showError, hideError, editor, replyRenderer, showFormError, clearErrors, busy } from './ui.js';
import { subscription, subscriptionControl } from './notify.js';
import { actionItemsSection, FOLLOW_UP } from './actionitems.js';
import { historyControl } from './history.js';

/** Replies per page. */
export const PAGE_SIZE = 50;

const RESOLVED = 'THREAD_STATE_RESOLVED';
const OPEN = 'THREAD_STATE_OPEN';
const QUESTION = 'THREAD_KIND_QUESTION';

/** The reactions to a post, in the order of the API's enum. */
const REACTIONS = [
  ['REACTION_PLUS_ONE', '👍', () => t('reaction.plusOne')],
  ['REACTION_HEART', '❤️', () => t('reaction.heart')],
  ['REACTION_CELEBRATE', '🎉', () => t('reaction.celebrate')],
  ['REACTION_THANKS', '🙏', () => t('reaction.thanks')],
  ['REACTION_INSIGHTFUL', '💡', () => t('reaction.insightful')],
];
const reactionName = (id) => {
  const r = REACTIONS.find((x) => x[0] === id);
  return r ? r[2]() : id;
};

/**
 * The reactions to post (a thread or a reply: its name and reactions, as
 * the API gives them): a button for each reaction given, with its count,
 * pressed when the reader gave it, which gives or withdraws it; and "React",
 * which shows the five reactions to choose from. Without canReact (a
 * visitor, a member in a locked thread, a deleted post) the counts only.
 * Returns {node, apply(reactions, mine)}: apply shows the reactions of an
 * event (without the reader's own), mine ({id, on}) the change when the
 * reader made it.
 */
function reactionBar(post, canReact, ctx) {
  const node = h('div', { class: 'reactions' });
  const err = errorBox();
  const choicesId = newId('reactions');
  let open = false;
  let pending = false;
  const given = (id) => (post.reactions || []).find((x) => x.reaction === id);
  const reacted = (id) => !!(given(id) && given(id).reacted);

  async function toggle(id) {
    if (pending) return;
    pending = true;
    const on = !reacted(id);
    hideError(err);
    node.setAttribute('aria-busy', 'true');
    try {
      const res = await api.post(post.name + (on ? ':addReaction' : ':removeReaction'), { reaction: id });
      post.reactions = res.reactions || [];
      open = false;
      render(id);
      ctx.say(t(on ? 'reaction.added' : 'reaction.removed', { name: reactionName(id) }));
    } catch (e) {
      showError(err, e, ctx);
    } finally {
      pending = false;
      node.removeAttribute('aria-busy');
    }
  }

  // Renders the bar; focus goes back to the control of the same reaction
  // (or to "React", when that reaction is no longer shown) if it was in the
  // bar, or to want ('choices': the first choice; 'add': "React").
  function render(want) {
    const a = document.activeElement;
    const had = node.contains(a) ? a.dataset.reaction || a.dataset.choice || 'add' : null;
    const list = REACTIONS.filter(([id]) => given(id) && Number(given(id).count) > 0);
    const counts = list.map(([id, emoji, name]) => {
      const g = given(id);
      const label = t(g.reacted ? 'reaction.labelMine' : 'reaction.label', { name: name(), n: g.count });
      if (!canReact) return h('span', { class: 'reaction' }, h('span', { 'aria-hidden': 'true' }, emoji, ' ', fmtNumber(g.count)), h('span', { class: 'visually-hidden' }, label));
      return h('button', { type: 'button', class: 'reaction', 'data-reaction': id, 'aria-pressed': String(!!g.reacted), 'aria-label': label, title: name(), onclick: () => toggle(id) }, h('span', { 'aria-hidden': 'true' }, emoji), ' ', h('span', { class: 'count' }, fmtNumber(g.count)));
    });
    let more = null;
    if (canReact) {
      const choices = h(
        'span',
        { class: 'reaction-choices', id: choicesId, role: 'group', 'aria-label': t('reaction.choose'), hidden: !open },
        REACTIONS.map(([id, emoji, name]) => h('button', { type: 'button', class: 'reaction', 'data-choice': id, 'aria-pressed': String(reacted(id)), 'aria-label': name(), title: name(), onclick: () => toggle(id) }, emoji)),
      );
      choices.addEventListener('keydown', (e) => {
        if (e.key !== 'Escape') return;
        open = false;
        render('add');
      });
      const react = h('button', { type: 'button', class: 'reaction-add', 'aria-expanded': String(open), 'aria-controls': choicesId, onclick: () => ((open = !open), render(open ? 'choices' : 'add')) }, t('reaction.add'));
      more = [react, choices];
    }
    replace(node, counts, more);
    node.hidden = !counts.length && !more;
    const target = want || had;
    if (!target) return;
    const el =
      (target === 'choices' && node.querySelector('[data-choice]')) ||
      node.querySelector(`[data-reaction="${target}"]`) ||
      (open && node.querySelector(`[data-choice="${target}"]`)) ||
      node.querySelector('.reaction-add');
    if (el) el.focus();
  }
  render();
  return {
    node: [node, err],
    apply(reactions, mine) {
      const before = new Map((post.reactions || []).map((x) => [x.reaction, !!x.reacted]));
      post.reactions = reactions.map((x) => ({ ...x, reacted: mine && mine.id === x.reaction ? mine.on : !!before.get(x.reaction) }));
      render();
    },
  };
}

/** A short plain-text excerpt of a Markdown source, for quotes. */
function excerpt(md) {
  const s = String(md || '')
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[#>*_`~|]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > 200 ? s.slice(0, 199) + '…' : s;
}

/**
 * A delete button that asks for confirmation in place. With askReason (a
 * convener or admin deleting someone else's post), the confirmation also
 * asks for an optional reason, shown with the deleted post; onYes receives
 * it ('' for none).
 */
function deleteControl(label, question, describedBy, onYes, askReason) {
  const btn = h('button', { type: 'button', class: 'danger', 'aria-describedby': describedBy }, label);
  const yes = h('button', { type: 'button', class: 'danger' }, t('action.confirmDelete'));
  const no = h('button', { type: 'button', class: 'secondary' }, t('action.cancel'));
  const reasonId = askReason ? newId('delete-reason') : null;
  const reason = askReason ? h('input', { type: 'text', id: reasonId, name: 'reason', class: 'delete-reason', maxlength: 500, dir: 'auto', autocomplete: 'off' }) : null;
  const ask = h(
    'span',
    { class: 'confirm', role: 'group', 'aria-label': question, hidden: true },
    h('span', null, question),
    reason ? [' ', h('label', { for: reasonId }, t('delete.reasonLabel')), ' ', reason] : null,
    ' ',
    yes,
    ' ',
    no,
  );
  btn.addEventListener('click', () => {
    btn.hidden = true;
    ask.hidden = false;
    (reason || yes).focus();
  });
  no.addEventListener('click', () => {
    ask.hidden = true;
    btn.hidden = false;
    btn.focus();
  });
  yes.addEventListener('click', () => onYes(reason ? reason.value.trim() : ''));
  if (reason) {
    reason.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        yes.click();
      }
    });
  }
  return h('span', null, btn, ask);
}

/** Whether a deleted post was deleted by its author (not by a moderator). */
const deletedByAuthor = (x) => !!x.deletedBy && x.deletedBy === x.author;

/** The reason given for a deletion, if any. */
const deleteReason = (x) => (x.deleteReason ? h('span', { class: 'deleted-reason' }, t('deleted.reason'), ' ', h('bdi', null, x.deleteReason)) : null);

/** The page of a thread. */
export async function threadPage(ctx) {
  const id = ctx.params[0];
  const name = 'threads/' + id;
  const pageToken = ctx.query.get('page') || '';
  // The head of the event log before the data: the page goes live from there.
  const filter = `thread = "${name}"`;
  const from = await live.head(ctx.signal);
  const [thread, rp] = await Promise.all([api.get(name, null, ctx.signal), api.get(name + '/replies', { pageSize: PAGE_SIZE, pageToken }, ctx.signal)]);
  const replies = rp.replies || [];
  // A link to a reply that is on a later page (/threads/7#r-300, as a
  // search hit links it) goes on to the page that holds it.
  const wanted = /^#r-([0-9]+)$/.exec(location.hash);
  if (wanted && rp.nextPageToken && !replies.some((r) => api.replyAnchor(r.name) === wanted[0].slice(1))) {
    const target = `${name}/replies/${wanted[1]}`;
    let token = rp.nextPageToken;
    for (let i = 0; token && i < 200; i++) {
      const p = await api.get(name + '/replies', { pageSize: PAGE_SIZE, pageToken: token }, ctx.signal).catch((e) => {
        if (e && e.name === 'AbortError') throw e;
        return null;
      });
      if (!p) break;
      if ((p.replies || []).some((x) => x.name === target)) {
        ctx.go(`/${name}?page=${encodeURIComponent(token)}${wanted[0]}`, { replace: true });
        return { title: thread.title, node: null }; // this render is over: the one of that page follows
      }
      token = p.nextPageToken;
    }
  }
  const known = new Map(replies.map((r) => [r.name, r]));
  const elsewhere = [...new Set(replies.map((r) => r.inReplyTo).filter((n) => n && !known.has(n)))];
  // A question's accepted answer, when it is on another page of replies.
  const answerName = thread.kind === QUESTION ? thread.acceptedAnswer || '' : '';
  const [theme, parent, followUps, quoted, sub, answerElsewhere, convening, items] = await Promise.all([
    api.theme(thread.theme).catch(() => null),
    thread.followUpOf ? api.get(thread.followUpOf, null, ctx.signal).catch(() => null) : null,
    thread.followUps && thread.followUps.length
      ? api
          .get('threads', { filter: `follow_up_of = "${name}"`, pageSize: 100 }, ctx.signal)
          .then((r) => r.threads || [])
          .catch(() => [])
      : [],
    Promise.all(elsewhere.map((n) => api.get(n, null, ctx.signal).catch(() => null))),
    ctx.me ? subscription(name, ctx.signal) : null,
    answerName && !known.has(answerName) ? api.get(answerName, null, ctx.signal).catch(() => null) : null,
    thread.convening ? api.get(thread.convening, null, ctx.signal).catch(() => null) : null,
    // A follow-up's action items, after its body.
    thread.kind === FOLLOW_UP
      ? actionItemsSection(thread, ctx).catch((e) => {
          if ((e && e.name === 'AbortError') || !(e instanceof api.ApiError)) throw e;
          return null; // the thread without them
        })
      : null,
  ]);
  for (const q of quoted) if (q) known.set(q.name, q);
  const answer = answerName ? known.get(answerName) || answerElsewhere : null;
  const who = await authors([thread.author, answer && answer.author, ...[...known.values()].map((r) => r.author)]);

  const me = ctx.me;
  const mine = (x) => !!me && x.author === me.name;
  const mod = ctx.isMod;
  const locked = !!thread.locked;
  const deleted = !!thread.deleteTime;
  // The asker and the conveners accept a question's answer; in a locked
  // thread only the conveners (as the server says).
  const canAccept = thread.kind === QUESTION && !deleted && !!me && (mod || (mine(thread) && !locked));
  // Members do not react in a locked thread; no one to a deleted post.
  const canReact = (x) => !!me && !deleted && !x.deleteTime && (mod || !locked);
  const bars = new Map(); // the reactions shown: post name -> reactionBar
  const anchorOnPage = (n) => replies.some((r) => r.name === n);
  const shown = new Map(); // the replies on the page: name -> [reply, its <li>]
  // The replies after the reader's read position when the page was read
  // (but their own, which they know of).
  const firstUnread = Number(api.idOf(thread.firstUnreadReply)) || 0;
  const isNew = (r) => firstUnread > 0 && !mine(r) && Number(api.idOf(r.name)) >= firstUnread;

  // Thread actions.
  const actionsError = errorBox('thread-actions-error');
  async function update(fields, message, focusId) {
    hideError(actionsError);
    try {
      await api.call('PATCH', name, { body: { ...fields, etag: thread.etag }, query: { updateMask: Object.keys(fields).join(',') } });
      ctx.announce(message);
      ctx.reload(focusId);
    } catch (e) {
      showError(actionsError, e, ctx);
    }
  }
  const act = (id, label, fn) => h('button', { type: 'button', class: 'secondary', id, onclick: fn }, label);
  const actions = [];
  // A lock stops the author's edits and deletions, of the thread and of
  // its replies alike; conveners and admins still may (as the server says).
  if (!deleted && (mod || (mine(thread) && !locked))) {
    actions.push(h('a', { class: 'button secondary', href: `/${name}/edit`, id: 'edit-thread' }, t('action.edit')));
  }
  if (!deleted && (mine(thread) || mod) && !locked) {
    if (thread.state === RESOLVED) actions.push(act('reopen-thread', t('action.reopen'), () => update({ state: OPEN }, t('done.reopened'), 'resolve-thread')));
    else actions.push(act('resolve-thread', t('action.resolve'), () => update({ state: RESOLVED }, t('done.resolved'), 'reopen-thread')));
  }
  if (!deleted && mod) {
    actions.push(act(thread.pinned ? 'unpin-thread' : 'pin-thread', thread.pinned ? t('action.unpin') : t('action.pin'), () => update({ pinned: !thread.pinned }, thread.pinned ? t('done.unpinned') : t('done.pinned'), thread.pinned ? 'pin-thread' : 'unpin-thread')));
    // Locking leaves the state as it is: a resolved thread unlocked is
    // still resolved.
    actions.push(locked ? act('unlock-thread', t('action.unlock'), () => update({ locked: false }, t('done.unlocked'), 'lock-thread')) : act('lock-thread', t('action.lock'), () => update({ locked: true }, t('done.locked'), 'unlock-thread')));
    actions.push(h('a', { class: 'button secondary', href: `/${name}/follow-up`, id: 'open-follow-up' }, t('action.followUp')));
  }
  if (!deleted && (mod || (mine(thread) && !locked))) {
    actions.push(
      deleteControl(
        t('action.delete'),
        t('thread.deleteQuestion'),
        'thread-title',
        async (reason) => {
          hideError(actionsError);
          try {
            await api.del(name, { etag: thread.etag, reason });
            ctx.flash(t('done.threadDeleted'));
            ctx.go('/' + thread.theme);
          } catch (e) {
            showError(actionsError, e, ctx);
          }
        },
        mod && !mine(thread),
      ),
    );
  }
  // The author restores only what they deleted themself, and not in a
  // locked thread (the server's rules).
  if (deleted && (mod || (mine(thread) && !locked && deletedByAuthor(thread)))) {
    actions.push(
      act('undelete-thread', t('action.undelete'), async () => {
        hideError(actionsError);
        try {
          await api.post(name + ':undelete', { etag: thread.etag });
          ctx.reload('edit-thread');
        } catch (e) {
          showError(actionsError, e, ctx);
        }
      }),
    );
  }

  const followUpList = thread.followUps && thread.followUps.length
    ? h(
        'section',
        { class: 'followups', 'aria-labelledby': 'followups-h' },
        h('h2', { id: 'followups-h' }, t('thread.followUps')),
        h(
          'ul',
          null,
          thread.followUps.map((n) => {
            const f = followUps.find((x) => x.name === n);
            return h('li', null, h('a', { href: '/' + n, dir: 'auto' }, f ? f.title : t('thread.numbered', { id: api.idOf(n) })), f ? [' · ', when(f.createTime)] : null);
          }),
        ),
      )
    : null;

  // The opening post's edit history (history.js); a deleted thread's is
  // the moderators'.
  const threadHistory = !deleted || mod ? historyControl(name, t('history.show'), 'thread-meta', ctx) : null;
  const article = h(
    'article',
    { class: 'thread', 'aria-labelledby': 'thread-title' },
    title(thread.title, { id: 'thread-title' }),
    badges(thread),
    h(
      'p',
      { class: 'meta', id: 'thread-meta' },
      t('thread.startedBy'),
      ' ',
      userLink(thread.author, who),
      ' · ',
      when(thread.createTime),
      // The convening it belongs to: its title, or its slug if it cannot be read.
      thread.convening
        ? [' · ', h('span', { class: 'convening-of' }, t('thread.convening'), ' ', h('a', { href: '/' + thread.convening, dir: 'auto', id: 'thread-convening' }, convening ? convening.title : api.idOf(thread.convening)))]
        : null,
      threadHistory ? [' · ', threadHistory.button] : null,
    ),
    thread.followUpOf
      ? h('p', { class: 'followup-of' }, t('thread.followsUp'), ' ', h('a', { href: '/' + thread.followUpOf, dir: 'auto', id: 'follow-up-of' }, parent ? parent.title : t('thread.numbered', { id: api.idOf(thread.followUpOf) })))
      : null,
    deleted
      ? h(
          'p',
          { class: 'notice', id: 'deleted-notice' },
          t('thread.deletedNotice'),
          ' ',
          deletedByAuthor(thread) ? t('thread.removedByAuthor') : t('thread.removedByModerator'),
          thread.deleteReason ? [' ', deleteReason(thread)] : null,
          mine(thread) && !mod && !deletedByAuthor(thread) ? [' ', t('thread.restoreModeratorOnly')] : null,
        )
      : null,
    setHTML(h('div', { class: 'body', dir: 'auto' }), thread.bodyHtml),
    threadHistory ? threadHistory.panel : null,
    reactionsOf(thread),
    answerBox(),
    tagLinks(thread.tags, thread.theme),
    actions.length ? h('div', { class: 'actions', role: 'group', 'aria-label': t('thread.actions') }, actions) : null,
    actionsError,
    subscriptionControl(name, sub, ctx),
    followUpList,
  );

  // The composer, created first so that replies can address it.
  const composer = composeSection();

  /** The reaction bar of post, kept for the live changes to it. */
  function reactionsOf(post) {
    const bar = reactionBar(post, canReact(post), ctx);
    bars.set(post.name, bar);
    return bar.node;
  }

  /**
   * Under a question, its accepted answer: who wrote it, a copy of it and
   * a link to it among the replies.
   */
  function answerBox() {
    if (!answer || answer.deleteTime) return null;
    const anchor = api.replyAnchor(answer.name);
    return h(
      'section',
      { class: 'answer', id: 'accepted-answer', 'aria-labelledby': 'accepted-answer-h' },
      h('h2', { id: 'accepted-answer-h' }, t('answer.title')),
      h('p', { class: 'meta' }, t('answer.by'), ' ', userLink(answer.author, who), ' · ', when(answer.createTime), ' · ', h('a', { href: anchorOnPage(answer.name) ? '#' + anchor : `/${name}#${anchor}` }, t('answer.see'))),
      setHTML(h('div', { class: 'body', dir: 'auto' }), answer.bodyHtml),
    );
  }

  /** Accepts reply r as the question's answer (on), or none (!on). */
  async function setAnswer(r, on, err) {
    hideError(err);
    try {
      await api.post(name + (on ? ':acceptAnswer' : ':unacceptAnswer'), on ? { reply: r.name } : {});
      ctx.announce(t(on ? 'done.accepted' : 'done.unaccepted'));
      ctx.reload((on ? 'unaccept-' : 'accept-') + api.replyAnchor(r.name));
    } catch (e) {
      showError(err, e, ctx);
    }
  }

  function replyItem(r) {
    const anchor = api.replyAnchor(r.name);
    const metaId = anchor + '-meta';
    const li = h('li', { id: anchor, class: 'reply', tabindex: '-1' });
    shown.set(r.name, [r, li]);
    // Its edit history, behind "edited"; a deleted reply's is the
    // moderators'.
    const hist = r.deleteTime ? (mod ? historyControl(r.name, t('history.show'), metaId, ctx) : null) : r.editCount ? historyControl(r.name, t('reply.edited'), metaId, ctx) : null;
    const meta = h(
      'p',
      { class: 'meta', id: metaId },
      isNew(r) ? [badge(t('reply.new'), 'b-new'), ' '] : null,
      r.accepted && !r.deleteTime ? [badge(t('answer.badge'), 'b-answered'), ' '] : null,
      userLink(r.author, who),
      ' · ',
      h('a', { href: '#' + anchor, class: 'permalink' }, when(r.createTime)),
      hist ? [' · ', hist.button] : null,
    );
    if (r.deleteTime) {
      const who = r.deletedBy ? (deletedByAuthor(r) ? t('reply.removedByAuthor') : t('reply.removedByModerator')) : null;
      add(li, h('article', { 'aria-labelledby': metaId }, meta, h('p', { class: 'tombstone' }, t('reply.deleted'), who ? [' ', who] : null, r.deleteReason ? [' ', deleteReason(r)] : null), hist ? hist.panel : null));
      return li;
    }
    let quote = null;
    if (r.inReplyTo) {
      const q = known.get(r.inReplyTo);
      const qWho = q ? userLink(q.author, who) : null;
      quote = h(
        'blockquote',
        { class: 'quote' },
        h('p', { class: 'meta' }, t('reply.inReplyTo'), ' ', qWho || t('reply.earlier'), anchorOnPage(r.inReplyTo) ? [' · ', h('a', { href: '#' + api.replyAnchor(r.inReplyTo) }, t('reply.seeQuoted'))] : null),
        h('p', { dir: 'auto' }, q ? (q.deleteTime ? t('reply.deleted') : excerpt(q.body)) : ''),
      );
    }
    const body = setHTML(h('div', { class: 'body', dir: 'auto' }), r.bodyHtml);
    const err = errorBox(anchor + '-error');
    const buttons = [];
    if (me && !locked && !deleted) buttons.push(h('button', { type: 'button', class: 'secondary', 'aria-describedby': metaId, onclick: () => composer.replyTo(r) }, t('reply.reply')));
    if (canAccept) {
      buttons.push(
        r.accepted
          ? h('button', { type: 'button', class: 'secondary', id: 'unaccept-' + anchor, 'aria-describedby': metaId, onclick: () => setAnswer(r, false, err) }, t('answer.unaccept'))
          : h('button', { type: 'button', class: 'secondary', id: 'accept-' + anchor, 'aria-describedby': metaId, onclick: () => setAnswer(r, true, err) }, t('answer.accept')),
      );
    }
    if ((mod || (mine(r) && !locked)) && !deleted) buttons.push(h('button', { type: 'button', class: 'secondary', 'aria-describedby': metaId, onclick: () => editReply() }, t('action.edit')));
    if ((mod || (mine(r) && !locked)) && !deleted) {
      buttons.push(
        deleteControl(
          t('action.delete'),
          t('reply.deleteQuestion'),
          metaId,
          async (reason) => {
            hideError(err);
            try {
              await api.del(r.name, { etag: r.etag, reason });
              ctx.announce(t('done.replyDeleted'));
              ctx.reload(anchor);
            } catch (e) {
              showError(err, e, ctx);
            }
          },
          mod && !mine(r),
        ),
      );
    }
    const bar = buttons.length ? h('div', { class: 'actions' }, buttons) : null;

    function editReply() {
      const f = editor({ name: 'body', label: t('reply.editLabel'), value: r.body, field: 'body', render: replyRenderer(name), mentions: true });
      const form = h('form', { class: 'edit', novalidate: true }, f.row, errorBox(), h('div', { class: 'row actions' }, h('button', { type: 'submit' }, t('action.save')), h('button', { type: 'button', class: 'secondary', onclick: cancel }, t('action.cancel'))));
      function cancel() {
        form.remove();
        body.hidden = false;
        if (bar) bar.hidden = false;
        focus(li);
      }
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(form, async () => {
          try {
            await api.patch(r.name, { body: f.input.value, etag: r.etag });
            ctx.announce(t('done.replySaved'));
            ctx.reload(anchor);
          } catch (e) {
            showFormError(form, e, ctx);
          }
        });
      });
      body.hidden = true;
      if (bar) bar.hidden = true;
      body.after(form);
      f.input.focus();
    }

    add(li, h('article', { 'aria-labelledby': metaId, class: r.accepted ? 'accepted' : null }, meta, quote, body, hist ? hist.panel : null, reactionsOf(r), bar, err));
    return li;
  }

  function composeSection() {
    const section = h('section', { class: 'compose', 'aria-labelledby': 'compose-h' }, h('h2', { id: 'compose-h' }, t('reply.yours')));
    const none = { node: section, replyTo() {} };
    if (deleted) return none;
    if (locked) {
      add(section, h('p', { class: 'notice', id: 'locked-notice' }, t('thread.lockedNotice')));
      return none;
    }
    if (!me) {
      add(section, h('p', null, h('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search) }, t('reply.loginToReply'))));
      return none;
    }
    const f = editor({ name: 'body', id: 'reply-body', label: t('reply.yourLabel'), field: 'body', render: replyRenderer(name), mentions: true });
    // The draft survives a reload or a new login in this tab.
    const draftKey = 'forum.draft.' + name;
    const draft = (v) => {
      try {
        if (v === undefined) return sessionStorage.getItem(draftKey) || '';
        if (v) sessionStorage.setItem(draftKey, v);
        else sessionStorage.removeItem(draftKey);
      } catch (e) {
        // storage unavailable: no draft kept
      }
      return '';
    };
    f.input.value = draft();
    f.input.addEventListener('input', () => draft(f.input.value));
    let inReplyTo = '';
    let rid = api.requestId();
    const chip = h('p', { class: 'replying', hidden: true });
    const form = h('form', { id: 'reply-form', novalidate: true }, chip, f.row, errorBox('reply-error'), h('div', { class: 'row actions' }, h('button', { type: 'submit', id: 'post-reply' }, t('reply.post'))));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      clearErrors(form);
      busy(form, async () => {
        let r;
        try {
          r = await api.post(name + '/replies', { body: f.input.value, inReplyTo: inReplyTo || undefined }, { requestId: rid });
        } catch (e) {
          showFormError(form, e, ctx);
          return;
        }
        rid = api.requestId();
        f.input.value = '';
        draft('');
        await showReply(r);
      });
    });
    add(section, form);
    return {
      node: section,
      replyTo(r) {
        inReplyTo = r.name;
        const u = who.get(r.author);
        replace(
          chip,
          t('reply.replyingTo', { name: u ? u.displayName || u.username : t('user.unknown') }),
          ' ',
          h('button', { type: 'button', class: 'linkish', onclick: () => { inReplyTo = ''; chip.hidden = true; f.input.focus(); } }, t('reply.cancelReplyTo')),
        );
        chip.hidden = false;
        f.input.focus();
      },
    };
  }

  // After posting: go to the page that holds the new reply, focused.
  async function showReply(r) {
    let token = pageToken;
    for (let i = 0; i < 1000; i++) {
      const p = await api.get(name + '/replies', { pageSize: PAGE_SIZE, pageToken: token }).catch(() => null);
      if (!p || (p.replies || []).some((x) => x.name === r.name) || !p.nextPageToken) break;
      token = p.nextPageToken;
    }
    ctx.announce(t('done.replyPosted'));
    const url = `/${name}${token ? '?page=' + encodeURIComponent(token) : ''}#${api.replyAnchor(r.name)}`;
    ctx.go(url, { replace: token === pageToken });
  }

  const paging = pageToken || rp.nextPageToken
    ? h(
        'nav',
        { class: 'paging', 'aria-label': t('paging.replies') },
        pageToken ? h('a', { href: '/' + name }, t('paging.firstReplies')) : null,
        rp.nextPageToken ? h('a', { href: `/${name}?page=${encodeURIComponent(rp.nextPageToken)}`, rel: 'next' }, t('paging.nextReplies')) : null,
      )
    : null;

  let count = Number(thread.replyCount) || 0; // an int64: a string in JSON
  const heading = h('h2', { id: 'replies-h' }, t('thread.replies', { n: count }));
  const list = h('ol', { class: 'reply-list' }, replies.map(replyItem));
  const none = h('p', null, t('reply.none'));
  const repliesSection = h('section', { class: 'replies', 'aria-labelledby': 'replies-h' }, heading, replies.length ? list : none, paging);
  const counted = (d) => replace(heading, t('thread.replies', { n: (count += d) }));

  // Live: replies appear, change and leave as they happen, each once
  // (those already shown are skipped); new ones are announced. A change to
  // the thread itself renders the page again, or, while the person is
  // writing or confirming here, offers to. The events of the page's own
  // writes are left to it: it renders itself again after each.
  const own = (ev) => !!me && ev.actor === me.name && (api.writing() > 0 || !!document.querySelector('main form[aria-busy]'));
  const changed = h('p', { class: 'notice', id: 'thread-changed', hidden: true });
  async function liveNew(ev) {
    const r = ev.reply;
    if (!r || shown.has(r.name) || own(ev)) return;
    counted(1);
    if (rp.nextPageToken) return; // it belongs on a later page
    if (r.inReplyTo && !known.has(r.inReplyTo)) {
      const q = await api.get(r.inReplyTo).catch(() => null);
      if (q) known.set(q.name, q);
    }
    const q = known.get(r.inReplyTo);
    for (const [k, v] of await authors([r.author, q && q.author])) who.set(k, v);
    if (ctx.signal.aborted || shown.has(r.name)) return;
    known.set(r.name, r);
    replies.push(r);
    if (!list.parentNode) none.replaceWith(list);
    add(list, replyItem(r));
    const u = who.get(r.author);
    if (!mine(r)) ctx.say(t('live.newReply', { name: u ? u.displayName || u.username : t('user.unknown') }));
    readLater();
  }
  function liveChange(ev) {
    const r = ev.reply;
    const cur = r && shown.get(r.name);
    // An edit in progress stays; a stale event (replayed) changes nothing.
    if (!cur || own(ev) || cur[1].querySelector('form.edit') || Date.parse(r.updateTime) < Date.parse(cur[0].updateTime)) return;
    if (r.deleteTime && !cur[0].deleteTime) counted(-1);
    // An event's reply is the record: without the reactions and the
    // accepted mark that reads add.
    if (!r.deleteTime) {
      if (!r.reactions) r.reactions = cur[0].reactions;
      if (r.accepted === undefined) r.accepted = cur[0].accepted;
    } else if (r.name === answerName) {
      const box = document.getElementById('accepted-answer');
      if (box) box.remove(); // a deleted answer is none
    }
    known.set(r.name, r);
    const had = cur[1].contains(document.activeElement);
    const li = replyItem(r);
    cur[1].replaceWith(li);
    if (had) focus(li);
  }
  function liveThread(ev) {
    if (own(ev) || ((ev.changedPaths || []).length && !ev.changedPaths.some((p) => /^(title|body|tags|state|pinned|locked|accepted_answer|theme|kind|convening)$/.test(p)))) return;
    const msg = t(ev.type === 'EVENT_TYPE_THREAD_DELETED' ? 'live.threadDeleted' : 'live.threadChanged');
    const text = composer.node.querySelector('textarea');
    if ((text && text.value.trim()) || document.querySelector('main form.edit, main .confirm:not([hidden])')) {
      replace(changed, msg, ' ', h('button', { type: 'button', class: 'linkish', onclick: () => ctx.reload() }, t('live.show')));
      changed.hidden = false;
      ctx.say(msg);
      return;
    }
    if (ev.type === 'EVENT_TYPE_THREAD_DELETED') ctx.flash(msg);
    ctx.announce(msg);
    const a = document.activeElement;
    ctx.reload(a && a.id ? a.id : undefined);
  }
  // Reactions: the counts of the event; the reader's own marks as they
  // were, but for the reaction the reader gave or withdrew elsewhere.
  function liveReaction(ev) {
    const pr = ev.reactions;
    const bar = pr && bars.get(pr.name);
    if (!bar) return;
    const mineNow = !!me && ev.actor === me.name && (ev.changedPaths || [])[0];
    bar.apply(pr.reactions || [], mineNow ? { id: ev.changedPaths[0], on: ev.type === 'EVENT_TYPE_REACTION_ADDED' } : null);
  }
  live.follow(ctx.signal, filter, from, {
    'reaction.added': liveReaction,
    'reaction.removed': liveReaction,
    'reply.created': liveNew,
    'reply.updated': liveChange,
    'reply.deleted': liveChange,
    'thread.updated': liveThread,
    'thread.deleted': liveThread,
    'thread.undeleted': liveThread,
    'action_item.created': (ev) => items && items.changed(ev),
    'action_item.updated': (ev) => items && items.changed(ev),
  });

  // The read position: the last reply shown (a thread without replies is
  // read as a whole), moved once the page is shown and again, a moment
  // later, when replies come while the page is in view.
  function markRead() {
    if (!me || ctx.signal.aborted) return;
    const last = replies[replies.length - 1];
    if (!last && pageToken) return;
    api.call('POST', name + ':markRead', { body: last ? { reply: last.name } : {}, bookkeeping: true }).catch(() => {});
  }
  let readTimer = 0;
  let readWaiting = false;
  function readLater() {
    clearTimeout(readTimer);
    readTimer = setTimeout(function now() {
      if (document.visibilityState === 'visible') markRead();
      else if (!readWaiting) {
        readWaiting = true;
        document.addEventListener('visibilitychange', () => ((readWaiting = false), now()), { once: true, signal: ctx.signal });
      }
    }, 1000);
  }
  ctx.signal.addEventListener('abort', () => clearTimeout(readTimer));

  return {
    title: thread.title,
    after: markRead,
    node: [crumbs([['/', t('nav.themes')], theme ? ['/' + theme.name, theme.displayName] : null, [null, thread.title]].filter(Boolean)), changed, article, items ? items.node : null, repliesSection, composer.node],
  };
}
