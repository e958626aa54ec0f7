// Action items: what a follow-up thread agreed to do, who owns it (a user,
// or an organisation whose members share it), by when, and how it ended.
//
// On a follow-up thread's page, the section "Action items" lists them
// (state, owner, due date, overdue, closing note, history) with, for
// whoever may change an item's state (its owner, a member of the owning
// organisation, conveners and admins), Done, Drop and Reopen with an
// optional note, and for conveners and admins the form of a new item and
// an inline edit of an item's title, owner and date. /action-items lists
// the reader's own (owner = "me": theirs and their organisation's). A
// convening's page sums up each follow-up's items (itemCounts).

import * as api from './api.js';
import { h, add, replace, focus } from './dom.js';
import { t, lang } from './i18n.js';
import { badge, authors, userLink, when, title, field, errorBox, showFormError, clearErrors, busy } from './ui.js';
import { mentions } from './mention.js';
import { needLogin } from './forms.js';

export const FOLLOW_UP = 'THREAD_KIND_FOLLOW_UP';
const OPEN = 'ACTION_ITEM_STATE_OPEN';
const DONE = 'ACTION_ITEM_STATE_DONE';
const DROPPED = 'ACTION_ITEM_STATE_DROPPED';

/** The states: their names and badge colours. */
const STATES = {
  [OPEN]: [() => t('item.open'), 'b-open'],
  [DONE]: [() => t('item.done'), 'b-resolved'],
  [DROPPED]: [() => t('item.dropped'), 'b-dropped'],
};
const stateOf = (it) => (STATES[it.state] ? it.state : OPEN);
const stateBadge = (it) => badge(STATES[stateOf(it)][0](), 'item-state ' + STATES[stateOf(it)][1]);

/** Today in the reader's time zone, "YYYY-MM-DD". */
export function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Whether an item is open and its due date has passed. */
export const overdue = (it) => stateOf(it) === OPEN && !!it.dueDate && it.dueDate < today();

/** A day ("2026-12-31") in the current language, in a <time>. */
function day(d) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(d || '')) return d || '';
  return h('time', { datetime: d }, dayText(d));
}
function dayText(d) {
  const x = new Date(d + 'T00:00:00Z');
  return isNaN(x) ? d : new Intl.DateTimeFormat(lang(), { dateStyle: 'medium', timeZone: 'UTC' }).format(x);
}

/** The thread of an item: "threads/3/actionItems/7" -> "threads/3". */
export const threadOf = (name) => String(name || '').split('/actionItems/')[0];

/** An item's place on its thread's page. */
const anchorOf = (name) => 'item-' + api.idOf(name);

/**
 * Every item of parent ("threads/3", or "threads/-" for all) that filter
 * keeps, up to 1,000, in the API's order (the earliest due first).
 */
async function listAll(parent, filter, signal) {
  const out = [];
  let token = '';
  for (let i = 0; i < 10; i++) {
    const r = await api.get(parent + '/actionItems', { pageSize: 100, pageToken: token, filter }, signal);
    out.push(...(r.actionItems || []));
    token = r.nextPageToken;
    if (!token) break;
  }
  return out;
}

// Organisations, read once per page load of the application.
const orgs = new Map();
let orgList = null;

/** The organisation named `name`, or null. */
function org(name) {
  if (!orgs.has(name)) orgs.set(name, api.get(name).catch(() => null));
  return orgs.get(name);
}

/** Every organisation (up to 100), for the owner's select. */
function allOrgs() {
  if (!orgList) {
    orgList = api.get('organizations', { pageSize: 100 }).then(
      (r) => {
        const list = r.organizations || [];
        for (const o of list) orgs.set(o.name, Promise.resolve(o));
        return list;
      },
      () => {
        orgList = null;
        return [];
      },
    );
  }
  return orgList;
}

