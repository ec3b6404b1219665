// A live-events connection (docs/protocol.md, "Live events") that
// authenticates in its first message, remembers the last seq of every call
// and, after any drop, reconnects with back-off and asks for everything
// after those seqs, so no event is lost or shown twice.

import { getToken, showAuthProblem } from './common.js';

const MIN_BACKOFF = 500;
const MAX_BACKOFF = 8000;

export class Live {
  // query: 'agent=A17', 'all=1' or 'call=ID'. resume: {callId: lastSeq}
  // to start from. onEvent(ev) gets every new event in order per call;
  // onStatus(state, detail) gets 'connecting', 'live', 'reconnecting'
  // (detail: seconds until the next attempt), 'stopped' (detail: why).
  constructor({ query, resume = {}, onEvent, onStatus = () => {} }) {
    this.query = query;
    this.last = { ...resume };
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.backoff = MIN_BACKOFF;
    this.ws = null;
    this.timer = 0;
    this.stopped = false;
  }

  start() { this.connect(); return this; }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'page closed');
    this.onStatus('stopped');
  }

  // follow makes a reconnect ask for callId's events after seq (e.g. 0 for
  // a call already live when the page opened).
  follow(callId, seq = 0) {
    if (!(callId in this.last)) this.last[callId] = seq;
  }

  connect() {
    if (this.stopped) return;
    this.onStatus('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/v1/live?${this.query}`);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'auth', token: getToken(), resume: this.last }));
    };
    ws.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch { return; }
      if (ev.type === 'ready') {
        this.backoff = MIN_BACKOFF;
        this.onStatus('live');
        return;
      }
      if (!ev.call_id || typeof ev.seq !== 'number') {
        this.onEvent(ev);
        return;
      }
      const last = this.last[ev.call_id];
      if (last !== undefined && ev.seq <= last) return; // already seen before a reconnect
      this.last[ev.call_id] = ev.seq;
      if (ev.type === 'call.ended') delete this.last[ev.call_id]; // nothing more to resume
      this.onEvent(ev);
    };
    ws.onclose = (c) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (c.code === 4401) {
        this.stopped = true;
        this.onStatus('stopped', 'unauthorized');
        showAuthProblem('The engine rejected your sign-in token on the live connection: it is invalid or has expired.');
        return;
      }
      if (c.code === 4403 || c.code === 1008) {
        this.stopped = true;
        this.onStatus('stopped', c.code === 4403 ? 'You may not watch these calls.' : (c.reason || 'refused'));
        return;
      }
      // Jitter keeps a wall of browsers from reconnecting in lockstep
      // after an engine restart.
      const wait = this.backoff / 2 + Math.random() * this.backoff;
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
      this.onStatus('reconnecting', wait / 1000);
      this.timer = setTimeout(() => this.connect(), wait);
    };
    // Errors are followed by close; the close handler decides.
    ws.onerror = () => {};
  }
}

// CallClock estimates a live call's current call time from its events: the
// latest event time plus the wall time since it arrived (a live call runs
// at real time). It never goes backwards.
export class CallClock {
  constructor() { this.t = 0; this.at = 0; }
  observe(t) {
    if (typeof t !== 'number') return;
    const now = performance.now();
    if (t >= this.now()) { this.t = t; this.at = now; }
  }
  now() { return this.at ? this.t + (performance.now() - this.at) / 1000 : this.t; }
  freeze() { this.t = this.now(); this.at = 0; }
}

// statusBadge returns an onStatus handler for Live that shows the
// connection's state in badge and counts a reconnect's wait down live, so
// "Reconnecting in 5.5s" never sits there after the attempt was made.
export function statusBadge(badge) {
  let timer = 0;
  return (state, detail) => {
    clearInterval(timer);
    badge.className = 'conn ' + state;
    if (state === 'reconnecting') {
      const until = performance.now() + detail * 1000;
      const paint = () => {
        const left = Math.max(0, (until - performance.now()) / 1000);
        badge.textContent = `Reconnecting in ${left.toFixed(1)}s…`;
      };
      paint();
      timer = setInterval(paint, 100);
      return;
    }
    badge.textContent = { connecting: 'Connecting…', live: 'Live', stopped: detail ? `Stopped: ${detail}` : 'Stopped' }[state] || state;
  };
}
