// The supervisor wall: every live call over /v1/live?all=1, as tiles
// sorted by risk. A tile opens the call's live view (read-only transcript,
// sentiment, hints, alerts) in a side panel, fed from the same stream.

import { api, requireSignIn, clock, el, sentimentClass, trendWord } from './common.js';
import { Live, CallClock, statusBadge } from './live.js';
import { Transcript, SentimentGauge, Warnings, Hints, sparkline } from './components.js';

const MAX_EVENTS = 2000; // per call, like the engine's resume buffer
const SEVERITY = { critical: 3, warning: 2, info: 1 };

const claims = requireSignIn(['supervisor', 'admin'], '/supervisor');
if (claims) start();

function start() {
  const $ = (id) => document.getElementById(id);
  const calls = new Map();
  let panel = null; // the open call's view
  // One warnings list for the panel, pointed at the open call's clock.
  const detailWarnings = new Warnings($('detail-warnings'), new CallClock());

  function get(id, agent) {
    let c = calls.get(id);
    if (!c) {
      c = { id, agent: agent || '', clock: new CallClock(), values: [], caller: null, trend: '',
        alerts: [], lastHint: null, events: [], tile: null };
      calls.set(id, c);
    }
    if (agent && !c.agent) c.agent = agent;
    return c;
  }

  // risk orders the wall: alerts by severity, then how negative the caller is.
  function risk(c) {
    let r = 0;
    for (const a of c.alerts) r += SEVERITY[a.severity] || 1;
    if (typeof c.caller === 'number' && c.caller < 0) r += -c.caller * 4;
    if (c.trend === 'worsening') r += 0.5;
    return r;
  }

  function tile(c) {
    const r = risk(c);
    const level = r >= 3 ? 'high' : r >= 1 ? 'medium' : 'low';
    const a = el('a', { class: `tile risk-${level}`, href: '#call=' + encodeURIComponent(c.id), 'data-call': c.id },
      el('span', { class: 'tile-agent' }, c.agent || 'agent ?'),
      el('time', { class: 'tile-clock' }, clock(c.clock.now())),
      el('span', { class: 'tile-id' }, c.id),
      el('span', { class: 'tile-sent ' + sentimentClass(c.caller) },
        typeof c.caller === 'number' ? `caller ${c.caller > 0 ? '+' : ''}${c.caller.toFixed(2)}` : 'caller –',
        c.trend ? ` ${c.trend}` : ''),
      sparkline(c.values, { width: 220, height: 34, label: 'caller sentiment trend' }),
      el('span', { class: 'badges' }, c.alerts.map((x) => el('span', { class: 'badge ' + (x.severity || 'info') }, x.text || x.id))),
      el('span', { class: 'tile-hint' }, c.lastHint ? 'Hint: ' + c.lastHint : 'No hints yet'));
    a.setAttribute('aria-label', `${c.agent}, ${clock(c.clock.now())}, risk ${level}`);
    return a;
  }

  let scheduled = false;
  function render() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      const list = [...calls.values()].sort((a, b) => risk(b) - risk(a) || a.id.localeCompare(b.id));
      const ul = $('calls');
      const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.call : null;
      ul.replaceChildren(...list.map((c) => { c.tile = tile(c); return el('li', {}, c.tile); }));
      if (focused && calls.has(focused)) calls.get(focused).tile.focus();
      $('count').textContent = String(list.length);
      $('empty').hidden = list.length > 0;
    });
  }

  setInterval(() => {
    for (const c of calls.values()) {
      const t = c.tile && c.tile.querySelector('.tile-clock');
      if (t) t.textContent = clock(c.clock.now());
    }
    if (panel) {
      $('detail-clock').textContent = clock(panel.call.clock.now());
      panel.hints.expire(panel.call.clock.now());
    }
  }, 500);

  function onEvent(ev) {
    if (!ev.call_id) return;
    if (ev.type === 'call.ended') {
      const c = calls.get(ev.call_id);
      calls.delete(ev.call_id);
      if (panel && panel.call.id === ev.call_id) {
        if (c) c.clock.freeze();
        $('detail-state').textContent = `ended (${ev.reason || 'end'})`;
        panel.hints.end();
        detailWarnings.ended();
      }
      render();
      return;
    }
    const c = get(ev.call_id, ev.agent_id);
    c.clock.observe(ev.t);
    c.events.push(ev);
    if (c.events.length > MAX_EVENTS) c.events.shift();
    switch (ev.type) {
      case 'sentiment':
        if (ev.speaker === 'caller') {
          const v = typeof ev.rolling === 'number' ? ev.rolling : ev.score;
          if (typeof v === 'number') {
            c.caller = v;
            c.values.push(v);
            if (c.values.length > 40) c.values.shift();
          }
          if (ev.trend !== undefined) c.trend = trendWord(ev.trend);
        }
        break;
      case 'alert':
        c.alerts.push({ id: ev.id, severity: ev.severity, text: ev.text });
        break;
      case 'hint':
        c.lastHint = ev.title || ev.id;
        break;
    }
    if (panel && panel.call === c) feed(panel, ev);
    if (['sentiment', 'alert', 'hint', 'call.started'].includes(ev.type) || !c.tile) render();
  }

  function feed(p, ev) {
    switch (ev.type) {
      case 'transcript.partial': p.transcript.partial(ev); detailWarnings.speech(); break;
      case 'transcript.final': p.transcript.final(ev); detailWarnings.speech(); break;
      case 'sentiment': p.gauge.update(ev); break;
      case 'dynamics': detailWarnings.dynamics(ev); break;
      case 'hint': p.hints.add(ev); p.hints.expire(p.call.clock.now()); break;
      case 'alert':
        $('detail-alerts').append(el('li', { class: 'badge ' + (ev.severity || 'info') }, `${clock(ev.t)} ${ev.text || ev.id}`));
        break;
    }
  }

  function open(id) {
    const c = calls.get(id);
    if (!c) { close(); return; }
    if (panel && panel.call === c) return;
    $('detail-transcript').replaceChildren();
    $('detail-alerts').replaceChildren();
    $('detail-hints').replaceChildren();
    panel = {
      call: c,
      transcript: new Transcript($('detail-transcript'), { follow: true }),
      gauge: new SentimentGauge($('detail-gauge')),
      hints: new Hints($('detail-hints'), { callId: id, readOnly: true }),
    };
    detailWarnings.clock = c.clock;
    detailWarnings.reset();
    $('detail-title').textContent = `${c.agent} · ${c.id}`;
    $('detail-state').textContent = 'live';
    for (const ev of c.events) feed(panel, ev);
    $('detail').hidden = false;
    document.body.classList.add('detail-open');
    $('detail-close').focus();
  }

  function close() {
    $('detail').hidden = true;
    document.body.classList.remove('detail-open');
    const id = panel && panel.call.id;
    panel = null;
    if (location.hash) history.replaceState(null, '', location.pathname);
    if (id && calls.has(id) && calls.get(id).tile) calls.get(id).tile.focus();
  }

  function route() {
    const m = /^#call=(.+)$/.exec(location.hash);
    if (m) open(decodeURIComponent(m[1]));
    else if (!$('detail').hidden) close();
  }
  window.addEventListener('hashchange', route);
  $('detail-close').addEventListener('click', close);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !$('detail').hidden) close(); });

  const onStatus = statusBadge($('conn'));

  (async () => {
    // Calls already live when the wall opens are replayed from their first
    // event (the engine keeps the last 2000 per call).
    const resume = {};
    try {
      const page = await api('/v1/calls?status=live&limit=500');
      for (const s of (page && page.calls) || []) {
        const c = get(s.id, s.agent_id);
        c.clock.observe(Math.max(0, (Date.now() - Date.parse(s.started_at)) / 1000));
        resume[s.id] = 0;
      }
      render();
    } catch (e) {
      if (e.status === 401) return;
    }
    new Live({ query: 'all=1', resume, onEvent, onStatus }).start();
    route();
  })();
  render();
}
