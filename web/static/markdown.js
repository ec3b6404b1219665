// A deliberately small Markdown renderer for knowledge-base articles:
// headings, bullet and numbered lists, paragraphs and **bold**. It builds
// DOM nodes and only ever creates text nodes from the source, so HTML in
// an article shows as text and can never run.

import { el } from './common.js';

// inline turns "**bold**" spans into <strong>; everything else is text.
function inline(text) {
  const out = [];
  const parts = text.split('**');
  // An odd number of parts means every ** has a partner.
  const paired = parts.length % 2 === 1;
  parts.forEach((p, i) => {
    if (i % 2 === 1 && paired) out.push(el('strong', {}, p));
    else out.push((i > 0 && !paired ? '**' : '') + p);
  });
  return out.filter((x) => x !== '');
}

// render returns a DocumentFragment for md. Headings are shifted down by
// `shift` levels (an article shown inside a card starts at h3).
export function render(md, shift = 2) {
  const frag = document.createDocumentFragment();
  const lines = String(md || '').replace(/\r\n?/g, '\n').split('\n');
  // Front matter, if the article still has it, is metadata, not content.
  if (lines[0] === '---') {
    const end = lines.indexOf('---', 1);
    if (end > 0) lines.splice(0, end + 1);
  }
  let para = [];
  let list = null;
  const flushPara = () => {
    if (para.length) frag.append(el('p', {}, inline(para.join(' '))));
    para = [];
  };
  const flushList = () => {
    if (list) frag.append(list);
    list = null;
  };
  for (const raw of lines) {
    const line = raw.trimEnd();
    let m;
    if (!line.trim()) { flushPara(); flushList(); continue; }
    if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      flushPara(); flushList();
      const level = Math.min(6, m[1].length + shift);
      frag.append(el('h' + level, {}, inline(m[2].replace(/\s#+$/, ''))));
      continue;
    }
    if ((m = /^\s*([-*+])\s+(.*)$/.exec(line)) || (m = /^\s*(\d+)[.)]\s+(.*)$/.exec(line))) {
      flushPara();
      const tag = /\d/.test(m[1]) ? 'ol' : 'ul';
      if (!list || list.tagName.toLowerCase() !== tag) { flushList(); list = el(tag); }
      list.append(el('li', {}, inline(m[2])));
      continue;
    }
    if (list && /^\s+\S/.test(raw)) {
      // An indented continuation of the last list item.
      list.lastElementChild.append(' ', ...inline(line.trim()));
      continue;
    }
    flushList();
    para.push(line.trim());
  }
  flushPara();
  flushList();
  return frag;
}
