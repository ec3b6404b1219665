// Call history: GET /v1/calls with the filters in the form (mirrored in the
// page URL, which never holds the token), newest first, a page at a time.

import { api, requireSignIn, clock, el, fmtTime, sentimentClass } from './common.js';

// Bands of the caller's sentiment that the select offers.
const BANDS = { negative: [-1, -0.15], neutral: [-0.15, 0.15], positive: [0.15, 1] };

const claims = requireSignIn(['agent', 'supervisor', 'admin'], '/calls');
if (claims) start(claims);

function start(claims) {
  const $ = (id) => document.getElementById(id);
  const form = $('filters');
  if (claims.role === 'agent') {
    $('f-agent').value = claims.agent;
    $('f-agent').defaultValue = claims.agent;
    $('f-agent').readOnly = true;
  }
  const params = new URLSearchParams(location.search);
  for (const k of ['agent', 'from', 'to', 'category', 'sentiment']) {
    if (params.get(k) && !(k === 'agent' && claims.role === 'agent')) form.elements[k].value = params.get(k);
  }
  let cursor = '';
  let query = '';

  function buildQuery() {
    const q = new URLSearchParams();
    const f = form.elements;
    if (f.agent.value.trim()) q.set('agent', f.agent.value.trim());
    if (f.from.value) q.set('from', new Date(f.from.value + 'T00:00:00').toISOString());
    if (f.to.value) q.set('to', new Date(f.to.value + 'T23:59:59.999').toISOString());
    if (f.category.value.trim()) q.set('category', f.category.value.trim());
    const band = BANDS[f.sentiment.value];
    if (band) { q.set('sentiment_min', band[0]); q.set('sentiment_max', band[1]); }
    q.set('limit', '25');
    return q;
  }

  function row(c) {
    const s = c.sentiment || {};
    return el('tr', {},
      el('td', {}, el('a', { href: '/calls/' + encodeURIComponent(c.id) }, fmtTime(c.started_at) || c.id)),
      el('td', {}, c.agent_id),
      el('td', { class: 'num' }, clock(c.duration_s)),
      el('td', {}, el('span', { class: 'status ' + c.status }, c.status)),
      el('td', { class: 'num ' + sentimentClass(s.caller) }, typeof s.caller === 'number' ? s.caller.toFixed(2) : '–', s.trend ? ` ${s.trend}` : ''),
      el('td', { class: 'num' }, typeof c.talk_ratio === 'number' ? Math.round(c.talk_ratio * 100) + '% agent' : '–'),
      el('td', {}, (c.categories || []).map((x) => el('span', { class: 'chip' }, x))),
      el('td', { class: 'num' }, c.hints || 0),
      el('td', { class: 'num' }, c.alerts || 0));
  }

  async function load(more) {
    if (!more) { cursor = ''; $('rows').replaceChildren(); }
    const q = new URLSearchParams(query);
    if (cursor) q.set('cursor', cursor);
    $('status').textContent = 'Loading…';
    $('more').hidden = true;
    try {
      const page = await api('/v1/calls?' + q.toString());
      const list = (page && page.calls) || [];
      $('rows').append(...list.map(row));
      cursor = (page && page.next_cursor) || '';
      $('more').hidden = !cursor;
      const n = $('rows').children.length;
      $('status').textContent = n ? `${n} call${n === 1 ? '' : 's'}${cursor ? ', more available' : ''}.` : 'No calls match.';
    } catch (e) {
      if (e.status !== 401) $('status').textContent = 'Could not load calls: ' + e.message;
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    query = buildQuery().toString();
    const shown = new URLSearchParams();
    for (const k of ['agent', 'from', 'to', 'category', 'sentiment']) {
      const v = form.elements[k].value;
      if (v && !(k === 'agent' && claims.role === 'agent')) shown.set(k, v);
    }
    history.replaceState(null, '', location.pathname + (shown.toString() ? '?' + shown : ''));
    load(false);
  });
  form.addEventListener('reset', () => setTimeout(() => form.requestSubmit(), 0));
  $('more').addEventListener('click', () => load(true));
  query = buildQuery().toString();
  load(false);
}
