// The composer's preview: the common parts of Markdown (paragraphs,
// headings, lists, quotes, code, bold, italics, links) shown with light
// formatting. It builds elements and text nodes only: the text is never
// parsed as HTML, and links are shown as text, not followed. What is
// published is rendered and sanitised by the server (body_html).

import { h } from './dom.js';

const BLOCK = /^(\s*$|```|#{1,6}\s|\s*>|\s*([-*+]|\d+[.)])\s)/;

/** A DocumentFragment previewing the Markdown source src. */
export function preview(src) {
  const frag = document.createDocumentFragment();
  const lines = String(src || '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (/^\s*$/.test(line)) {
      i++;
    } else if (/^```/.test(line)) {
      const code = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) code.push(lines[i]);
      i++;
      frag.append(h('pre', null, h('code', null, code.join('\n'))));
    } else if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      frag.append(h('p', { class: 'md-h', dir: 'auto' }, h('strong', null, inline(m[2]))));
      i++;
    } else if (/^\s*>/.test(line)) {
      const quoted = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) quoted.push(lines[i].replace(/^\s*> ?/, ''));
      frag.append(h('blockquote', { dir: 'auto' }, preview(quoted.join('\n'))));
    } else if ((m = /^\s*([-*+]|\d+[.)])\s/.exec(line))) {
      const ordered = /\d/.test(m[1]);
      const items = [];
      for (; i < lines.length && (m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i])); i++) items.push(m[2]);
      frag.append(h(ordered ? 'ol' : 'ul', { dir: 'auto' }, items.map((it) => h('li', null, inline(it)))));
    } else {
      const para = [];
      for (; i < lines.length && (para.length === 0 || !BLOCK.test(lines[i])); i++) para.push(lines[i].trim());
      frag.append(h('p', { dir: 'auto' }, inline(para.join(' '))));
    }
  }
  return frag;
}

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*|__[^_]+__)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(!?\[[^\]]*\]\([^)]*\))/;

/** Inline Markdown as a list of nodes and strings. */
function inline(text) {
  const out = [];
  let rest = text;
  let m;
  while ((m = INLINE.exec(rest))) {
    if (m.index) out.push(rest.slice(0, m.index));
    const s = m[0];
    if (m[1]) out.push(h('code', null, s.slice(1, -1)));
    else if (m[2]) out.push(h('strong', null, inline(s.slice(2, -2))));
    else if (m[3]) out.push(h('em', null, inline(s.slice(1, -1))));
    else {
      const lm = /^!?\[([^\]]*)\]\(([^)\s]*)/.exec(s);
      out.push(h('span', { class: 'md-link' }, lm[1] || lm[2]), lm[2] && lm[1] ? h('span', { class: 'md-url' }, ` (${lm[2]})`) : null);
    }
    rest = rest.slice(m.index + s.length);
  }
  if (rest) out.push(rest);
  return out;
}