/** The names items and their histories refer to: {who: users, orgs}. */
async function names(items) {
  const owners = new Set();
  const people = new Set();
  for (const it of items) {
    owners.add(it.owner);
    people.add(it.creator);
    for (const c of it.history || []) {
      owners.add(c.owner);
      people.add(c.actor);
    }
  }
  const orgNames = [...owners].filter((o) => (o || '').startsWith('organizations/'));
  const [who, found] = await Promise.all([authors([...people, ...[...owners].filter((o) => (o || '').startsWith('users/'))]), Promise.all(orgNames.map(org))]);
  return { who, orgs: new Map(orgNames.map((n, i) => [n, found[i]])) };
}

/** An owner's name in words. */
function ownerText(owner, known) {
  if ((owner || '').startsWith('organizations/')) {
    const o = known.orgs.get(owner);
    return o ? o.displayName : api.idOf(owner);
  }
  const u = known.who.get(owner);
  return u ? u.displayName || u.username : t('user.unknown');
}

/** An owner: a link to the user, or the organisation's name. */
function ownerNode(owner, known) {
  if ((owner || '').startsWith('organizations/')) return h('span', { class: 'org', dir: 'auto' }, ownerText(owner, known));
  return userLink(owner, known.who);
}

/** "2 open (1 overdue), 1 done, 1 dropped" for items; '' for none. */
export function itemCounts(items) {
  const n = { open: 0, late: 0, done: 0, dropped: 0 };
  for (const it of items) {
    const s = stateOf(it);
    if (s === OPEN) n.open++;
    else if (s === DONE) n.done++;
    else n.dropped++;
    if (overdue(it)) n.late++;
  }
  const parts = [];
  if (n.open) parts.push(t('item.countOpen', { n: n.open }) + (n.late ? ` (${t('item.countOverdue', { n: n.late })})` : ''));
  if (n.done) parts.push(t('item.countDone', { n: n.done }));
  if (n.dropped) parts.push(t('item.countDropped', { n: n.dropped }));
  return parts.join(', ');
}

/** What one change of an item's history did, in words. */
function describe(c, first, known) {
  const paths = c.changedPaths || [];
  if (first) {
    const s = t('item.h.created', { owner: ownerText(c.owner, known) });
    return c.dueDate ? `${s}, ${t('item.h.dueOn', { date: dayText(c.dueDate) })}` : s;
  }
  const parts = [];
  if (paths.includes('state')) {
    const s = c.state || OPEN;
    parts.push(s === DONE ? t('item.h.done') : s === DROPPED ? t('item.h.dropped') : t('item.h.reopened'));
  } else if (paths.includes('closing_note')) parts.push(t('item.h.note'));
  if (paths.includes('owner')) parts.push(t('item.h.owner', { owner: ownerText(c.owner, known) }));
  if (paths.includes('due_date')) parts.push(c.dueDate ? t('item.h.due', { date: dayText(c.dueDate) }) : t('item.h.noDue'));
  if (paths.includes('title')) parts.push(t('item.h.title', { title: c.title }));
  return parts.join('; ');
}

/** An item's history, oldest first, in a <details>. */
function historyNode(it, known) {
  const list = it.history || [];
  if (!list.length) return null;
  return h(
    'details',
    { class: 'item-history', id: anchorOf(it.name) + '-history' },
    h('summary', null, t('item.history', { n: list.length })),
    h(
      'ol',
      null,
      list.map((c, i) =>
        h(
          'li',
          null,
          c.actor ? userLink(c.actor, known.who) : t('user.unknown'),
          ' ',
          h('span', { class: 'what', dir: 'auto' }, describe(c, i === 0, known)),
          ' · ',
          h('span', { class: 'meta' }, when(c.time)),
          c.note ? h('p', { class: 'item-note' }, t('item.note'), ' ', h('bdi', null, c.note)) : null,
        ),
      ),
    ),
  );
}

/** Shows msg as the error of the field f ({input, error}) and focuses it. */
function fieldError(f, msg) {
  f.error.textContent = msg;
  f.error.hidden = false;
  f.input.setAttribute('aria-invalid', 'true');
  focus(f.input);
}

/** A username as typed ("@bola ", "bola") without the "@". */
const USERNAME = /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/;

