// Message catalogues (i18n/vi.json, i18n/en.json) and the Vietnamese way of writing numbers,
// money and dates. Vietnamese first; the English switch is remembered on the phone.

const catalogues = {};
let current = 'vi';

export async function loadLanguages() {
  const [vi, en] = await Promise.all(['vi', 'en'].map((lang) =>
    fetch(`/app/i18n/${lang}.json`).then((r) => r.json())));
  catalogues.vi = vi;
  catalogues.en = en;
}

export function setLanguage(lang) {
  current = lang === 'en' ? 'en' : 'vi';
  document.documentElement.lang = current;
}

export function language() {
  return current;
}

// t('home.count', {n: 3}) -> the message with {n} replaced; the key itself if it is missing
// (visible in tests and screenshots rather than silently blank).
export function t(key, values = {}) {
  const message = catalogues[current]?.[key] ?? catalogues.vi?.[key] ?? key;
  return String(message).replace(/\{(\w+)\}/g, (whole, name) =>
    (values[name] === undefined || values[name] === null ? whole : String(values[name])));
}

const VN_TIME = 'Asia/Ho_Chi_Minh';

export function formatNumber(value, digits = 0) {
  return new Intl.NumberFormat('vi-VN', { maximumFractionDigits: digits }).format(value);
}

export function formatMoney(value) {
  return `${formatNumber(Math.round(value))} đ`;
}

function parts(date) {
  const out = {};
  for (const p of new Intl.DateTimeFormat('en-GB', { timeZone: VN_TIME, year: 'numeric', month: '2-digit',
    day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(date)) out[p.type] = p.value;
  return out;
}

// 29/11/2026 and 29/11/2026 14:05, always in Vietnam time whatever the phone's zone.
export function formatDate(value) {
  if (!value) return '';
  const p = parts(new Date(value));
  return `${p.day}/${p.month}/${p.year}`;
}

export function formatDateTime(value) {
  if (!value) return '';
  const p = parts(new Date(value));
  return `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}`;
}

// An ISO time with the +07:00 offset (how visits are stamped: the supervisor reads local time).
export function isoVietnam(date) {
  const p = parts(date);
  const seconds = String(new Date(date).getUTCSeconds()).padStart(2, '0');
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${seconds}+07:00`;
}
