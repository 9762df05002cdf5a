// The value model and XPath 1.0 conversions (boolean(), number(), string())
// (Python: forms/expressions/values.py).
//
// Values seen by the evaluator:
// * number  -> a JS number (IEEE double; string(3) is "3")
// * string  -> a JS string (an empty or missing answer is "")
// * boolean -> a JS boolean
// * date    -> a DateValue (Python: datetime.date); as a number it is the count of days
//              since 1970-01-01
// * nodeset -> a Nodeset (Python: a list subclass) whose `items` are the values above, one
//              per repeat instance, in document order
//
// Anything supplied by a caller (answers, `current`, parameters, choice keys, choice-attr
// results) goes through toValue() first: null/undefined becomes "", a plain array (a
// select_multiple answer) becomes its space-separated string, a geopoint object becomes
// "lat lon altitude accuracy", any other object "".

import { ExpressionEvaluationError } from './errors.js';

/** Values of one field across repeat instances (XPath nodeset). */
export class Nodeset {
  constructor(items = []) {
    this.items = items;
  }

  get length() {
    return this.items.length;
  }

  toString() {
    return `Nodeset(${JSON.stringify(this.items)})`;
  }
}

const MIN_DAYS = -719162; // 0001-01-01
const MAX_DAYS = 2932896; // 9999-12-31

/** A calendar date (proleptic Gregorian, years 1..9999), immutable. */
export class DateValue {
  /** `days`: an integer count of days since 1970-01-01. */
  constructor(days) {
    this.days = days;
    // civil_from_days (H. Hinnant), exact in integers
    const z = days + 719468;
    const era = Math.floor(z / 146097);
    const doe = z - era * 146097;
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    this.day = doy - Math.floor((153 * mp + 2) / 5) + 1;
    this.month = mp < 10 ? mp + 3 : mp - 9;
    this.year = yoe + era * 400 + (this.month <= 2 ? 1 : 0);
    this.iso = `${String(this.year).padStart(4, '0')}-${String(this.month).padStart(2, '0')}-${String(this.day).padStart(2, '0')}`;
    Object.freeze(this);
  }

  /** The date, or null when year/month/day is not a valid date in 1..9999. */
  static fromYMD(year, month, day) {
    if (!(year >= 1 && year <= 9999 && month >= 1 && month <= 12 && day >= 1)) return null;
    if (day > daysInMonth(year, month)) return null;
    return new DateValue(daysFromCivil(year, month, day));
  }

  /** The local calendar date of a JS Date (how a device supplies today()). */
  static fromJsDate(d) {
    return DateValue.fromYMD(d.getFullYear(), d.getMonth() + 1, d.getDate());
  }

  toString() {
    return this.iso;
  }
}

