// DOM helpers. Text always goes in as text nodes: nothing from the server is parsed as HTML.

/** h("div", {class: "x", onclick: fn}, "text", child) → element */
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", "#39": "'", "#x27": "'" };

function decode(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, name) => {
    const low = name.toLowerCase();
    if (low in ENTITIES) return ENTITIES[low];
    if (low.startsWith("#x")) return String.fromCodePoint(parseInt(low.slice(2), 16) || 0xfffd);
    if (low.startsWith("#")) return String.fromCodePoint(parseInt(low.slice(1), 10) || 0xfffd);
    return m;
  });
}

/**
 * Server highlight snippets are HTML-escaped text with only <em> added (store/highlight.py).
 * Rather than trusting that with innerHTML, split on <em>/</em> and build text nodes + <em>
 * elements: any other markup stays visible text, so nothing can execute even if a backend
 * forgot to escape.
 */
export function highlighted(snippet) {
  const frag = document.createDocumentFragment();
  const parts = String(snippet).split(/(<em>|<\/em>)/);
  let inEm = false;
  for (const part of parts) {
    if (part === "<em>") { inEm = true; continue; }
    if (part === "</em>") { inEm = false; continue; }
    if (!part) continue;
    const text = document.createTextNode(decode(part));
    frag.append(inEm ? h("em", {}, text) : text);
  }
  return frag;
}

/** A link only for http(s) URLs; anything else (javascript:, data:) is shown as text. */
export function safeLink(url, label) {
  if (typeof url === "string" && /^https?:\/\//i.test(url)) {
    return h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label || url);
  }
  return h("span", {}, label || url || "");
}

export function toast(message, kind = "info") {
  const el = $("#toast");
  el.textContent = message;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toast._t);
  toast._t = setTimeout(() => { el.hidden = true; }, 4000);
}

export function debounce(fn, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}
