// Shared helpers: the stored token, authenticated REST, safe DOM building,
// the page header and the "please sign in again" notice.
//
// The token lives in localStorage under TOKEN_KEY and goes to the engine
// only in an Authorization header or the live socket's first message,
// never in a URL. Its payload is decoded here only to choose what to show;
// the engine checks every request.

export const TOKEN_KEY = 'earshot.token';

export function getToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}
export function setToken(t) { localStorage.setItem(TOKEN_KEY, t); }
export function clearToken() { localStorage.removeItem(TOKEN_KEY); }

// decodeClaims returns a JWT's payload object, or null when the token is
// not shaped like a JWT. It does not verify anything.
export function decodeClaims(token) {
  const parts = (token || '').trim().split('.');
  if (parts.length !== 3) return null;
  try {
    let b = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    while (b.length % 4) b += '=';
    const bytes = Uint8Array.from(atob(b), (c) => c.charCodeAt(0));
    const c = JSON.parse(new TextDecoder().decode(bytes));
    return c && typeof c === 'object' ? c : null;
  } catch {
    return null;
  }
}

export function isExpired(claims) {
  return !!claims && typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now();
}

// homeFor is the page a role starts on.
export function homeFor(role) {
  return role === 'agent' ? '/overlay' : '/supervisor';
}

// AuthError is thrown by api() for 401 and 403 answers.
export class AuthError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// api fetches an engine API path with the stored token. It resolves to the
// parsed JSON (or null for 204) and rejects with AuthError on 401/403 and
// Error with the engine's message otherwise. A 401 also shows the sign-in
// notice, because nothing on the page can work without a valid token.
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Authorization: 'Bearer ' + getToken() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store', credentials: 'omit',
  });
  if (res.status === 401) {
    showAuthProblem('The engine rejected your sign-in token (HTTP 401): it is invalid or has expired.');
    throw new AuthError(401, 'unauthorized');
  }
  if (res.status === 403) throw new AuthError(403, 'Your role may not see this.');
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw new Error((data && data.error) || `HTTP ${res.status}`);
  return data;
}

// el builds an element. Strings and numbers become text nodes, so text
// from the engine can never become markup. attrs: class, text, on* (a
// listener), anything else an attribute (false/null skipped).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVGNS = 'http://www.w3.org/2000/svg';

// svg builds an SVG element the same way.
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  setAttrs(e, attrs);
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}

// clock formats seconds as m:ss (or h:mm:ss).
export function clock(s) {
  s = Math.max(0, Math.floor(s || 0));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return (h ? h + ':' : '') + mm + ':' + String(sec).padStart(2, '0');
}

// trendWord names a caller's sentiment trend. Live sentiment events carry
// it as a number (the change over the call so far), summaries as a word;
// the thresholds are the engine's (engine/record.go trendWord).
export function trendWord(trend) {
  if (typeof trend === 'string') return trend;
  if (typeof trend !== 'number') return '';
  if (trend >= 0.15) return 'improving';
  if (trend <= -0.15) return 'worsening';
  return 'steady';
}

export function sentimentClass(score) {
  if (typeof score !== 'number') return 'neutral';
  if (score <= -0.15) return 'negative';
  if (score >= 0.15) return 'positive';
  return 'neutral';
}

// mountHeader fills the page's <header> with navigation for the role.
export function mountHeader(claims, current) {
  const h = document.querySelector('header.top');
  if (!h) return;
  h.replaceChildren();
  h.append(el('a', { class: 'brand', href: claims ? homeFor(claims.role) : '/signin' }, 'Earshot'));
  const nav = el('nav', { 'aria-label': 'Pages' });
  const links = [];
  if (claims && (claims.role === 'agent' || claims.role === 'admin')) links.push(['/overlay', 'My call']);
  if (claims && (claims.role === 'supervisor' || claims.role === 'admin')) links.push(['/supervisor', 'Live wall']);
  if (claims && claims.role !== 'endpoint') links.push(['/calls', 'History']);
  for (const [href, label] of links) {
    nav.append(el('a', { href, 'aria-current': href === current ? 'page' : null }, label));
  }
  nav.append(el('a', { href: '/signin' }, claims ? 'Sign out' : 'Sign in'));
  h.append(nav);
  if (claims) h.append(el('span', { class: 'who' }, claims.agent ? `${claims.role} ${claims.agent}` : claims.role));
}

let authShown = false;

// showAuthProblem replaces the page's main content with a clear notice and
// a way to sign in again. Later calls keep the first message.
export function showAuthProblem(message) {
  if (authShown) return;
  authShown = true;
  document.body.classList.add('auth-problem');
  mountHeader(null, ''); // the token's role no longer counts
  const main = document.querySelector('main');
  const next = location.pathname + location.search;
  const box = el('section', { class: 'notice', role: 'alert', id: 'auth-problem' },
    el('h1', {}, 'Please sign in again'),
    el('p', {}, message),
    el('p', {}, el('a', { class: 'button primary', href: '/signin?next=' + encodeURIComponent(next), id: 'signin-again' }, 'Sign in')));
  main.replaceChildren(box);
  const a = box.querySelector('a');
  if (a) a.focus();
  document.dispatchEvent(new CustomEvent('earshot:auth-problem'));
}

// requireSignIn returns the stored token's claims when the token exists,
// is unexpired and has one of roles; otherwise it shows why and returns null.
export function requireSignIn(roles, current) {
  const token = getToken();
  const claims = decodeClaims(token);
  mountHeader(claims && !isExpired(claims) ? claims : null, current);
  if (!token) {
    showAuthProblem('You are not signed in. Paste your Earshot token to continue.');
    return null;
  }
  if (!claims) {
    showAuthProblem('The stored sign-in token is not a valid token.');
    return null;
  }
  if (isExpired(claims)) {
    showAuthProblem(`Your sign-in token expired on ${new Date(claims.exp * 1000).toLocaleString()}.`);
    return null;
  }
  if (roles && !roles.includes(claims.role)) {
    const main = document.querySelector('main');
    main.replaceChildren(el('section', { class: 'notice', role: 'alert' },
      el('h1', {}, 'Not available for your role'),
      el('p', {}, `This page is not for the ${claims.role} role.`),
      el('p', {}, el('a', { class: 'button', href: homeFor(claims.role) }, 'Go to your page'))));
    return null;
  }
  return claims;
}

// fmtTime shows an RFC 3339 time in the browser's locale.
export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? '' : d.toLocaleString();
}
