// Number, size, speed and duration formatting (locale-aware through i18n).
import { t, currentLanguage } from './i18n.js';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function bytes(n) {
  if (!Number.isFinite(n) || n < 0) return '–';
  let i = 0;
  while (n >= 1000 && i < UNITS.length - 1) { n /= 1000; i++; }
  const digits = i === 0 || n >= 100 ? 0 : n >= 10 ? 1 : 2;
  return `${n.toFixed(digits)} ${UNITS[i]}`;
}

export function speed(bps) { return `${bytes(bps)}/s`; }

export function bitrate(bitsPerSec) {
  if (!Number.isFinite(bitsPerSec)) return '–';
  if (bitsPerSec >= 1e6) return `${(bitsPerSec / 1e6).toFixed(2)} Mbit/s`;
  return `${Math.round(bitsPerSec / 1e3)} kbit/s`;
}

/** 75 → "1:15", 3725 → "1:02:05" */
export function clock(totalSec) {
  const s = Math.max(0, Math.floor(totalSec));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const p = (x) => String(x).padStart(2, '0');
  return hh ? `${hh}:${p(mm)}:${p(ss)}` : `${mm}:${p(ss)}`;
}

/** Rough human duration for "time left". */
export function duration(sec) {
  if (!Number.isFinite(sec)) return '–';
  sec = Math.max(0, Math.round(sec));
  if (sec < 60) return t('time.seconds', { n: sec });
  if (sec < 3600) return t('time.minutes', { m: Math.floor(sec / 60), s: sec % 60 });
  return t('time.hours', { h: Math.floor(sec / 3600), m: Math.floor((sec % 3600) / 60) });
}

export function timeOfDay(ms) {
  try {
    return new Date(ms).toLocaleTimeString(currentLanguage(), { hour: '2-digit', minute: '2-digit' });
  } catch { return ''; }
}

/** When something happened: the time today, else the date and time. */
export function when(ms) {
  if (!Number.isFinite(ms)) return '';
  try {
    const d = new Date(ms);
    if (d.toDateString() === new Date().toDateString()) return timeOfDay(ms);
    return d.toLocaleString(currentLanguage(), { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  } catch { return ''; }
}
