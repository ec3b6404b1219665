// Components shared by the overlay, the supervisor's live view and the
// review page: transcript, sentiment gauge and sparkline, conversation
// warnings and hint cards. Each owns one DOM subtree and is fed events.

import { el, svg, clock, sentimentClass, trendWord, api } from './common.js';
import { render as renderMarkdown } from './markdown.js';

const SPEAKER = { agent: 'Agent', caller: 'Caller' };

// views remembers the component that owns a list, so a page that builds a
// new one for the same list (the supervisor opening another call) detaches
// the old one's listeners and buttons first.
const views = new WeakMap();

function own(list, view) {
  const old = views.get(list);
  if (old) old.detach();
  views.set(list, view);
}

// Transcript shows final lines in call-time order, with at most one grey
// partial line per speaker that its final replaces.
//
// With follow it keeps the newest line in view, whatever changes the
// list's size (a hint card, an opened article, a resized window), until
// the reader scrolls up; then a "newer lines" button below the list counts
// what arrived and jumps back, and following resumes there or when the
// reader scrolls back to the end.
export class Transcript {
  constructor(list, { sentiment = false, follow = false } = {}) {
    this.list = list;
    this.sentiment = sentiment;
    this.partials = {};
    this.following = true;
    this.unseen = 0;
    this.newer = null;
    own(list, this);
    if (follow) this.watch();
  }

  watch() {
    const list = this.list;
    this.lastTop = list.scrollTop;
    this.newer = el('button', { type: 'button', class: 'newer', hidden: true, 'aria-controls': list.id || null,
      onclick: () => { this.jump(); list.focus(); } }, 'Newer lines');
    list.after(this.newer);
    this.onScroll = () => this.scrolled();
    list.addEventListener('scroll', this.onScroll, { passive: true });
    // A list that shrinks does not scroll: pin it again after every layout
    // that changed its size.
    this.resize = new ResizeObserver(() => { if (this.following) this.pin(); });
    this.resize.observe(list);
  }

  detach() {
    if (!this.newer) return;
    this.list.removeEventListener('scroll', this.onScroll);
    this.resize.disconnect();
    this.newer.remove();
    this.newer = null;
  }

  // scrolled tells a reader's scroll from the list's own: only moving up
  // away from the end stops following. The list's own scrolls (pinning,
  // clamping after it grew) end at the bottom or do not move up.
  scrolled() {
    const top = this.list.scrollTop;
    if (this.atBottom()) this.setFollowing(true);
    else if (top < this.lastTop - 1) this.setFollowing(false);
    this.lastTop = top;
  }

  setFollowing(on) {
    this.following = on;
    if (on) this.unseen = 0;
    if (!this.newer) return;
    this.newer.hidden = on;
    this.newer.textContent = this.unseen ? `${this.unseen} newer line${this.unseen === 1 ? '' : 's'} ↓` : 'Newer lines ↓';
  }

  // jump shows the newest line and follows again.
  jump() { this.setFollowing(true); this.pin(); }

  pin() {
    this.list.scrollTop = this.list.scrollHeight;
    this.lastTop = this.list.scrollTop;
  }

  clear() { this.list.replaceChildren(); this.partials = {}; this.setFollowing(true); }

  line(ev, partial) {
    const sp = ev.speaker === 'agent' ? 'agent' : 'caller';
    const score = ev.sentiment && typeof ev.sentiment.score === 'number' ? ev.sentiment.score : null;
    const cls = ['line', sp];
    if (partial) cls.push('partial');
    if (!partial && this.sentiment && score !== null) cls.push('s-' + sentimentClass(score));
    const li = el('li', { class: cls.join(' '), 'data-start': ev.start ?? ev.t ?? 0, 'data-seq': ev.seq ?? '' },
      el('span', { class: 'who' }, SPEAKER[sp]),
      el('time', {}, clock(ev.start ?? ev.t)),
      el('span', { class: 'text' }, ev.text || ''));
    if (!partial && this.sentiment && score !== null) {
      li.append(el('span', { class: 'score', title: 'sentiment' }, (score > 0 ? '+' : '') + score.toFixed(2)));
    }
    return li;
  }

