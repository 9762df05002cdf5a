// Why a household got its classification, computed on the phone: the twin of forms/reasons.py
// (explain). The enumerator reads the same reasons before finalising that the commune reads
// at the village meeting, so this follows the Python module line by line: data-driven by the
// form's `outputs` and `reasons` mapping (never by field names written here), with the
// supplements shipped for the versions published before `reasons` existed
// (./supplements.js, generated from forms/bundled/reasons/). tests/js/form_engine.test.mjs
// compares the whole explanation, sentences included, with Python's on every bundled case.

import { SUPPLEMENTS } from './supplements.js';
import { textIn } from './engine.js';

export const LANGUAGES = ['vi', 'en'];

const CLASS = {
  vi: {
    poor: 'Hộ nghèo', near_poor: 'Hộ cận nghèo', average: 'Hộ có mức sống trung bình',
    not_poor: 'Hộ không nghèo, không cận nghèo',
  },
  en: {
    poor: 'Poor household', near_poor: 'Near-poor household',
    average: 'Household with an average living standard', not_poor: 'Neither poor nor near-poor',
  },
};
const AREA = { vi: { rural: 'khu vực nông thôn', urban: 'khu vực thành thị' }, en: { rural: 'rural', urban: 'urban' } };
const MESSAGES = {
  vi: {
    income: 'Thu nhập bình quân đầu người/tháng {income} đồng, {cmp} {line_name} {line} đồng{standard}.',
    income_only: 'Thu nhập bình quân đầu người/tháng {income} đồng.',
    at_or_below: 'không vượt',
    above: 'cao hơn',
    line_name: 'chuẩn nghèo {area}',
    line_name_province: 'chuẩn nghèo {area} do tỉnh quy định',
    national: 'chuẩn quốc gia {line} đồng',
    average_band: 'Thu nhập {income} đồng/người/tháng, trên chuẩn nghèo và không vượt chuẩn mức sống '
      + 'trung bình {line} đồng.',
    average_in: 'Là hộ làm nông nghiệp, lâm nghiệp, ngư nghiệp hoặc diêm nghiệp; thu nhập không gồm trợ cấp, '
      + 'trợ giúp xã hội từ ngân sách nhà nước là {income} đồng/người/tháng, trên chuẩn nghèo và không '
      + 'vượt chuẩn mức sống trung bình {line} đồng.',
    average_not_farm: 'Không phải hộ làm nông nghiệp, lâm nghiệp, ngư nghiệp hoặc diêm nghiệp nên không xét '
      + 'mức sống trung bình.',
    average_above: 'Thu nhập không gồm trợ cấp, trợ giúp xã hội từ ngân sách nhà nước là {income} '
      + 'đồng/người/tháng, cao hơn chuẩn mức sống trung bình {line} đồng.',
    average_below: 'Thu nhập không gồm trợ cấp, trợ giúp xã hội từ ngân sách nhà nước là {income} '
      + 'đồng/người/tháng, không cao hơn chuẩn nghèo nên không thuộc khoảng mức sống trung bình.',
    average_above_plain: 'Thu nhập {income} đồng/người/tháng, cao hơn chuẩn mức sống trung bình {line} đồng.',
    average_unpublished: 'Chuẩn mức sống trung bình của giai đoạn này chưa được công bố nên không xét.',
    no_deprivation: 'Không thiếu hụt chỉ số nào.',
    deprivations: 'Thiếu hụt {count} chỉ số: {items}.',
    deprivations_poor: 'Thiếu hụt {count} chỉ số (từ {threshold} chỉ số trở lên là hộ nghèo): {items}.',
    deprivations_near_poor: 'Thiếu hụt {count} chỉ số (dưới {threshold} chỉ số nên chưa là hộ nghèo){items}.',
    not_given: 'không ghi',
    yes: 'có',
    no: 'không',
  },
  en: {
    income: 'Income per person per month {income} VND, {cmp} the {line_name} of {line} VND{standard}.',
    income_only: 'Income per person per month {income} VND.',
    at_or_below: 'at or below',
    above: 'above',
    line_name: '{area} poverty line',
    line_name_province: '{area} poverty line set by the province',
    national: 'national line {line} VND',
    average_band: 'Income of {income} VND per person per month is above the poverty line and at or below '
      + 'the average living standard line of {line} VND.',
    average_in: 'A farm, forestry, fishery or salt-making household whose income without state social '
      + 'allowances, {income} VND per person per month, is above the poverty line and at or below '
      + 'the average living standard line of {line} VND.',
    average_not_farm: 'Not a farm, forestry, fishery or salt-making household, so the average living '
      + 'standard is not judged.',
    average_above: 'Income without state social allowances, {income} VND per person per month, is above '
      + 'the average living standard line of {line} VND.',
    average_below: 'Income without state social allowances, {income} VND per person per month, is not '
      + 'above the poverty line, so it is outside the average living standard band.',
    average_above_plain: 'Income of {income} VND per person per month is above the average living standard '
      + 'line of {line} VND.',
    average_unpublished: 'No average living standard line is published for this standard, so it is not judged.',
    no_deprivation: 'Deprived on no indicator.',
    deprivations: 'Deprived on {count} {indicators}: {items}.',
    deprivations_poor: 'Deprived on {count} {indicators}, {threshold} or more making a household poor: {items}.',
    deprivations_near_poor: 'Deprived on {count} {indicators}, fewer than the {threshold} that make a household poor{items}.',
    not_given: 'not given',
    yes: 'yes',
    no: 'no',
  },
};

