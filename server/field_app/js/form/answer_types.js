// Answer value types: the JSON shape each field type accepts and its normal form.
// The twin of forms/answer_types.py: the phone must accept exactly what the server accepts,
// so a household that looks complete on the phone is never rejected for its shape.
// tests/js/form_engine.test.mjs proves the two agree on the bundled cases.

export const MAX_SAFE_INTEGER = 2 ** 53 - 1;
export const MAX_TEXT_LENGTH = 10000;
export const MAX_SELECTED = 1000;

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$/;
const IMAGE_RE = /^sha256:([0-9a-fA-F]{64})$/;
const GEOPOINT_KEYS = new Set(['lat', 'lon', 'accuracy', 'altitude']);

export class AnswerTypeError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** No answer: absent, null, empty text or an empty selection. */
export function isEmpty(value) {
  return value === null || value === undefined || value === '' || (Array.isArray(value) && value.length === 0);
}

function kind(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'string') return 'text';
  if (Array.isArray(value)) return 'a list';
  return 'an object';
}

// Most answers are plain ASCII (codes, choice values): normalise only the others, as Python does.
const NON_ASCII = /[^\x00-\x7f]/;
const nfc = (s) => (NON_ASCII.test(s) ? s.normalize('NFC') : s);
// Python's repr of a string (the messages quote values as the server's do).
export function pyRepr(text) {
  if (text.includes("'") && !text.includes('"')) return `"${text}"`;
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
// Python's repr of a float (the bounds in the messages are floats there: 90.0).
const pyFloat = (x) => (Number.isInteger(x) ? x.toFixed(1) : String(x));

function checkText(value) {
  if (typeof value !== 'string') throw new AnswerTypeError('invalid_type', `expected text, got ${kind(value)}`);
  // Python counts code points; so do we.
  if (value.length > MAX_TEXT_LENGTH && [...value].length > MAX_TEXT_LENGTH) {
    throw new AnswerTypeError('too_many', `text longer than ${MAX_TEXT_LENGTH} characters`);
  }
  return nfc(value);
}

function checkInteger(value) {
  if (typeof value !== 'number') throw new AnswerTypeError('invalid_type', `expected an integer, got ${kind(value)}`);
  if (!Number.isInteger(value)) throw new AnswerTypeError('invalid_type', `expected an integer, got ${value}`);
  if (Math.abs(value) > MAX_SAFE_INTEGER) {
    throw new AnswerTypeError('invalid_value', 'integer out of range (|n| must be < 2**53)');
  }
  return value === 0 ? 0 : value;
}

function checkDecimal(value) {
  if (typeof value !== 'number') throw new AnswerTypeError('invalid_type', `expected a number, got ${kind(value)}`);
  if (!Number.isFinite(value)) throw new AnswerTypeError('invalid_value', 'number must be finite');
  if (Number.isInteger(value) && Math.abs(value) > MAX_SAFE_INTEGER) {
    // JSON cannot tell 1e16 from 10000000000000000; Python reads the latter as an int and refuses it.
    throw new AnswerTypeError('invalid_value', 'number out of range (|n| must be < 2**53)');
  }
  return value;
}

function validDate(text) {
  const [y, m, d] = text.split('-').map(Number);
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const days = [31, (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return d <= days[m - 1];
}

function checkDate(value) {
  if (typeof value !== 'string') throw new AnswerTypeError('invalid_type', `expected a date 'YYYY-MM-DD', got ${kind(value)}`);
  if (!DATE_RE.test(value)) throw new AnswerTypeError('invalid_value', `expected a date 'YYYY-MM-DD', got ${pyRepr(value.slice(0, 40))}`);
  if (!validDate(value)) throw new AnswerTypeError('invalid_value', `no such date: ${pyRepr(value)}`);
  return value;
}

function checkDatetime(value) {
  if (typeof value !== 'string') throw new AnswerTypeError('invalid_type', `expected an ISO 8601 date-time, got ${kind(value)}`);
  if (!DATETIME_RE.test(value)) {
    throw new AnswerTypeError('invalid_value',
      `expected an ISO 8601 date-time with offset (2026-09-01T08:30:00+07:00), got ${pyRepr(value.slice(0, 40))}`);
  }
  const [h, mi, s] = value.slice(11, 19).split(':').map((x) => Number(x || 0));
  if (!validDate(value.slice(0, 10)) || h > 23 || mi > 59 || s > 59) {
    throw new AnswerTypeError('invalid_value', `no such date-time: ${pyRepr(value)}`);
  }
  const offset = value.match(/([+-])(\d{2}):(\d{2})$/);
  if (offset && (Number(offset[2]) > 23 || Number(offset[3]) > 59)) {
    throw new AnswerTypeError('invalid_value', `no such date-time: ${pyRepr(value)}`);
  }
  return value;
}

function checkSelectOne(value) {
  if (typeof value !== 'string') throw new AnswerTypeError('invalid_type', `expected a choice value (text), got ${kind(value)}`);
  return nfc(value);
}

function checkSelectMultiple(value) {
  if (!Array.isArray(value)) throw new AnswerTypeError('invalid_type', `expected a list of choice values, got ${kind(value)}`);
  if (value.length > MAX_SELECTED) throw new AnswerTypeError('too_many', `more than ${MAX_SELECTED} values selected`);
  const out = [];
  for (const item of value) {
    if (typeof item !== 'string') throw new AnswerTypeError('invalid_type', `expected choice values (text), got ${kind(item)}`);
    out.push(nfc(item));
  }
  if (new Set(out).size !== out.length) throw new AnswerTypeError('duplicate_value', 'a value is selected more than once');
  return out;
}

function coordinate(point, key, low, high, required) {
  const v = point[key];
  if (v === null || v === undefined) {
    if (required) throw new AnswerTypeError('invalid_value', `geopoint lacks '${key}'`);
    return null;
  }
  if (typeof v !== 'number') throw new AnswerTypeError('invalid_type', `geopoint '${key}' must be a number, got ${kind(v)}`);
  if (!Number.isFinite(v) || v < low || v > high) {
    throw new AnswerTypeError('invalid_value', `geopoint '${key}' must be within [${pyFloat(low)}, ${pyFloat(high)}], got ${v}`);
  }
  return v;
}

function checkGeopoint(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AnswerTypeError('invalid_type', `expected a geopoint {lat, lon, accuracy?, altitude?}, got ${kind(value)}`);
  }
  const extra = Object.keys(value).filter((k) => !GEOPOINT_KEYS.has(k)).sort();
  if (extra.length) throw new AnswerTypeError('invalid_value', `geopoint has unknown keys: ${extra.join(', ')}`);
  const out = { lat: coordinate(value, 'lat', -90, 90, true), lon: coordinate(value, 'lon', -180, 180, true) };
  const accuracy = coordinate(value, 'accuracy', 0, 1e7, false);
  if (accuracy !== null) out.accuracy = accuracy;
  // Dead Sea shore to above Everest, with margin for GPS error.
  const altitude = coordinate(value, 'altitude', -1000, 10000, false);
  if (altitude !== null) out.altitude = altitude;
  return out;
}

function checkImage(value) {
  if (typeof value !== 'string') {
    throw new AnswerTypeError('invalid_type', `expected an attachment reference 'sha256:<hex>', got ${kind(value)}`);
  }
  const m = IMAGE_RE.exec(value);
  if (!m) throw new AnswerTypeError('invalid_value', "expected an attachment reference 'sha256:' + 64 hex digits");
  return `sha256:${m[1].toLowerCase()}`;
}

export const CHECKERS = Object.freeze({
  text: checkText,
  integer: checkInteger,
  decimal: checkDecimal,
  date: checkDate,
  datetime: checkDatetime,
  select_one: checkSelectOne,
  select_multiple: checkSelectMultiple,
  geopoint: checkGeopoint,
  image: checkImage,
});