/**
 * The choice of an owner: a select of organisations, or a user by
 * username (suggested after "@"). Choosing one clears the other. prefix
 * makes the ids; current is the owner shown at first. resolve() gives the
 * owner's name ('' when none is chosen), or null after showing why a
 * username is none.
 */
function ownerPicker(prefix, list, current, known) {
  const currentUser = (current || '').startsWith('users/') ? known.who.get(current) : null;
  const fOrg = field({
    name: 'owner',
    id: prefix + '-owner-org',
    label: t('item.ownerOrg'),
    options: [['', t('item.ownerNone')], ...list.map((o) => [o.name, o.displayName])],
    value: (current || '').startsWith('organizations/') ? current : '',
  });
  const fUser = field({
    name: 'ownerUser',
    id: prefix + '-owner-user',
    label: t('item.ownerUser'),
    hint: t('item.ownerUserHint'),
    value: currentUser ? '@' + currentUser.username : '',
    attrs: { autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', maxlength: 40 },
  });
  mentions(fUser.input);
  fOrg.input.addEventListener('change', () => {
    if (fOrg.input.value) fUser.input.value = '';
  });
  fUser.input.addEventListener('input', () => {
    if (fUser.input.value.trim()) fOrg.input.value = '';
  });
  const node = h('fieldset', { class: 'owner-pick' }, h('legend', null, t('item.ownerLegend')), fOrg.row, fUser.row);
  return {
    node,
    async resolve() {
      if (fOrg.input.value) return fOrg.input.value;
      const typed = fUser.input.value.trim().replace(/^@/, '');
      if (!typed) return '';
      if (currentUser && typed.toLowerCase() === currentUser.username.toLowerCase()) return current;
      if (!USERNAME.test(typed)) {
        fieldError(fUser, t('item.noSuchUser', { name: typed }));
        return null;
      }
      const r = await api.get('users', { filter: `username = "${typed.toLowerCase()}"`, pageSize: 1 });
      const u = (r.users || [])[0];
      if (!u) {
        fieldError(fUser, t('item.noSuchUser', { name: typed }));
        return null;
      }
      known.who.set(u.name, u);
      return u.name;
    },
    /** After an error with no owner chosen: says so in words. */
    explainMissing(e) {
      if (fOrg.input.value || fUser.input.value.trim()) return;
      if (!((e && e.violations) || []).some((v) => v.field === 'action_item.owner')) return;
      fOrg.error.textContent = t('item.ownerMissing');
      fOrg.error.hidden = false;
    },
  };
}

/**
 * The section of a follow-up thread's page (thread, as the API gives it).
 * Returns {node, changed(ev)}: changed takes the thread's action item
 * events, from others, and shows them.
 */
export async function actionItemsSection(thread, ctx) {
  const name = thread.name;
  const me = ctx.me;
  const mod = ctx.isMod;
  const writable = !thread.deleteTime;
  let items = await listAll(name, '', ctx.signal);
  const [known, list] = await Promise.all([names(items), mod && writable ? allOrgs() : []]);

  const heading = h('h2', { id: 'action-items-h' });
  const ul = h('ul', { class: 'items', id: 'action-item-list' });
  const none = h('p', { id: 'no-action-items' }, t('item.none'));
  const notice = h('p', { class: 'notice', id: 'action-items-changed', hidden: true });
  const section = h('section', { class: 'action-items', id: 'action-items', 'aria-labelledby': 'action-items-h', tabindex: '-1' }, heading, notice, ul, none);

  /** Whether the reader may change the state of it. */
  const mayClose = (it) => writable && !!me && (mod || it.owner === me.name || (!!me.organization && it.owner === me.organization));

  function paint() {
    replace(heading, t('item.heading'), ' ', h('span', { class: 'count' }, `(${items.length})`));
    replace(ul, items.map(itemNode));
    ul.hidden = !items.length;
    none.hidden = !!items.length;
  }

  /**
   * Reads the items again and shows them; focus goes to the element with
   * id focusId, else stays on the element of the same id it was on.
   */
  async function refresh(focusId) {
    const a = document.activeElement;
    const had = a && section.contains(a) && a.id ? a.id : '';
    const open = new Set([...ul.querySelectorAll('details[open]')].map((d) => d.id));
    const fresh = await listAll(name, '', ctx.signal);
    const k = await names(fresh);
    for (const [n, u] of k.who) known.who.set(n, u);
    for (const [n, o] of k.orgs) known.orgs.set(n, o);
    items = fresh;
    notice.hidden = true;
    paint();
    for (const id of open) {
      const d = document.getElementById(id);
      if (d) d.open = true;
    }
    const target = (focusId && document.getElementById(focusId)) || (had && document.getElementById(had));
    if (target) focus(target);
  }

  function itemNode(it) {
    const anchor = anchorOf(it.name);
    const titleId = anchor + '-title';
    const s = stateOf(it);
    const err = errorBox(anchor + '-error');
    const li = h(
      'li',
      { class: 'item' + (s === OPEN ? '' : ' closed') + (overdue(it) ? ' overdue' : ''), id: anchor, tabindex: '-1', 'data-name': it.name, 'data-state': s.replace('ACTION_ITEM_STATE_', '') },
      h('h3', { class: 'item-title', id: titleId, dir: 'auto' }, it.title),
      h('p', { class: 'badges' }, stateBadge(it), overdue(it) ? badge(t('item.overdue'), 'b-overdue') : null),
      h(
        'p',
        { class: 'meta item-meta' },
        h('span', { class: 'item-owner' }, t('item.owner'), ' ', ownerNode(it.owner, known)),
        ' · ',
        h('span', { class: 'item-due' }, it.dueDate ? [t('item.due'), ' ', day(it.dueDate)] : t('item.noDue')),
      ),
      it.closingNote ? h('p', { class: 'item-note', id: anchor + '-note-text' }, t('item.note'), ' ', h('bdi', null, it.closingNote)) : null,
    );

    // Done, Drop (with an optional note) or Reopen.
    if (mayClose(it)) {
      const group = h('div', { class: 'item-state-controls', role: 'group', 'aria-label': t('item.stateGroup', { title: it.title }) });
      const act = (id, label, state, msg, note) =>
        h('button', { type: 'button', class: 'secondary', id: anchor + '-' + id, 'aria-describedby': titleId, onclick: () => setState(it, group, state, note ? note.value.trim() : '', msg, anchor + '-' + (state === OPEN ? 'done' : 'reopen')) }, label);
      if (s === OPEN) {
        const note = field({ name: 'closingNote', id: anchor + '-note', label: t('item.noteLabel'), attrs: { maxlength: 2000, autocomplete: 'off', dir: 'auto' } });
        add(group, note.row, h('div', { class: 'actions' }, act('done', t('item.markDone'), DONE, 'done.itemDone', note.input), act('drop', t('item.drop'), DROPPED, 'done.itemDropped', note.input)));
      } else {
        add(group, h('div', { class: 'actions' }, act('reopen', t('item.reopen'), OPEN, 'done.itemReopened', null)));
      }
      add(group, err);
      add(li, group);
    }

    // The conveners' change of title, owner and date.
    if (mod && writable) add(li, editControl(it, anchor, titleId));
    add(li, historyNode(it, known));
    return li;
  }

  async function setState(it, group, state, note, msg, focusId) {
    if (group.hasAttribute('aria-busy')) return;
    clearErrors(group);
    await busy(group, async () => {
      try {
        await api.call('PATCH', it.name, { body: { state, closingNote: note, etag: it.etag }, query: { updateMask: 'state,closingNote' } });
      } catch (e) {
        showFormError(group, e, ctx);
        return;
      }
      await refresh(focusId).catch(() => {});
      ctx.say(t(msg, { title: it.title }));
    });
  }

  function editControl(it, anchor, titleId) {
    const formId = anchor + '-edit';
    const toggle = h('button', { type: 'button', class: 'secondary', id: anchor + '-change', 'aria-expanded': 'false', 'aria-controls': formId, 'aria-describedby': titleId }, t('item.change'));
    const fTitle = field({ name: 'title', id: anchor + '-edit-title', label: t('item.title'), value: it.title, attrs: { maxlength: 300, autocomplete: 'off' } });
    const picker = ownerPicker(anchor + '-edit', list, it.owner, known);
    const fDue = field({ name: 'dueDate', id: anchor + '-edit-due', label: t('item.dueLabel'), type: 'date', value: it.dueDate || '' });
    const form = h(
      'form',
      { class: 'item-edit', id: formId, novalidate: true, hidden: true },
      fTitle.row,
      picker.node,
      fDue.row,
      errorBox(formId + '-error'),
      h('div', { class: 'row actions' }, h('button', { type: 'submit', id: formId + '-save' }, t('action.save')), h('button', { type: 'button', class: 'secondary', onclick: () => open(false) }, t('action.cancel'))),
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
        let owner;
        try {
          owner = await picker.resolve();
        } catch (x) {
          showFormError(form, x, ctx);
          return;
        }
        if (owner === null) return;
        const body = {};
        const newTitle = fTitle.input.value.trim();
        if (newTitle !== it.title) body.title = newTitle;
        if (owner !== it.owner) body.owner = owner;
        if (fDue.input.value !== (it.dueDate || '')) body.dueDate = fDue.input.value;
        const mask = Object.keys(body);
        if (!mask.length) {
          open(false);
          return;
        }
        try {
          await api.call('PATCH', it.name, { body: { ...body, etag: it.etag }, query: { updateMask: mask.join(',') } });
        } catch (x) {
          showFormError(form, x, ctx);
          picker.explainMissing(x);
          return;
        }
        await refresh(anchor).catch(() => {});
        ctx.say(t('done.itemSaved', { title: newTitle || it.title }));
      });
    });
    return h('div', { class: 'item-change' }, toggle, form);
  }

  // The form of a new item.
  let addForm = null;
  if (mod && writable) {
    const fTitle = field({ name: 'title', id: 'item-title', label: t('item.title'), attrs: { maxlength: 300, autocomplete: 'off' } });
    const picker = ownerPicker('item', list, '', known);
    const fDue = field({ name: 'dueDate', id: 'item-due', label: t('item.dueLabel'), type: 'date' });
    let rid = api.requestId();
    addForm = h(
      'form',
      { id: 'action-item-form', class: 'item-add', novalidate: true, 'aria-labelledby': 'action-item-form-h' },
      h('h3', { id: 'action-item-form-h' }, t('item.add')),
      fTitle.row,
      picker.node,
      fDue.row,
      errorBox('action-item-form-error'),
      h('div', { class: 'row actions' }, h('button', { type: 'submit', id: 'add-action-item' }, t('item.create'))),
    );
    addForm.addEventListener('submit', (e) => {
      e.preventDefault();
      clearErrors(addForm);
      busy(addForm, async () => {
        let owner;
        try {
          owner = await picker.resolve();
        } catch (x) {
          showFormError(addForm, x, ctx);
          return;
        }
        if (owner === null) return;
        const body = { title: fTitle.input.value.trim(), owner, dueDate: fDue.input.value || undefined };
        let it;
        try {
          it = await api.post(name + '/actionItems', body, { requestId: rid });
        } catch (x) {
          showFormError(addForm, x, ctx);
          picker.explainMissing(x);
          return;
        }
        rid = api.requestId();
        addForm.reset();
        await refresh().catch(() => {});
        ctx.say(t('done.itemAdded', { title: it.title }));
        fTitle.input.focus();
      });
    });
    add(section, addForm);
  }

  paint();
  return {
    node: section,
    /** An action item event of this thread: shown, unless it is the reader's own. */
    changed(ev) {
      if (ctx.signal.aborted || (me && ev.actor === me.name)) return;
      // A note being written, or an item being edited, is not swept away:
      // the change is offered instead. (The form of a new item stays as it
      // is either way.)
      const typing = [...ul.querySelectorAll('.item-state-controls input')].some((x) => x.value.trim()) || ul.querySelector('form.item-edit:not([hidden]), [aria-busy]');
      if (typing) {
        replace(notice, t('item.live'), ' ', h('button', { type: 'button', class: 'linkish', onclick: () => refresh('action-items') }, t('live.show')));
        notice.hidden = false;
        return;
      }
      refresh().then(() => ctx.say(t('item.live')), () => {});
    },
  };
}