const hasOwn = (o, k) => o !== null && o !== undefined && Object.prototype.hasOwnProperty.call(o, k);
const get = (o, k) => (hasOwn(o, k) ? o[k] : null);
const isEmptyAnswer = (v) => v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);

/** Python's str() of a plain value, for the few places the sentences show one raw. */
function pyStr(v) {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  return String(v);
}

function fmt(template, values) {
  return template.replace(/\{(\w+)\}/g, (m, k) => (hasOwn(values, k) ? String(values[k]) : m));
}

/** The `reasons` mapping shipped for a bundled version published without one (or {}). */
export function supplement(form) {
  const found = SUPPLEMENTS.find((s) => s.form_id === form.formId && s.version === form.version);
  if (!found) return {};
  // Python matches the exact bytes (sha256); the phone gets the parsed document, so it checks
  // instead that every field the mapping names is a field of this form, as load_form would.
  for (const name of mappingFields(found.reasons)) if (!form.fieldAt(name)) return {};
  return found.reasons;
}

function mappingFields(reasons) {
  const out = [];
  for (const [key, v] of Object.entries(reasons.income || {})) if (typeof v === 'string') out.push(v);
  for (const spec of Object.values(reasons.indicators || {})) {
    const prefix = spec.repeat ? `${spec.repeat}/` : '';
    if (spec.repeat) out.push(spec.repeat, prefix + spec.when);
    if (spec.name) out.push(prefix + spec.name);
    for (const e of spec.answers || []) out.push(prefix + (typeof e === 'string' ? e : e.field));
    for (const e of spec.household || []) out.push(typeof e === 'string' ? e : e.field);
  }
  return out;
}

/**
 * The reasons for a result ({answers, outputs} as runForm returns them) of a compiled form,
 * with `parameters` (effective or an override, laid over the form's own). Plain JSON data,
 * equal to forms/reasons.py explain().
 */
export function explain(form, result, parameters = null) {
  const answers = (result && result.answers) || {};
  const outputs = (result && result.outputs) || {};
  const params = { ...form.parameters, ...(parameters || {}) };
  const spec = (form.reasons && Object.keys(form.reasons).length) ? form.reasons : supplement(form);
  const classification = get(outputs, 'classification');
  const income = incomeOf(form, spec, answers, outputs, params);
  const deprivations = deprivationsOf(form, spec, answers, outputs);
  let count = get(outputs, 'deprivation_count');
  if (count === null) count = deprivations.length;
  const thresholdName = spec.deprivation_threshold;
  const threshold = thresholdName ? get(params, thresholdName) : null;
  const explanation = {
    form_id: form.formId,
    form_version: form.version,
    classification,
    income,
    deprivation_count: count,
    deprivation_threshold: threshold,
    deprivations,
  };
  explanation.sentence = {};
  for (const lang of LANGUAGES) explanation.sentence[lang] = sentence(lang, explanation);
  return explanation;
}