  // atBottom reports whether the end of the list is in view (within
  // rounding of fractional pixels).
  atBottom() {
    const s = this.list;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 4;
  }

  // added keeps the newest line in view, or counts it for the button.
  added(final) {
    if (!this.newer) return;
    if (this.following) { this.pin(); return; }
    if (final) { this.unseen++; this.setFollowing(false); }
  }

  partial(ev) {
    const sp = ev.speaker === 'agent' ? 'agent' : 'caller';
    const li = this.line(ev, true);
    if (this.partials[sp]) this.partials[sp].replaceWith(li);
    else this.list.append(li);
    this.partials[sp] = li;
    this.added(false);
  }

  final(ev) {
    const sp = ev.speaker === 'agent' ? 'agent' : 'caller';
    if (this.partials[sp]) { this.partials[sp].remove(); delete this.partials[sp]; }
    // After an engine restart cut an utterance in two, its whole final
    // replaces the first part's.
    if (ev.replaces) {
      for (const x of this.list.querySelectorAll('li.line')) {
        if (x.dataset.seq === String(ev.replaces)) x.remove();
      }
    }
    const li = this.line(ev, false);
    // Finals of the two channels can arrive out of start order; keep the
    // list in the order things were said, partials last.
    const start = Number(li.dataset.start);
    let before = null;
    for (const x of this.list.children) {
      if (x.classList.contains('partial') || Number(x.dataset.start) > start) { before = x; break; }
    }
    this.list.insertBefore(li, before);
    this.added(true);
  }
}