function isLeap(y) {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

function daysInMonth(y, m) {
  if (m === 2) return isLeap(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

// XPath whitespace: space, tab, CR, LF (not the wider Unicode set, so phone and server agree).
export const XPATH_WS = ' \t\r\n';
const WS_SPLIT = /[ \t\r\n]+/;
const NUMBER_RE = /^[ \t\r\n]*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))[ \t\r\n]*$/;
const DATE_RE = /^[ \t\r\n]*([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T[^ \t\r\n]*)?[ \t\r\n]*$/;

const hasOwn = Object.prototype.hasOwnProperty;

/** Own property `key` of a plain object, or undefined (never the prototype's). */
export function getOwn(obj, key) {
  return hasOwn.call(obj, key) ? obj[key] : undefined;
}

/** True for a plain JSON-like object (Python: a Mapping). */
export function isMapping(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Python str.strip(XPATH_WS). */
export function stripWs(s) {
  let i = 0;
  let j = s.length;
  while (i < j && XPATH_WS.indexOf(s[i]) >= 0) i++;
  while (j > i && XPATH_WS.indexOf(s[j - 1]) >= 0) j--;
  return i === 0 && j === s.length ? s : s.slice(i, j);
}

// --------------------------------------------------------------------------- input values

/** Normalise a caller-supplied value into the value model (see the module comment). */
export function toValue(raw) {
  switch (typeof raw) {
    case 'number':
    case 'string':
    case 'boolean':
      return raw;
    case 'undefined':
      return '';
    case 'bigint':
      return Number(raw);
    case 'object':
      break;
    default:
      throw new ExpressionEvaluationError(`unsupported value of type ${typeof raw}`);
  }
  if (raw === null) return '';
  if (raw instanceof DateValue) return raw;
  if (raw instanceof Nodeset) {
    const items = raw.items;
    for (let i = 0; i < items.length; i++) {
      const t = typeof items[i];
      if (!(t === 'number' || t === 'string' || t === 'boolean' || items[i] instanceof DateValue)) {
        return new Nodeset(items.map(toValue));
      }
    }
    return raw;
  }
  if (Array.isArray(raw)) {
    let out = '';
    for (let i = 0; i < raw.length; i++) {
      const m = raw[i];
      if (i > 0) out += ' ';
      out += typeof m === 'string' ? m : toString(toValue(m));
    }
    return out;
  }
  if (raw instanceof Date) {
    throw new ExpressionEvaluationError('unsupported value of type Date (use DateValue)');
  }
  if (isMapping(raw)) {
    if (hasOwn.call(raw, 'lat') && hasOwn.call(raw, 'lon')) {
      const parts = [raw.lat, raw.lon,
        hasOwn.call(raw, 'altitude') ? raw.altitude : 0,
        hasOwn.call(raw, 'accuracy') ? raw.accuracy : 0];
      return parts.map((p) => toString(toValue(p))).join(' ');
    }
    return '';
  }
  throw new ExpressionEvaluationError(`unsupported value of type ${raw.constructor ? raw.constructor.name : 'object'}`);
}

// --------------------------------------------------------------------------- dates

/** 'YYYY-MM-DD' (optionally followed by 'T…' of a datetime) -> DateValue, else null. */
export function parseDate(text) {
  const m = DATE_RE.exec(text);
  if (m === null) return null;
  return DateValue.fromYMD(Number(m[1]), Number(m[2]), Number(m[3]));
}

export function dateToDays(d) {
  return d.days;
}

export function daysToDate(days) {
  if (days !== days || days === Infinity || days === -Infinity) return null;
  const whole = Math.floor(days);
  if (whole < MIN_DAYS || whole > MAX_DAYS) return null;
  return new DateValue(whole);
}

/** date(): a date, or "" when the value is empty or cannot be read as a date. */
export function toDate(v) {
  if (v instanceof DateValue) return v;
  if (v instanceof Nodeset) return toDate(v.items.length ? v.items[0] : '');
  if (typeof v === 'number') {
    const d = daysToDate(v);
    return d === null ? '' : d;
  }
  if (typeof v === 'boolean') return '';
  const d = parseDate(v);
  return d === null ? '' : d;
}

// --------------------------------------------------------------------------- conversions

export function stringToNumber(s) {
  const m = NUMBER_RE.exec(s);
  if (m === null) return NaN;
  return Number(m[1]);
}

export function toNumber(v) {
  switch (typeof v) {
    case 'number':
      return v;
    case 'string':
      return stringToNumber(v);
    case 'boolean':
      return v ? 1 : 0;
    default:
      break;
  }
  if (v instanceof DateValue) return v.days;
  if (v instanceof Nodeset) return v.items.length ? toNumber(v.items[0]) : NaN;
  return toNumber(toValue(v));
}

/**
 * The decimal digits and exponent of |x| in its shortest round-trip form (what
 * String(x) and Python's repr() print): |x| = 0.DIGITS × 10^point.
 */
export function shortestDecimal(x) {
  const s = String(x < 0 ? -x : x);
  let mantissa = s;
  let exp = 0;
  const e = s.indexOf('e');
  if (e >= 0) {
    mantissa = s.slice(0, e);
    exp = Number(s.slice(e + 1));
  }
  const dot = mantissa.indexOf('.');
  let intPart = dot >= 0 ? mantissa.slice(0, dot) : mantissa;
  const fracPart = dot >= 0 ? mantissa.slice(dot + 1) : '';
  let digits = intPart + fracPart;
  let point = intPart.length + exp;
  const lead = digits.search(/[1-9]/);
  if (lead < 0) return { digits: '0', point: 1 };
  digits = digits.slice(lead);
  point -= lead;
  digits = digits.replace(/0+$/, '');
  return { digits, point };
}

/** Plain decimal notation (no exponent) of 0.DIGITS × 10^point, with `sign`. */
function plainDecimal(sign, digits, point) {
  let text;
  if (point <= 0) {
    text = `0.${'0'.repeat(-point)}${digits}`;
  } else if (point >= digits.length) {
    text = digits + '0'.repeat(point - digits.length);
  } else {
    text = `${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  return sign + text;
}

/**
 * XPath string() of a number: NaN, Infinity, -Infinity, integers without a decimal point,
 * otherwise the shortest decimal that reads back as the same double, never in exponent
 * notation.
 */
export function numberToString(x) {
  if (x !== x) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return '0';
  const s = String(x);
  if (s.indexOf('e') < 0) return s;
  const { digits, point } = shortestDecimal(x);
  return plainDecimal(x < 0 ? '-' : '', digits, point);
}

export function toString(v) {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return numberToString(v);
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      break;
  }
  if (v instanceof DateValue) return v.iso;
  if (v instanceof Nodeset) return v.items.length ? toString(v.items[0]) : '';
  return toString(toValue(v));
}

export function toBool(v) {
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'string':
      return v !== '';
    case 'number':
      return v === v && v !== 0;
    default:
      break;
  }
  if (v instanceof Nodeset) return v.items.length > 0;
  if (v instanceof DateValue) return true;
  return toBool(toValue(v));
}

/** The space-separated items of a select_multiple value. */
export function splitSelected(v) {
  let s = typeof v === 'string' ? v : toString(v);
  if (s.indexOf('\t') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) {
    s = stripWs(s);
    return s ? s.split(WS_SPLIT) : [];
  }
  return s.split(' ').filter((item) => item !== '');
}

// --------------------------------------------------------------------------- comparisons

export function scalarEqual(a, b) {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'boolean' || tb === 'boolean') return toBool(a) === toBool(b);
  if (ta === 'number' || tb === 'number') return toNumber(a) === toNumber(b);
  if (a instanceof DateValue && b instanceof DateValue) return a.days === b.days;
  return toString(a) === toString(b);
}

/** Number used by < <= > >=: a string compared with a date is read as a date. */
export function relationalNumber(v, other) {
  if (typeof v === 'string' && other instanceof DateValue) {
    const d = parseDate(v);
    return d === null ? NaN : d.days;
  }
  return toNumber(v);
}

/** XPath comparison, including the existential rule for nodesets. */
export function compare(op, a, b) {
  const aSet = a instanceof Nodeset;
  const bSet = b instanceof Nodeset;
  if (aSet || bSet) {
    if (typeof a === 'boolean' || typeof b === 'boolean') {
      return scalarCompare(op, toBool(a), toBool(b));
    }
    const left = aSet ? a.items : [a];
    const right = bSet ? b.items : [b];
    for (let i = 0; i < left.length; i++) {
      for (let j = 0; j < right.length; j++) {
        if (scalarCompare(op, left[i], right[j])) return true;
      }
    }
    return false;
  }
  return scalarCompare(op, a, b);
}

function scalarCompare(op, a, b) {
  if (op === '=') return scalarEqual(a, b);
  if (op === '!=') return !scalarEqual(a, b);
  const x = relationalNumber(a, b);
  const y = relationalNumber(b, a);
  if (op === '<') return x < y;
  if (op === '<=') return x <= y;
  if (op === '>') return x > y;
  return x >= y;
}

// --------------------------------------------------------------------------- arithmetic

/** IEEE division (±Infinity for x div 0, NaN for 0 div 0): JavaScript's `/` already is. */
export function divide(a, b) {
  return a / b;
}

/** Remainder of truncating division (C fmod): JavaScript's `%` already is; x mod 0 is NaN. */
export function modulo(a, b) {
  return a % b;
}

/** ECMAScript Math.pow, which the Python implementation emulates. */
export function power(a, b) {
  return Math.pow(a, b);
}

// Python returns floats from math.trunc/floor/ceil of a finite value, which are never -0;
// `+ 0` turns JavaScript's -0 into 0 so that 1 div int(-0.5) is Infinity on both.
export function truncate(x) {
  if (x !== x || x === Infinity || x === -Infinity) return x;
  return Math.trunc(x) + 0;
}

export function floor(x) {
  if (x !== x || x === Infinity || x === -Infinity) return x;
  return Math.floor(x) + 0;
}

export function ceiling(x) {
  if (x !== x || x === Infinity || x === -Infinity) return x;
  return Math.ceil(x) + 0;
}

/** Add one to a string of decimal digits. */
function incrementDigits(digits) {
  const chars = digits.split('');
  let i = chars.length - 1;
  while (i >= 0) {
    if (chars[i] === '9') {
      chars[i] = '0';
      i--;
    } else {
      chars[i] = String.fromCharCode(chars[i].charCodeAt(0) + 1);
      return chars.join('');
    }
  }
  return `1${chars.join('')}`;
}

/**
 * round(x, n): the shortest decimal form of x rounded half away from zero at n decimals,
 * then read back as the nearest double (Python: Decimal(repr(x)).quantize(ROUND_HALF_UP)).
 */
export function roundHalfAway(x, digits = 0) {
  if (x !== x || x === Infinity || x === -Infinity || x === 0) return x;
  if (digits !== digits) return NaN;
  const n = Math.trunc(Math.max(-400, Math.min(400, truncate(digits))));
  if (n >= 0 && x === Math.trunc(x)) return x;
  const { digits: ds, point } = shortestDecimal(x);
  // x = ±0.ds × 10^point; keep the digits worth at least 10^-n.
  const keep = point + n;
  if (keep >= ds.length) return x;
  let kept;
  let up;
  if (keep < 0) {
    kept = '0';
    up = false;
  } else {
    kept = keep === 0 ? '0' : ds.slice(0, keep);
    up = ds[keep] >= '5';
  }
  if (up) kept = incrementDigits(kept);
  // A decimal string reads as the correctly rounded double, like Python's int / 10**n.
  return Number(`${x < 0 ? '-' : ''}${kept}e${-n}`);
}
