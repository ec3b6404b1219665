// Call review: GET /v1/calls/{id} drawn as a summary, a sentiment-over-time
// chart, a two-lane timeline of who spoke when (dead air and overtalk
// marked), the transcript with sentiment colours, and the hints with the
// agent's feedback.

import { api, requireSignIn, clock, el, svg, fmtTime, sentimentClass } from './common.js';
import { Transcript } from './components.js';

const $ = (id) => document.getElementById(id);

const claims = requireSignIn(['agent', 'supervisor', 'admin'], '/calls');
if (claims) start();

async function start() {
  const id = decodeURIComponent(location.pathname.split('/')[2] || '');
  $('title').textContent = 'Call ' + id;
  let d;
  try {
    d = await api('/v1/calls/' + encodeURIComponent(id));
  } catch (e) {
    if (e.status !== 401) $('status').textContent = 'Could not load the call: ' + e.message;
    return;
  }
  const events = (d.events || []).map((e) => (typeof e === 'string' ? JSON.parse(e) : e));
  const utts = (d.utterances || []).slice().sort((a, b) => a.start - b.start);
  const dyn = d.dynamics || {};
  let duration = d.duration_s || d.audio_s || 0;
  for (const u of utts) duration = Math.max(duration, u.end || 0);
  $('status').textContent = d.status === 'live' ? 'This call is still live; the review shows what is stored so far.' : '';
  document.title = `Earshot · Call ${id}`;

  summary(d, dyn, duration);
  $('chart').append(...sentimentChart(events, utts, duration));
  $('timeline').append(...timeline(d, dyn, utts, duration));

  const tr = new Transcript($('transcript'), { sentiment: true });
  for (const u of utts) tr.final(u);
  $('transcript').scrollTop = 0;
  if (!utts.length) $('transcript').append(el('li', { class: 'muted' }, 'No transcript.'));

  hintList(d.hints || []);
  const alerts = events.filter((e) => e.type === 'alert');
  $('alerts').append(...alerts.map((a) => el('li', { class: 'badge ' + (a.severity || 'info') }, `${clock(a.t)} ${a.text || a.id}`)));
  if (!alerts.length) $('alerts').append(el('li', { class: 'muted' }, 'None.'));
  document.body.dataset.loaded = '1';
}

function summary(d, dyn, duration) {
  const s = d.sentiment || {};
  const ratio = typeof d.talk_ratio === 'number' ? d.talk_ratio : dyn.talk_ratio;
  const dead = dyn.dead_air || [];
  const deadS = dead.reduce((a, x) => a + (x.end - x.start), 0);
  const num = (v) => (typeof v === 'number' ? (v > 0 ? '+' : '') + v.toFixed(2) : '–');
  const items = [
    ['Agent', d.agent_id],
    ['Started', fmtTime(d.started_at)],
    ['Duration', clock(duration)],
    ['Status', d.status + (d.end_reason ? ` (${d.end_reason})` : '')],
    ['Talk ratio', typeof ratio === 'number' ? talkBar(ratio) : '–'],
    ['Caller sentiment', el('span', { class: sentimentClass(s.caller) }, num(s.caller), s.trend ? ` ${s.trend}` : '')],
    ['Agent sentiment', el('span', { class: sentimentClass(s.agent) }, num(s.agent))],
    ['Dead air', dead.length ? `${dead.length}× · ${deadS.toFixed(1)} s` : 'none'],
    ['Overtalk', (dyn.overtalk || []).length ? `${dyn.overtalk.length}×` : 'none'],
    ['Interruptions', dyn.interruptions ? `agent ${dyn.interruptions.agent}, caller ${dyn.interruptions.caller}` : '–'],
    ['Categories', (d.categories || []).length ? d.categories.map((c) => el('span', { class: 'chip' }, c)) : 'none'],
  ];
  const dl = el('dl', {});
  for (const [k, v] of items) dl.append(el('div', {}, el('dt', {}, k), el('dd', {}, v)));
  $('summary').replaceChildren(dl);
}