/**
 * /action-items: the reader's items (theirs and their organisation's),
 * the open ones first (overdue first), and with ?closed=1 the closed ones.
 */
export async function actionItemsPage(ctx) {
  const heading = t('items.title');
  if (!ctx.me) return needLogin(heading);
  const closed = ctx.query.get('closed') === '1';
  const items = await listAll('threads/-', 'owner = "me"' + (closed ? '' : ' AND state = OPEN'), ctx.signal);
  const convNames = [...new Set(items.map((it) => it.convening).filter(Boolean))];
  const [known, convenings, myOrg] = await Promise.all([
    names(items),
    Promise.all(convNames.map((c) => api.get(c, null, ctx.signal).catch(() => null))).then((l) => new Map(convNames.map((c, i) => [c, l[i]]))),
    ctx.me.organization ? org(ctx.me.organization) : null,
  ]);
  const late = items.filter(overdue);
  const open = [...late, ...items.filter((it) => stateOf(it) === OPEN && !overdue(it))];
  const done = items.filter((it) => stateOf(it) !== OPEN);

  const item = (it) => {
    const thread = threadOf(it.name);
    const c = it.convening;
    return h(
      'li',
      { class: 'item' + (overdue(it) ? ' overdue' : ''), id: 'mine-' + api.idOf(it.name), 'data-name': it.name, 'data-state': stateOf(it).replace('ACTION_ITEM_STATE_', '') },
      h('h3', { class: 'item-title', dir: 'auto' }, h('a', { href: `/${thread}#${anchorOf(it.name)}` }, it.title)),
      h('p', { class: 'badges' }, stateBadge(it), overdue(it) ? badge(t('item.overdue'), 'b-overdue') : null),
      h(
        'p',
        { class: 'meta item-meta' },
        h('span', { class: 'item-owner' }, it.owner === ctx.me.name ? t('items.forYou') : t('items.forOrg', { org: ownerText(it.owner, known) })),
        ' · ',
        h('span', { class: 'item-due' }, it.dueDate ? [t('item.due'), ' ', day(it.dueDate)] : t('item.noDue')),
      ),
      h(
        'p',
        { class: 'meta item-where' },
        t('items.inThread'),
        ' ',
        h('a', { href: `/${thread}#action-items`, dir: 'auto', class: 'item-thread' }, it.threadTitle || t('thread.numbered', { id: api.idOf(thread) })),
        c ? [' · ', t('thread.convening'), ' ', h('a', { href: '/' + c, dir: 'auto', class: 'item-convening' }, convenings.get(c) ? convenings.get(c).title : api.idOf(c))] : null,
      ),
      it.closingNote ? h('p', { class: 'item-note' }, t('item.note'), ' ', h('bdi', null, it.closingNote)) : null,
    );
  };
  const group = (id, label, list, empty) =>
    h(
      'section',
      { class: 'my-items', id, 'aria-labelledby': id + '-h' },
      h('h2', { id: id + '-h' }, label, ' ', h('span', { class: 'count' }, `(${list.length})`)),
      list.length ? h('ul', { class: 'items', id: id + '-list' }, list.map(item)) : h('p', { id: id + '-none' }, empty),
    );

  return {
    title: heading,
    node: [
      title(heading),
      h('p', { class: 'lead' }, myOrg ? t('items.introOrg', { org: myOrg.displayName }) : t('items.intro')),
      h('p', { class: 'actions' }, h('a', { href: closed ? '/action-items' : '/action-items?closed=1', id: 'toggle-closed' }, closed ? t('items.hideClosed') : t('items.showClosed'))),
      group('open-items', t('items.open'), open, t('items.noneOpen')),
      closed ? group('closed-items', t('items.closed'), done, t('items.noneClosed')) : null,
    ],
  };
}
