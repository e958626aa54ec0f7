// Live pages: the event log (EventService) read as Server-Sent Events,
// GET /v1/events:stream, one stream for the page on screen, closed when the
// page is left (its signal aborts on the next render).
//
// A page reads the head revision first (head), then its data, then follows
// from the revision after that head: nothing committed between the two is
// missed, and what the data already shows is seen again at most, which the
// page's handlers ignore. The browser's EventSource reconnects by itself
// and resumes with Last-Event-ID; when it gives up (an error answer, as
// while forumd restarts), a new one starts after the last revision
// received. Each event is handled once, in revision order.

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
 * Follows the events that filter selects after revision from (head's),
 * until signal aborts: on maps a short type ("reply.created") to a
 * function of the event, which may be async; they run one at a time.
 */
export function follow(signal, filter, from, on) {
  if (from === null || signal.aborted) return;
  let last = from;
  let es = null;
  let timer = 0;
  let pause = 3000;
  let queue = Promise.resolve();
  const open = () => {
    const s = (es = new EventSource('/v1/events:stream?' + new URLSearchParams({ start_revision: String(last + 1), filter })));
    s.addEventListener('open', () => (pause = 3000));
    s.addEventListener('error', () => {
      if (s.readyState !== EventSource.CLOSED) return; // the browser reconnects
      timer = setTimeout(open, pause);
      pause = Math.min(pause * 2, 60000);
    });
    for (const [type, fn] of Object.entries(on)) {
      s.addEventListener(type, (m) => {
        const ev = JSON.parse(m.data);
        const rev = Number(ev.revision || m.lastEventId);
        if (!(rev > last)) return;
        last = rev;
        queue = queue.then(() => signal.aborted || fn(ev)).catch((e) => console.error(e));
      });
    }
  };
  const close = () => {
    clearTimeout(timer);
    es.close();
  };
  // A page left for another document may be kept for the back button: it
  // must not hold a connection meanwhile (browsers allow six per host).
  const show = (e) => e.persisted && open();
  open();
  addEventListener('pagehide', close);
  addEventListener('pageshow', show);
  signal.addEventListener('abort', () => {
    close();
    removeEventListener('pagehide', close);
    removeEventListener('pageshow', show);
  });
}
