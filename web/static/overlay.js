// The agent overlay: follows the signed-in agent's current call over
// /v1/live?agent=ID and shows its transcript, the caller's sentiment,
// conversation warnings and hint cards with feedback buttons.

import { api, requireSignIn, clock, el } from './common.js';
import { Live, CallClock, statusBadge } from './live.js';
import { Transcript, SentimentGauge, Warnings, Hints } from './components.js';

const claims = requireSignIn(['agent', 'admin'], '/overlay');
if (claims) start(claims);

function start(claims) {
  const agent = claims.agent || new URLSearchParams(location.search).get('agent');
  if (!agent) {
    document.querySelector('main').replaceChildren(el('section', { class: 'notice', role: 'alert' },
      el('h1', {}, 'Which agent?'),
      el('p', {}, 'Your token has no agent id. Open this page as /overlay?agent=ID to follow an agent.')));
    return;
  }
  const $ = (id) => document.getElementById(id);
  const callClock = new CallClock();
  const transcript = new Transcript($('transcript'), { follow: true });
  const gauge = new SentimentGauge($('gauge'));
  const warnings = new Warnings($('warnings'), callClock);
  // When the last open hint is answered, focus goes to the transcript.
  const hints = new Hints($('hints'), { announce: $('announce'), focusAfter: $('transcript') });
  const state = { call: '', ended: true, startedAt: null };

  const noHints = () => { $('no-hints').hidden = $('hints').children.length > 0; };
  new MutationObserver(noHints).observe($('hints'), { childList: true });

  function show(callId) {
    state.call = callId;
    state.ended = false;
    transcript.clear();
    gauge.reset();
    warnings.reset();
    hints.reset(callId);
    callClock.t = 0; callClock.at = 0;
    $('call-state').textContent = `On call ${callId}`;
    document.body.dataset.call = callId;
  }

  function onEvent(ev) {
    if (!ev.call_id) return;
    if (ev.call_id !== state.call) {
      // A new call replaces a finished one; a second simultaneous call of
      // the same agent (rare: a transfer) does not steal the view.
      if (!state.ended && ev.type !== 'call.started') return;
      show(ev.call_id);
    }
    callClock.observe(ev.t);
    switch (ev.type) {
      case 'call.started':
        break;
      case 'transcript.partial':
        transcript.partial(ev);
        warnings.speech();
        break;
      case 'transcript.final':
        transcript.final(ev);
        warnings.speech();
        break;
      case 'sentiment':
        gauge.update(ev);
        break;
      case 'dynamics':
        warnings.dynamics(ev);
        break;
      case 'hint':
        hints.add(ev);
        break;
      case 'call.ended':
        state.ended = true;
        callClock.observe(ev.duration_s);
        callClock.freeze();
        warnings.ended();
        hints.end();
        $('call-state').textContent = `Call ended (${ev.reason || 'end'})`;
        document.body.dataset.ended = '1';
        break;
    }
    if (ev.type !== 'call.ended') delete document.body.dataset.ended;
    // Hints age out by call time, so a replayed call ages them as it ran.
    hints.expire(callClock.now());
  }

  const ticker = setInterval(() => {
    const c = $('call-clock');
    if (!c) { clearInterval(ticker); return; } // the page was replaced by the sign-in notice
    c.textContent = clock(callClock.now());
    hints.expire(callClock.now());
  }, 250);

  const onStatus = statusBadge($('conn'));

  (async () => {
    // A call already in progress when the page opens is shown from its
    // start: resuming from seq 0 replays the engine's buffer of it.
    const resume = {};
    try {
      const page = await api(`/v1/calls?agent=${encodeURIComponent(agent)}&status=live&limit=1`);
      if (page && page.calls && page.calls.length) resume[page.calls[0].id] = 0;
    } catch (e) {
      if (e.status === 401) return;
    }
    new Live({ query: 'agent=' + encodeURIComponent(agent), resume, onEvent, onStatus }).start();
  })();

  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    const top = hints.top();
    if (!top) return;
    if (e.key === 'a') { e.preventDefault(); hints.feedback(top.ev.id, 'accept'); }
    else if (e.key === 'd') { e.preventDefault(); hints.feedback(top.ev.id, 'dismiss'); }
    else if (e.key === 'k') {
      const b = top.li.querySelector('button.link');
      if (b) { e.preventDefault(); b.click(); b.focus(); }
    }
  });
}