function talkBar(ratio) {
  const pct = Math.round(ratio * 100);
  const bar = svg('svg', { class: 'talkbar', viewBox: '0 0 100 10', width: 120, height: 12, role: 'img', 'aria-label': `agent ${pct}%, caller ${100 - pct}%` },
    svg('rect', { class: 'agent', x: 0, y: 0, width: pct, height: 10 }),
    svg('rect', { class: 'caller', x: pct, y: 0, width: 100 - pct, height: 10 }));
  return [bar, ` agent ${pct}% · caller ${100 - pct}%`];
}

// tickStep picks a round time step giving at most about 10 ticks.
function tickStep(duration) {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200]) if (duration / s <= 10) return s;
  return 1800;
}

function timeAxis(g, x, duration, y, top) {
  const step = tickStep(duration);
  for (let t = 0; t <= duration + 1e-6; t += step) {
    g.append(svg('line', { class: 'grid', x1: x(t), x2: x(t), y1: top, y2: y }),
      svg('text', { class: 'tick', x: x(t), y: y + 17, 'text-anchor': t === 0 ? 'start' : 'middle' }, clock(t)));
  }
}

function sentimentChart(events, utts, duration) {
  const W = 1000, H = 240, L = 44, R = 12, T = 12, B = 28;
  const series = { caller: [], agent: [] };
  const sent = events.filter((e) => e.type === 'sentiment' && (e.speaker === 'caller' || e.speaker === 'agent'));
  if (sent.length) {
    for (const e of sent) {
      const v = typeof e.rolling === 'number' ? e.rolling : e.score;
      if (typeof v === 'number') series[e.speaker].push([e.t, v]);
    }
  } else {
    for (const u of utts) {
      if (u.sentiment && typeof u.sentiment.score === 'number' && series[u.speaker]) series[u.speaker].push([u.end, u.sentiment.score]);
    }
  }
  const span = Math.max(duration, 1);
  const x = (t) => (L + (Math.max(0, t) / span) * (W - L - R)).toFixed(1);
  const y = (v) => (T + (1 - (Math.max(-1, Math.min(1, v)) + 1) / 2) * (H - T - B)).toFixed(1);
  const s = svg('svg', { id: 'sentiment-chart', class: 'chart-svg', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Sentiment over time: ${series.caller.length} caller and ${series.agent.length} agent points` });
  const g = svg('g', {});
  for (const v of [-1, -0.5, 0, 0.5, 1]) {
    g.append(svg('line', { class: v === 0 ? 'zero' : 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      svg('text', { class: 'tick', x: L - 6, y: Number(y(v)) + 4, 'text-anchor': 'end' }, (v > 0 ? '+' : '') + v));
  }
  timeAxis(g, x, span, H - B, T);
  s.append(g);
  for (const sp of ['agent', 'caller']) {
    const pts = series[sp];
    if (!pts.length) continue;
    s.append(svg('polyline', { class: 'series ' + sp, 'data-speaker': sp, points: pts.map(([t, v]) => `${x(t)},${y(v)}`).join(' ') }));
    for (const [t, v] of pts) {
      s.append(svg('circle', { class: 'pt ' + sp, cx: x(t), cy: y(v), r: 3 }, svg('title', {}, `${sp} ${clock(t)}: ${v.toFixed(2)}`)));
    }
  }
  const legend = el('p', { class: 'legend' }, el('span', { class: 'key agent' }, 'Agent'), ' ', el('span', { class: 'key caller' }, 'Caller'),
    sent.length ? ' · rolling sentiment after each utterance' : ' · sentiment of each utterance');
  if (!series.caller.length && !series.agent.length) legend.append(' · no sentiment recorded');
  return [s, legend];
}

function timeline(d, dyn, utts, duration) {
  const W = 1000, L = 60, R = 12, T = 8, lane = 28, gap = 10, B = 26;
  const H = T + 2 * lane + gap + B;
  const span = Math.max(duration, 1);
  const x = (t) => L + (Math.max(0, Math.min(span, t)) / span) * (W - L - R);
  const laneY = { agent: T, caller: T + lane + gap };
  let segs = Array.isArray(d.segments) ? d.segments : [];
  // A live call has no segments yet: its utterances are the best guess.
  if (!segs.length) segs = utts.map((u) => ({ speaker: u.speaker, start: u.start, end: u.end }));
  const s = svg('svg', { id: 'timeline-chart', class: 'chart-svg', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Timeline: ${segs.length} speech segments, ${(dyn.dead_air || []).length} dead-air and ${(dyn.overtalk || []).length} overtalk stretches` });
  s.append(svg('defs', {}, svg('pattern', { id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
    svg('line', { class: 'hatch', x1: 0, y1: 0, x2: 0, y2: 6 }))));
  const g = svg('g', {});
  for (const sp of ['agent', 'caller']) {
    g.append(svg('rect', { class: 'lane', x: L, y: laneY[sp], width: W - L - R, height: lane }),
      svg('text', { class: 'lane-label', x: L - 8, y: laneY[sp] + lane / 2 + 4, 'text-anchor': 'end' }, sp === 'agent' ? 'Agent' : 'Caller'));
  }
  timeAxis(g, (t) => x(t).toFixed(1), span, H - B, T);
  s.append(g);
  const full = (cls, a, b, title) => svg('rect', { class: cls, x: x(a).toFixed(1), y: T, width: Math.max(1, x(b) - x(a)).toFixed(1), height: 2 * lane + gap },
    svg('title', {}, title));
  for (const da of dyn.dead_air || []) s.append(full('deadair', da.start, da.end, `dead air ${clock(da.start)}–${clock(da.end)} (${(da.end - da.start).toFixed(1)} s)`));
  for (const gp of d.gaps || []) s.append(full('gap', gp.from, gp.to, `audio missing ${clock(gp.from)}–${clock(gp.to)} (${gp.reason})`));
  for (const sg of segs) {
    if (!laneY.hasOwnProperty(sg.speaker) || !(sg.end > sg.start)) continue;
    s.append(svg('rect', { class: 'seg ' + sg.speaker, x: x(sg.start).toFixed(1), y: laneY[sg.speaker] + 3, width: Math.max(1, x(sg.end) - x(sg.start)).toFixed(1), height: lane - 6 },
      svg('title', {}, `${sg.speaker} ${clock(sg.start)}–${clock(sg.end)}`)));
  }
  for (const ot of dyn.overtalk || []) s.append(full('overtalk', ot.start, ot.end, `overtalk by ${ot.by || '?'} ${clock(ot.start)}–${clock(ot.end)}`));
  const legend = el('p', { class: 'legend' }, el('span', { class: 'key agent' }, 'Agent speaking'), ' ', el('span', { class: 'key caller' }, 'Caller speaking'), ' ',
    el('span', { class: 'key deadair' }, 'Dead air'), ' ', el('span', { class: 'key overtalk' }, 'Overtalk'));
  return [s, legend];
}

function hintList(hints) {
  const ol = $('hints');
  if (!hints.length) { ol.append(el('li', { class: 'muted' }, 'No hints were shown.')); return; }
  const rows = hints.map((h) => {
    let ev = h.event;
    if (typeof ev === 'string') { try { ev = JSON.parse(ev); } catch { ev = {}; } }
    ev = ev || {};
    return { h, ev };
  }).sort((a, b) => (a.ev.t || 0) - (b.ev.t || 0));
  for (const { h, ev } of rows) {
    const fb = h.feedback;
    const fbText = fb ? `${fb.action === 'accept' ? 'Accepted' : 'Dismissed'}${fb.by ? ' by ' + fb.by : ''} at ${fmtTime(fb.at)}` : 'No feedback';
    ol.append(el('li', { class: `hint-row p${ev.priority || 3}`, 'data-hint': h.id },
      el('div', { class: 'hint-head' }, el('time', {}, clock(ev.t)), ' ', el('strong', {}, ev.title || h.id),
        ev.kb ? el('span', { class: 'chip' }, 'KB: ' + ev.kb) : null),
      ev.text ? el('p', {}, ev.text) : null,
      el('p', { class: 'feedback ' + (fb ? fb.action : 'none') }, fbText)));
  }
}