// sparkline draws values in -1..1 as a line over a zero axis.
export function sparkline(values, { width = 120, height = 32, label = 'sentiment trend' } = {}) {
  const s = svg('svg', { class: 'spark', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label });
  const mid = height / 2;
  s.append(svg('line', { class: 'axis', x1: 0, x2: width, y1: mid, y2: mid }));
  if (values.length) {
    const n = values.length;
    const pts = values.map((v, i) => {
      const x = n === 1 ? width / 2 : (i / (n - 1)) * (width - 4) + 2;
      const y = mid - Math.max(-1, Math.min(1, v)) * (mid - 3);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    const last = values[n - 1];
    s.append(svg('polyline', { class: 'trend ' + sentimentClass(last), points: pts.join(' ') }));
    const [lx, ly] = pts[n - 1].split(',');
    s.append(svg('circle', { class: 'dot ' + sentimentClass(last), cx: lx, cy: ly, r: 2.5 }));
  }
  return s;
}

// SentimentGauge shows the caller's rolling sentiment as a needle on a
// half dial (-1 left, +1 right), its label and trend, and a sparkline of
// recent values.
export class SentimentGauge {
  constructor(root) {
    this.root = root;
    this.values = [];
    this.draw(null, '');
  }

  reset() { this.values = []; this.draw(null, ''); }

  update(ev) {
    if (ev.speaker !== 'caller') return;
    const v = typeof ev.rolling === 'number' ? ev.rolling : ev.score;
    if (typeof v !== 'number') return;
    this.values.push(v);
    if (this.values.length > 40) this.values.shift();
    this.draw(v, trendWord(ev.trend));
  }

  draw(v, trend) {
    const W = 150, H = 86, cx = 75, cy = 78, r = 62;
    const at = (x) => {
      const a = Math.PI * (1 - (x + 1) / 2);
      return [cx + r * Math.cos(a), cy - r * Math.sin(a)];
    };
    const arc = (from, to, cls) => {
      const [x1, y1] = at(from), [x2, y2] = at(to);
      return svg('path', { class: 'band ' + cls, d: `M${x1.toFixed(1)} ${y1.toFixed(1)} A${r} ${r} 0 0 1 ${x2.toFixed(1)} ${y2.toFixed(1)}` });
    };
    const label = v === null ? 'no caller speech yet' : `${sentimentClass(v)} ${v > 0 ? '+' : ''}${v.toFixed(2)}`;
    const g = svg('svg', { class: 'gauge', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
      'aria-label': `Caller sentiment: ${label}${trend ? ', ' + trend : ''}` },
    arc(-1, -0.15, 'negative'), arc(-0.15, 0.15, 'neutral'), arc(0.15, 1, 'positive'));
    if (v !== null) {
      const [nx, ny] = at(Math.max(-1, Math.min(1, v)));
      g.append(svg('line', { class: 'needle', x1: cx, y1: cy, x2: nx.toFixed(1), y2: ny.toFixed(1) }));
    }
    g.append(svg('circle', { class: 'hub', cx, cy, r: 4 }));
    const arrow = { improving: '↗', worsening: '↘', steady: '→' }[trend] || '';
    this.root.replaceChildren(
      el('div', { class: 'gauge-title' }, 'Caller'),
      g,
      el('div', { class: 'gauge-label ' + (v === null ? '' : sentimentClass(v)) }, label, arrow ? ' ' + arrow : ''),
      sparkline(this.values, { width: 150, height: 28, label: 'caller sentiment, recent utterances' }));
  }
}

const WARN_FOR = 8000; // ms a one-off warning stays up

// Warnings shows conversation warnings for the agent: a live dead-air
// timer, talking over the caller, speaking too fast, a long monologue.
export class Warnings {
  constructor(list, callClock) {
    this.list = list;
    this.clock = callClock;
    this.items = new Map(); // kind → {li, until, start}
    this.timer = setInterval(() => this.tick(), 250);
  }

  reset() { this.items.clear(); this.list.replaceChildren(); }

  set(kind, text, { start = null, ms = WARN_FOR, severity = 'warning' } = {}) {
    let it = this.items.get(kind);
    if (!it) {
      it = { li: el('li', { class: 'warn ' + severity, 'data-kind': kind }) };
      this.items.set(kind, it);
      this.list.append(it.li);
    }
    it.text = text;
    it.start = start;
    it.until = start === null ? performance.now() + ms : Infinity;
    this.paint(kind, it);
  }

  remove(kind) {
    const it = this.items.get(kind);
    if (it) { it.li.remove(); this.items.delete(kind); }
  }

  paint(kind, it) {
    const parts = [el('strong', {}, it.text)];
    if (it.start !== null) parts.push(' ', el('span', { class: 'timer' }, clock(this.clock.now() - it.start)));
    it.li.replaceChildren(...parts);
  }

  tick() {
    const now = performance.now();
    for (const [kind, it] of this.items) {
      if (now > it.until) this.remove(kind);
      else if (it.start !== null) this.paint(kind, it);
    }
  }

  // speech ends a dead-air warning as soon as anyone talks.
  speech() { this.remove('dead_air'); }

  dynamics(ev) {
    switch (ev.event) {
      case 'dead_air':
        if (ev.ongoing) this.set('dead_air', 'Dead air', { start: ev.start, severity: 'warning' });
        else this.remove('dead_air');
        break;
      case 'overtalk':
        if (ev.speaker === 'agent') this.set('overtalk', 'Talking over the caller', { severity: 'critical' });
        break;
      case 'fast_speech':
        if (ev.speaker === 'agent') this.set('fast_speech', `Speaking too fast${ev.value ? ` (${Math.round(ev.value)} wpm)` : ''}`);
        break;
      case 'monologue':
        if (ev.speaker === 'agent') this.set('monologue', 'Long monologue: let the caller talk');
        break;
    }
  }

  ended() { this.remove('dead_air'); }
}

// HINT_TTL is how long, in seconds of call time after its t, a hint
// without its own ttl_s stays: long enough to act on, short enough that a
// six-minute call does not pile up its whole history.
export const HINT_TTL = 90;

// HINTS_SHOWN is how many cards show before the rest fold under "N more":
// at 360×640 more would push the transcript off the window.
export const HINTS_SHOWN = 3;

// Hints keeps hint cards ordered open first, then by priority (1 first),
// newest first within a priority. A card leaves when the call clock passes
// its t + ttl_s (HINT_TTL without one), so a replayed call shows what the
// live one did. With readOnly the accept/dismiss buttons are left out;
// after end() they are disabled. focusAfter is where focus goes when the
// card that had it leaves and no open card is left.
export class Hints {
  constructor(list, { callId = '', readOnly = false, announce = null, focusAfter = null } = {}) {
    this.list = list;
    this.callId = callId;
    this.readOnly = readOnly;
    this.announce = announce;
    this.focusAfter = focusAfter || list;
    this.cards = new Map();
    this.ended = false;
    this.expanded = false;
    this.more = el('button', { type: 'button', class: 'more link', hidden: true, 'aria-expanded': 'false',
      'aria-controls': list.id || null, onclick: () => { this.expanded = !this.expanded; this.layout(); } });
    own(list, this);
    list.after(this.more);
  }

  detach() { this.more.remove(); }

  reset(callId) {
    this.callId = callId;
    this.cards.clear();
    this.list.replaceChildren();
    this.ended = false;
    this.expanded = false;
    this.list.classList.remove('ended');
    this.layout();
  }

  add(ev) {
    if (!ev.id || this.ended) return;
    const old = this.cards.get(ev.id);
    if (old && old.state === 'dismissed') return; // the agent already said no
    const focused = old ? this.focusedButton(old) : '';
    if (old) old.li.remove();
    const ttl = typeof ev.ttl_s === 'number' && ev.ttl_s > 0 ? ev.ttl_s : HINT_TTL;
    const card = { ev, state: old ? old.state : 'open', li: null, ttl, until: (ev.t || 0) + ttl };
    card.li = this.card(card);
    this.cards.set(ev.id, card);
    this.place(card);
    this.layout();
    if (focused) { const b = card.li.querySelector('button.' + focused); if (b) b.focus(); }
    if (this.announce && !old) this.announce.textContent = `New hint: ${ev.title}. ${ev.text || ''}`;
  }

  // focusedButton names the class of card's button that has focus, if any.
  focusedButton(card) {
    const a = document.activeElement;
    if (!a || !card.li.contains(a) || a.tagName !== 'BUTTON') return '';
    return ['accept', 'dismiss', 'link'].find((c) => a.classList.contains(c)) || '';
  }

  place(card) {
    const key = (c) => [c.state === 'open' ? 0 : 1, c.ev.priority || 3, -(c.ev.t || 0)];
    const k = key(card);
    let before = null;
    for (const li of this.list.children) {
      const other = this.cards.get(li.dataset.hint);
      if (!other) continue;
      const o = key(other);
      if (k[0] < o[0] || (k[0] === o[0] && (k[1] < o[1] || (k[1] === o[1] && k[2] <= o[2])))) { before = li; break; }
    }
    this.list.insertBefore(card.li, before);
  }

  // layout shows the first HINTS_SHOWN cards and folds the rest under the
  // "N more" button, unless the agent unfolded them.
  layout() {
    const lis = [...this.list.children];
    const extra = Math.max(0, lis.length - HINTS_SHOWN);
    if (!extra) this.expanded = false;
    lis.forEach((li, i) => { li.hidden = !this.expanded && i >= HINTS_SHOWN; });
    this.more.hidden = extra === 0;
    this.more.textContent = this.expanded ? 'Show fewer' : `${extra} more`;
    this.more.setAttribute('aria-expanded', String(this.expanded));
  }

  // expire removes the cards whose time is up at call time now (seconds).
  expire(now) {
    if (this.ended || typeof now !== 'number') return;
    let hadFocus = false;
    for (const [id, card] of this.cards) {
      if (card.state === 'dismissed' || now < card.until) continue;
      hadFocus = hadFocus || card.li.contains(document.activeElement);
      card.li.remove();
      this.cards.delete(id); // if the rule fires again, the hint comes back
    }
    this.layout();
    if (hadFocus) this.refocus();
  }

  // end leaves the cards of an ended call up to read, with their buttons
  // disabled: feedback on a call that is over would only confuse.
  end() {
    if (this.ended) return;
    const hadFocus = this.list.contains(document.activeElement);
    this.ended = true;
    this.list.classList.add('ended');
    for (const card of this.cards.values()) {
      if (!card.li.isConnected) continue;
      const li = this.card(card);
      card.li.replaceWith(li);
      card.li = li;
    }
    if (hadFocus) this.list.focus();
  }

  card(card) {
    const ev = card.ev;
    const pri = Math.min(3, Math.max(1, ev.priority || 3));
    const titleId = `hint-${ev.id}-title`;
    const li = el('li', { class: `hint p${pri} ${card.state}`, 'data-hint': ev.id, 'data-t': ev.t || 0, 'data-ttl': card.ttl,
      'aria-labelledby': titleId },
    el('div', { class: 'hint-head' },
      el('h3', { id: titleId }, ev.title || ev.id),
      el('span', { class: 'pri', title: 'priority' }, ['', 'high', 'medium', 'low'][pri])),
    ev.text ? el('p', {}, ev.text) : null);
    const actions = el('div', { class: 'hint-actions' });
    if (ev.kb) {
      const art = el('div', { class: 'article', hidden: true, id: `kb-${ev.id}` });
      const btn = el('button', { type: 'button', class: 'link', 'aria-expanded': 'false', 'aria-controls': art.id,
        onclick: () => this.toggleArticle(btn, art, ev.kb) }, 'Article');
      actions.append(btn);
      li.append(actions, art);
    } else {
      li.append(actions);
    }
    if (this.readOnly) {
      if (card.state !== 'open') actions.append(el('span', { class: 'state' }, card.state));
    } else if (card.state === 'open') {
      actions.append(
        el('button', { type: 'button', class: 'accept', disabled: this.ended, onclick: () => this.feedback(ev.id, 'accept') }, 'Accept'),
        el('button', { type: 'button', class: 'dismiss', disabled: this.ended, onclick: () => this.feedback(ev.id, 'dismiss') }, 'Dismiss'));
      if (this.ended) actions.append(el('span', { class: 'state' }, 'call ended'));
    } else {
      actions.append(el('span', { class: 'state' }, card.state === 'accepted' ? 'Accepted ✓' : card.state));
    }
    return li;
  }

  async toggleArticle(btn, art, kb) {
    const open = btn.getAttribute('aria-expanded') === 'true';
    btn.setAttribute('aria-expanded', String(!open));
    art.hidden = open;
    if (open || art.dataset.loaded) return;
    art.replaceChildren(el('p', { class: 'muted' }, 'Loading article…'));
    try {
      const a = await api('/v1/kb/' + encodeURIComponent(kb));
      art.replaceChildren(el('h4', {}, a.title || kb), renderMarkdown(a.body, 3));
      art.dataset.loaded = '1';
    } catch (e) {
      art.replaceChildren(el('p', { class: 'error' }, 'Could not load the article: ' + e.message));
    }
  }

  // top is the first open card, which the a/d/k shortcuts act on.
  top() {
    for (const li of this.list.children) {
      const c = this.cards.get(li.dataset.hint);
      if (c && c.state === 'open') return c;
    }
    return null;
  }

  // refocus puts focus on the next open card's Accept, or on focusAfter
  // when none is left, so a keyboard user is never dropped on <body>.
  refocus() {
    const next = this.top();
    const b = next && next.li.querySelector('button.accept:not([disabled])');
    if (b) b.focus();
    else this.focusAfter.focus();
  }

  async feedback(id, action) {
    const card = this.cards.get(id);
    if (!card || card.state !== 'open' || this.readOnly || this.ended) return;
    // Keyboard users keep their place: focus moves to the next hint.
    const hadFocus = card.li.contains(document.activeElement);
    const buttons = card.li.querySelectorAll('.hint-actions button.accept, .hint-actions button.dismiss');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await api(`/v1/calls/${encodeURIComponent(this.callId)}/hints/${encodeURIComponent(id)}/feedback`, { method: 'POST', body: { action } });
    } catch (e) {
      buttons.forEach((b) => { b.disabled = this.ended; });
      const err = card.li.querySelector('.error') || el('p', { class: 'error', role: 'alert' });
      err.textContent = 'Feedback not saved: ' + e.message;
      card.li.append(err);
      return;
    }
    if (this.cards.get(id) !== card) return; // expired or replaced meanwhile
    card.state = action === 'accept' ? 'accepted' : 'dismissed';
    if (this.announce) this.announce.textContent = `Hint ${card.state}: ${card.ev.title}.`;
    const focusLost = hadFocus || card.li.contains(document.activeElement);
    if (card.state === 'dismissed') {
      card.li.remove();
    } else {
      const li = this.card(card);
      card.li.replaceWith(li);
      card.li = li;
      li.remove();
      this.place(card);
    }
    this.layout();
    if (focusLost) this.refocus();
  }
}
