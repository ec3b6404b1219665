// Sign-in: a pasted token is checked with the engine once (GET /v1/calls,
// limit 1) and kept in localStorage; the role in it picks the start page.

import { getToken, setToken, clearToken, decodeClaims, isExpired, homeFor } from './common.js';

const $ = (id) => document.getElementById(id);

// safeNext accepts only a path on this origin, never another site.
function safeNext() {
  const n = new URLSearchParams(location.search).get('next') || '';
  return n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') && !n.startsWith('/signin') ? n : '';
}

function describe() {
  const c = decodeClaims(getToken());
  const p = $('current');
  if (!c) { p.textContent = 'You are not signed in.'; return; }
  const exp = c.exp ? new Date(c.exp * 1000).toLocaleString() : 'never';
  p.replaceChildren(`Signed in as ${c.role}${c.agent ? ' ' + c.agent : ''}; the token ${isExpired(c) ? 'expired' : 'expires'} ${exp}.`);
  if (isExpired(c)) p.className = 'error';
}

async function signIn(e) {
  e.preventDefault();
  const token = $('token').value.trim();
  const err = $('error');
  err.textContent = '';
  const c = decodeClaims(token);
  if (!c || !c.role) { err.textContent = 'This does not look like an Earshot token.'; return; }
  if (isExpired(c)) { err.textContent = `This token expired on ${new Date(c.exp * 1000).toLocaleString()}. Ask for a new one.`; return; }
  if (c.role === 'endpoint') { err.textContent = 'This is an endpoint token for the capture daemon, not for people.'; return; }
  $('signin-button').disabled = true;
  try {
    const res = await fetch('/v1/calls?limit=1', { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store', credentials: 'omit' });
    if (res.status === 401) { err.textContent = 'The engine rejected this token (invalid, expired, or from another engine).'; return; }
  } catch {
    err.textContent = 'The engine cannot be reached right now.';
    return;
  } finally {
    $('signin-button').disabled = false;
  }
  setToken(token);
  location.assign(safeNext() || homeFor(c.role));
}

$('signin-form').addEventListener('submit', signIn);
$('signout').addEventListener('click', () => {
  clearToken();
  $('token').value = '';
  describe();
  $('token').focus();
});
describe();
$('token').focus();
