// The interface language: English, French or Spanish, from the one message
// catalogue in messages.js. The first choice comes from the browser's
// languages; the switch in the header overrides it and is remembered.

import { messages } from './messages.js';

export const LANGS = ['en', 'fr', 'es'];
const KEY = 'forum.lang';

let current = initial();

function initial() {
  try {
    const saved = localStorage.getItem(KEY);
    if (LANGS.includes(saved)) return saved;
  } catch (e) {
    // storage unavailable: fall back on the browser's languages
  }
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

/** The current language code. */
export const lang = () => current;

/** Switches the language (and remembers it). */
export function setLang(l) {
  if (!LANGS.includes(l)) return;
  current = l;
  try {
    localStorage.setItem(KEY, l);
  } catch (e) {
    // not remembered; still switched
  }
  apply();
}

/** Sets <html lang> to the current language. */
export function apply() {
  document.documentElement.lang = current;
  document.documentElement.dir = 'ltr';
}

/**
 * The message `key` in the current language, with {name} placeholders
 * filled from params. A message with plural forms ({one, other}) is chosen
 * by params.n.
 */
export function t(key, params) {
  let m = messages[current][key];
  if (m === undefined) m = messages.en[key];
  if (m === undefined) return key;
  if (typeof m === 'object') {
    const form = new Intl.PluralRules(current).select(Number((params && params.n) || 0));
    m = m[form] !== undefined ? m[form] : m.other;
  }
  if (!params) return m;
  return m.replace(/\{(\w+)\}/g, (all, k) => (params[k] !== undefined ? String(k === 'n' ? fmtNumber(params[k]) : params[k]) : all));
}

/** A date and time in the current language. */
export function fmtDate(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  return new Intl.DateTimeFormat(current, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/** A number in the current language. */
export const fmtNumber = (n) => new Intl.NumberFormat(current).format(Number(n) || 0);

/** The name of a country (ISO 3166-1 alpha-2) in the current language. */
export function regionName(code) {
  try {
    return new Intl.DisplayNames([current], { type: 'region' }).of(code) || code;
  } catch (e) {
    return code;
  }
}

/** The name of a language (BCP 47) in the current language. */
export function languageName(tag) {
  try {
    return new Intl.DisplayNames([current], { type: 'language' }).of(tag) || tag;
  } catch (e) {
    return tag;
  }
}