function labels(form, label, fallback) {
  const out = {};
  for (const lang of LANGUAGES) {
    out[lang] = (label === null || label === undefined) ? fallback : (textIn(label, lang, form.defaultLanguage) || fallback);
  }
  return out;
}

export function number(value) {
  return typeof value === 'number' && value === value ? value : null;
}

function le(a, b) {
  a = number(a);
  b = number(b);
  return a === null || b === null ? null : a <= b;
}

function incomeOf(form, spec, answers, outputs, params) {
  const mapping = spec.income || {};
  const perPerson = hasOwn(mapping, 'per_person') ? get(answers, mapping.per_person) : get(outputs, 'income_per_person');
  let area = hasOwn(mapping, 'area_type') ? get(answers, mapping.area_type) : null;
  if (area === null && hasOwn(form.outputs, 'area_type')) area = get(outputs, 'area_type');
  const line = hasOwn(mapping, 'line') ? get(answers, mapping.line) : null;
  const lineParameter = area !== null ? get(mapping.line_parameters || {}, area) : null;
  const national = (p) => (p ? get(form.parameters, p) : null);
  const out = {
    per_person: perPerson,
    area_type: area,
    line,
    line_parameter: lineParameter,
    national_line: national(lineParameter),
    set_by_province: Boolean(lineParameter) && get(params, lineParameter) !== get(form.parameters, lineParameter),
    at_or_below_line: le(perPerson, line),
    standard: hasOwn(spec, 'standard') ? labels(form, spec.standard, '') : null,
    average: null,
  };
  if (hasOwn(mapping, 'average_line')) {
    const averageLine = get(answers, mapping.average_line);
    const averageParameter = area !== null ? get(mapping.average_line_parameters || {}, area) : null;
    const withoutAllowances = hasOwn(mapping, 'average_per_person');
    const averageIncome = withoutAllowances ? get(answers, mapping.average_per_person) : perPerson;
    const published = number(averageLine) !== null && number(line) !== null && averageLine > line;
    const farm = hasOwn(mapping, 'farm_household') ? get(answers, mapping.farm_household) : null;
    out.average = {
      per_person: averageIncome,
      without_state_social_allowances: withoutAllowances,
      line: averageLine,
      line_parameter: averageParameter,
      set_by_province: Boolean(averageParameter)
        && get(params, averageParameter) !== get(form.parameters, averageParameter),
      band_published: published,
      farm_household: farm,
      above_poverty_line: line === null ? null : !le(averageIncome, line),
      at_or_below_average_line: published ? le(averageIncome, averageLine) : null,
    };
  }
  return out;
}

function deprivationsOf(form, spec, answers, outputs) {
  const flags = get(outputs, 'deprivations') || {};
  const fields = (form.outputs && form.outputs.deprivations) || {};
  const reasons = spec.indicators || {};
  const out = [];
  for (const [indicator, flag] of Object.entries(flags)) {
    if (!flag) continue;
    const reason = get(reasons, indicator) || {};
    const depField = hasOwn(fields, indicator) ? form.fieldAt(fields[indicator]) : null;
    const label = reason.label || (depField !== null ? depField.label : null);
    const item = { indicator, label: labels(form, label, indicator) };
    if (hasOwn(reason, 'repeat')) {
      const members = [];
      (get(answers, reason.repeat) || []).forEach((instance, index) => {
        if (!get(instance, reason.when)) return;
        members.push({
          index,
          name: hasOwn(reason, 'name') ? get(instance, reason.name) : null,
          answers: answersOf(form, reason.answers, instance, `${reason.repeat}/`),
        });
      });
      item.members = members;
      item.answers = answersOf(form, reason.household || [], answers, '');
    } else {
      item.answers = answersOf(form, reason.answers || [], answers, '');
    }
    out.push(item);
  }
  return out;
}

