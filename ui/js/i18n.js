// String lookup. Language = Settings.language unless "auto" → navigator.language.
import en from '../i18n/en.js';
import ko from '../i18n/ko.js';

const tables = { en, ko };
let lang = 'en';
const listeners = new Set();

export function resolveLanguage(setting) {
  if (setting === 'en' || setting === 'ko') return setting;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
  return nav.toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

export function currentLanguage() { return lang; }

/** Switches the language; returns true if it changed. */
export function setLanguage(setting) {
  const next = resolveLanguage(setting);
  document.documentElement.lang = next;
  if (next === lang) return false;
  lang = next;
  for (const f of listeners) f(lang);
  return true;
}

export function onLanguageChange(f) { listeners.add(f); }

/** t('transfer.left', { time: '3 s' }) — falls back to English, then the key. */
export function t(key, params) {
  let s = tables[lang][key] ?? en[key];
  if (s === undefined) {
    console.warn('missing string', key);
    return key;
  }
  if (params) s = s.replace(/\{(\w+)\}/g, (m, p) => (p in params ? String(params[p]) : m));
  return s;
}

document.documentElement.lang = lang;
