// Live pages: the event log (EventService) read as Server-Sent Events,
// GET /v1/events:stream.
//
// A document holds one stream at most (over HTTP/1.1 a browser allows six
// connections per host, for all its tabs). Whoever follows events
// subscribes here: the page on screen, until its signal aborts on the next
// render, and the header's bell, while someone is signed in. The stream
// carries what they all want: with one subscriber, under its own filter;
// with several (filters join comparisons with AND only, so no filter is
// their union), under a filter that leaves out the event types none of
// them takes, each subscriber's filter then applied here. A change of
// subscribers opens a new stream only when the one open does not carry
// what they want; the removal of one waits a moment, so that a soft
// navigation from a live page to another keeps the stream when it can.
//
// A page reads the head revision first (head), then its data, then follows
// from the revision after that head: nothing committed between the two is
// missed, and what the data already shows is seen again at most, which the
// page's handlers ignore. The browser's EventSource reconnects by itself
// and resumes with Last-Event-ID; when it gives up (an error answer, as
// while forumd restarts), a new one starts after the last revision
// received. Each event is handled once per subscriber, in revision order.

import * as api from './api.js';

/**
 * The head revision of the log, for a page about to read its data, or null
 * when the log cannot be read (the page then stays still). It asks from a
 * revision past any head: the answer holds no event, only head_revision.
 */
export function head(signal) {
  return api.get('events', { startRevision: Number.MAX_SAFE_INTEGER, pageSize: 1 }, signal).then(
    (r) => Number(r.headRevision || 0),
    (e) => {
      if (e && e.name === 'AbortError') throw e;
      return null;
    },
  );
}

/**
 * The event types, in their short form, the busiest first: a stream for
 * several subscribers leaves out those none of them takes, at most
 * MAX_LEFT_OUT of them (a filter has at most 20 comparisons). web's tests
 * check that this is forumd's list.
 */
export const TYPES = [
  'reply.created',
  'reply.updated',
  'reply.deleted',
  'reaction.added',
  'reaction.removed',
  'thread.created',
  'thread.updated',
  'thread.deleted',
  'thread.undeleted',
  'notification.created',
  'user.created',
  'user.updated',
  'theme.created',
  'theme.updated',
  'theme.deleted',
  'group.created',
  'group.updated',
  'group.deleted',
  'organization.created',
  'organization.updated',
  'organization.deleted',
  'convening.created',
  'convening.updated',
  'convening.deleted',
  'action_item.created',
  'action_item.updated',
  'action_item.due',
  'invitation.created',
  'invitation.deleted',
  'api_token.created',
  'api_token.deleted',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.disabled',
];
const MAX_LEFT_OUT = 20;

/** How long a stream is kept after a subscriber leaves, for the next page. */
const LINGER = 1000;

const subs = new Set(); // {signal, filter, on, last, match, queue}
let stream = null; // {es, filter, types, pos}: the stream open, pos the last revision it sent
let timer = 0; // the next sync
let retry = 0; // the reopening after EventSource gave up
let pause = 3000;
let hidden = false; // the document was left (it may come back from the back/forward cache)

/**
 * A function of a short type and an event that tells whether the event
 * passes filter: the filters this interface writes, comparisons of type,
 * theme, thread or actor joined by AND (`thread = "threads/7"`).
 */
function matcher(filter) {
  const conds = [];
  for (const c of String(filter || '').split(/\s+AND\s+/)) {
    const m = /^\s*(type|theme|thread|actor)\s*(!?=)\s*"?([^"]*)"?\s*$/.exec(c);
    if (m) conds.push(m);
  }
  return (type, ev) => conds.every(([, field, op, value]) => ((field === 'type' ? type : ev[field] || '') === value) === (op === '='));
}

/** The filter of a stream for all subscribers. */
function streamFilter(list) {
  if (list.length === 1) return list[0].filter;
  const wanted = new Set(list.flatMap((s) => Object.keys(s.on)));
  return TYPES.filter((x) => !wanted.has(x))
    .slice(0, MAX_LEFT_OUT)
    .map((x) => `type != "${x}"`)
    .join(' AND ');
}

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(sync, delay);
}

/** Opens, keeps or closes the stream for the subscribers there are. */
function sync() {
  clearTimeout(timer);
  const list = [...subs];
  if (!list.length || hidden) {
    close();
    return;
  }
  const filter = streamFilter(list);
  const types = new Set(list.flatMap((s) => Object.keys(s.on)));
  const from = Math.min(...list.map((s) => s.last));
  if (stream && stream.filter === filter && [...types].every((x) => stream.types.has(x)) && from >= stream.pos) return;
  open(filter, types, from);
}

function open(filter, types, from) {
  close();
  const es = new EventSource('/v1/events:stream?' + new URLSearchParams({ start_revision: String(from + 1), filter }));
  const s = (stream = { es, filter, types, pos: from });
  es.addEventListener('open', () => (pause = 3000));
  es.addEventListener('error', () => {
    if (es.readyState !== EventSource.CLOSED || stream !== s) return; // the browser reconnects
    stream = null;
    retry = setTimeout(sync, pause);
    pause = Math.min(pause * 2, 60000);
  });
  // Every type is heard, wanted or not, so that the position is the last
  // event received whatever its type.
  for (const type of new Set([...TYPES, ...types])) es.addEventListener(type, (m) => stream === s && deliver(s, type, m));
}

function close() {
  clearTimeout(retry);
  if (stream) stream.es.close();
  stream = null;
}

/** Hands an event to each subscriber that has not seen it and takes it. */
function deliver(s, type, m) {
  const ev = JSON.parse(m.data);
  const rev = Number(ev.revision || m.lastEventId);
  if (!(rev > 0)) return;
  s.pos = Math.max(s.pos, rev);
  for (const sub of subs) {
    if (!(rev > sub.last)) continue;
    // The stream is in revision order: what sub wants up to rev has come.
    sub.last = rev;
    const fn = sub.on[type];
    if (fn && sub.match(type, ev)) sub.queue = sub.queue.then(() => sub.signal.aborted || fn(ev)).catch((e) => console.error(e));
  }
}

/**
 * Follows the events that filter selects after revision from (head's),
 * until signal aborts: on maps a short type ("reply.created") to a
 * function of the event, which may be async; they run one at a time.
 */
export function follow(signal, filter, from, on) {
  if (from === null || signal.aborted) return;
  const sub = { signal, filter, on, last: from, match: matcher(filter), queue: Promise.resolve() };
  subs.add(sub);
  schedule(0);
  signal.addEventListener('abort', () => {
    subs.delete(sub);
    schedule(LINGER);
  });
}

// A page left for another document may be kept for the back button: it
// must not hold a connection meanwhile.
addEventListener('pagehide', () => {
  hidden = true;
  close();
});
addEventListener('pageshow', (e) => {
  hidden = false;
  if (e.persisted) sync();
});