function answersOf(form, entries, values, prefix) {
  const out = [];
  for (let entry of entries) {
    if (typeof entry === 'string') entry = { field: entry };
    const name = entry.field;
    const f = form.fieldAt(prefix + name);
    const value = get(values, name);
    if (isEmptyAnswer(value) && (f === null || f.relevant !== null)) continue; // not asked here
    const wanted = entry.values;
    if (wanted && wanted.length) {
      const chosen = Array.isArray(value) ? value : [value];
      if (!chosen.some((v) => wanted.includes(v))) continue;
    }
    const label = entry.label || (f !== null ? f.label : null);
    const text = {};
    for (const lang of LANGUAGES) text[lang] = answerText(form, f, value, lang);
    out.push({ field: name, label: labels(form, label, name), value, text });
  }
  return out;
}

function answerText(form, f, value, lang) {
  if (isEmptyAnswer(value)) return MESSAGES[lang].not_given;
  if (f !== null && f.choices) {
    const index = form.choiceIndex[f.choices] || new Map();
    const items = Array.isArray(value) ? value : [value];
    return items.map((v) => {
      const choice = index.get(v);
      return (choice !== undefined && choice.label ? textIn(choice.label, lang, form.defaultLanguage) : null) || String(v);
    }).join(', ');
  }
  if (typeof value === 'boolean') return MESSAGES[lang][value ? 'yes' : 'no'];
  if (typeof value === 'number') return formatNumber(value, lang, null);
  return String(value);
}

// --------------------------------------------------------------------------- display

