// Components shared by the overlay, the supervisor's live view and the
// review page: transcript, sentiment gauge and sparkline, conversation
// warnings and hint cards. Each owns one DOM subtree and is fed events.

import { el, svg, clock, sentimentClass, trendWord, api } from './common.js';
import { render as renderMarkdown } from './markdown.js';

const SPEAKER = { agent: 'Agent', caller: 'Caller' };

// Transcript shows final lines in call-time order, with at most one grey
// partial line per speaker that its final replaces.
export class Transcript {
  constructor(list, { sentiment = false } = {}) {
    this.list = list;
    this.sentiment = sentiment;
    this.partials = {};
  }

  clear() { this.list.replaceChildren(); this.partials = {}; }

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

  // atBottom reports whether the reader is following the newest line, so
  // new lines only scroll the list when they would not move what is read.
  atBottom() {
    const s = this.list;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  partial(ev) {
    const follow = this.atBottom();
    const sp = ev.speaker === 'agent' ? 'agent' : 'caller';
    const li = this.line(ev, true);
    if (this.partials[sp]) this.partials[sp].replaceWith(li);
    else this.list.append(li);
    this.partials[sp] = li;
    if (follow) this.list.scrollTop = this.list.scrollHeight;
  }

  final(ev) {
    const follow = this.atBottom();
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
    if (follow) this.list.scrollTop = this.list.scrollHeight;
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

// Hints keeps hint cards ordered by priority (1 first), newest first
// within a priority. With readOnly the accept/dismiss buttons are left out.
export class Hints {
  constructor(list, { callId = '', readOnly = false, announce = null } = {}) {
    this.list = list;
    this.callId = callId;
    this.readOnly = readOnly;
    this.announce = announce;
    this.cards = new Map();
  }

  reset(callId) { this.callId = callId; this.cards.clear(); this.list.replaceChildren(); }

  add(ev) {
    if (!ev.id) return;
    const old = this.cards.get(ev.id);
    if (old && old.state === 'dismissed') return; // the agent already said no
    if (old) old.li.remove();
    const card = { ev, state: old ? old.state : 'open', li: null };
    card.li = this.card(card);
    this.cards.set(ev.id, card);
    this.place(card);
    if (this.announce && !old) this.announce.textContent = `New hint: ${ev.title}. ${ev.text || ''}`;
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

  card(card) {
    const ev = card.ev;
    const pri = Math.min(3, Math.max(1, ev.priority || 3));
    const titleId = `hint-${ev.id}-title`;
    const li = el('li', { class: `hint p${pri} ${card.state}`, 'data-hint': ev.id, 'aria-labelledby': titleId },
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
        el('button', { type: 'button', class: 'accept', onclick: () => this.feedback(ev.id, 'accept') }, 'Accept'),
        el('button', { type: 'button', class: 'dismiss', onclick: () => this.feedback(ev.id, 'dismiss') }, 'Dismiss'));
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

  async feedback(id, action) {
    const card = this.cards.get(id);
    if (!card || card.state !== 'open' || this.readOnly) return;
    // Keyboard users keep their place: focus moves to the next hint.
    const hadFocus = card.li.contains(document.activeElement);
    const buttons = card.li.querySelectorAll('.hint-actions button.accept, .hint-actions button.dismiss');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await api(`/v1/calls/${encodeURIComponent(this.callId)}/hints/${encodeURIComponent(id)}/feedback`, { method: 'POST', body: { action } });
    } catch (e) {
      buttons.forEach((b) => { b.disabled = false; });
      const err = card.li.querySelector('.error') || el('p', { class: 'error', role: 'alert' });
      err.textContent = 'Feedback not saved: ' + e.message;
      card.li.append(err);
      return;
    }
    card.state = action === 'accept' ? 'accepted' : 'dismissed';
    if (this.announce) this.announce.textContent = `Hint ${card.state}: ${card.ev.title}.`;
    if (card.state === 'dismissed') {
      card.li.remove();
    } else {
      const li = this.card(card);
      card.li.replaceWith(li);
      card.li = li;
      li.remove();
      this.place(card);
    }
    const next = this.top();
    if (hadFocus && next) {
      const b = next.li.querySelector('button.accept');
      if (b) b.focus();
    }
  }
}