/** A number's exact decimal digits, as Python's Decimal(repr(x)): [sign, intDigits, fracDigits]. */
function decimalParts(x) {
  let s = String(Math.abs(x));
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  if (s.includes('e')) {
    const [mant, expText] = s.split('e');
    const exp = Number(expText);
    const [i, f = ''] = mant.split('.');
    let digits = i + f;
    let point = i.length + exp;
    if (point <= 0) { digits = '0'.repeat(1 - point) + digits; point = 1; }
    if (point > digits.length) digits += '0'.repeat(point - digits.length);
    s = `${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  const [whole, frac = ''] = s.split('.');
  return [sign, whole.replace(/^0+(?=\d)/, ''), frac];
}

/** Round half away from zero to `places` decimals (Decimal.quantize ROUND_HALF_UP), as text parts. */
function quantize(x, places) {
  const [sign, whole, frac] = decimalParts(x);
  let digits = whole + frac.padEnd(places, '0').slice(0, places);
  const roundUp = frac.length > places && frac[places] >= '5';
  if (roundUp) {
    const arr = digits.split('').map(Number);
    let i = arr.length - 1;
    while (i >= 0) {
      if (arr[i] === 9) { arr[i] = 0; i--; } else { arr[i] += 1; break; }
    }
    if (i < 0) arr.unshift(1);
    digits = arr.join('');
  }
  const w = digits.slice(0, digits.length - places) || '0';
  const f = places ? digits.slice(digits.length - places) : '';
  const zero = /^0*$/.test(w + f);
  return [zero ? '' : sign, w, f];
}

/**
 * Grouped digits (1.500.000,5 in Vietnamese, 1,500,000.5 in English). `decimals`: round half
 * away from zero to that many places and keep them; null: as few as needed, at most two.
 */
export function formatNumber(value, lang, decimals = null) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return String(value);
  const places = decimals === null ? 2 : decimals;
  const [sign, whole, f] = quantize(value, places);
  const fraction = decimals === null ? f.replace(/0+$/, '') : f;
  const [group, point] = lang === 'vi' ? ['.', ','] : [',', '.'];
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, group);
  return sign + grouped + (fraction ? point + fraction : '');
}

/** Money to the đồng, or to the hundredth when rounding would make it equal a line it was compared with. */
export function money(value, lang, ...compared) {
  if (number(value) === null) return MESSAGES[lang].not_given;
  const [, w, f] = quantize(value, 0);
  const rounded = Number((value < 0 ? '-' : '') + w + (f ? `.${f}` : ''));
  const misleading = rounded !== value && compared.some((c) => number(c) !== null && rounded === c);
  return formatNumber(value, lang, misleading ? 2 : 0);
}

function sentence(lang, e) {
  const m = MESSAGES[lang];
  const { classification, income } = e;
  const parts = [`${hasOwn(CLASS[lang], classification) ? CLASS[lang][classification] : pyStr(classification)}.`];
  const { line, per_person: perPerson } = income;
  if (number(line) !== null && number(perPerson) !== null) {
    const area = hasOwn(AREA[lang], income.area_type) ? AREA[lang][income.area_type] : pyStr(income.area_type || '');
    const lineName = fmt(m[income.set_by_province ? 'line_name_province' : 'line_name'], { area });
    const standard = [];
    if (income.set_by_province && number(income.national_line) !== null) {
      standard.push(fmt(m.national, { line: money(income.national_line, lang) }));
    }
    if (income.standard) standard.push(income.standard[lang]);
    parts.push(fmt(m.income, {
      income: money(perPerson, lang, line),
      cmp: m[income.at_or_below_line ? 'at_or_below' : 'above'],
      line_name: lineName,
      line: money(line, lang),
      standard: standard.length ? ` (${standard.join('; ')})` : '',
    }));
  } else if (number(perPerson) !== null) {
    parts.push(fmt(m.income_only, { income: money(perPerson, lang) }));
  }
  const average = income.average;
  if (average !== null && (classification === 'average' || classification === 'not_poor')) {
    parts.push(averageSentence(m, lang, classification, average, line));
  }
  parts.push(deprivationSentence(m, lang, e));
  return parts.filter((p) => p).join(' ');
}

function averageSentence(m, lang, classification, average, line) {
  const { per_person: income, line: averageLine } = average;
  if (classification === 'average') {
    const key = average.farm_household !== null ? 'average_in' : 'average_band';
    return fmt(m[key], { income: money(income, lang, line, averageLine), line: money(averageLine, lang) });
  }
  if (!average.band_published) return m.average_unpublished;
  if (average.farm_household === 'no') return m.average_not_farm;
  if (average.at_or_below_average_line === false) {
    const key = average.without_state_social_allowances ? 'average_above' : 'average_above_plain';
    return fmt(m[key], { income: money(income, lang, averageLine), line: money(averageLine, lang) });
  }
  if (average.above_poverty_line === false) return fmt(m.average_below, { income: money(income, lang, line) });
  return '';
}

function deprivationSentence(m, lang, e) {
  const items = e.deprivations.map((d) => itemText(lang, d));
  const { deprivation_count: count, deprivation_threshold: threshold, classification } = e;
  const indicators = count === 1 ? 'indicator' : 'indicators';
  if (!items.length) {
    if (classification === 'near_poor' && threshold !== null) {
      return fmt(m.deprivations_near_poor, { count: 0, indicators, threshold, items: '' });
    }
    return m.no_deprivation;
  }
  const listed = items.join('; ');
  if (classification === 'poor' && threshold !== null) {
    return fmt(m.deprivations_poor, { count, indicators, threshold, items: listed });
  }
  if (classification === 'near_poor' && threshold !== null) {
    return fmt(m.deprivations_near_poor, { count, indicators, threshold, items: `: ${listed}` });
  }
  return fmt(m.deprivations, { count, indicators, items: listed });
}

/** One deprived indicator with the answers that caused it, in one language. */
export function itemText(lang, d) {
  const label = d.label[lang];
  const said = (answers) => answers.map((a) => `${a.label[lang]}: ${a.text[lang]}`).join(', ');
  if (hasOwn(d, 'members')) {
    const people = d.answers.length ? [said(d.answers)] : [];
    for (const member of d.members) {
      const s = said(member.answers);
      const name = member.name || `#${member.index + 1}`;
      people.push(s ? `${name} — ${s}` : name);
    }
    return people.length ? `${label} (${people.join('; ')})` : label;
  }
  const s = said(d.answers);
  return s ? `${label} (${s})` : label;
}
