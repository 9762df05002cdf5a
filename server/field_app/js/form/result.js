// "Kết quả": the household's classification and why, before the visit is finalised.
//
// Everything shown is computed on the phone by the same rules as the server (engine.js and
// reasons.js, tested equal to forms/answers.py and forms/reasons.py), from the explanation's
// data rather than from its English or Vietnamese sentence, so the words come from the app's
// catalogue: "Hộ nghèo: thu nhập bình quân 1.320.000 đ/người/tháng ≤ chuẩn nông thôn
// 1.500.000 đ; thiếu hụt 4/12 chỉ số: …". The full sentence the commune will read is one tap
// away. Problems left in the form are listed with a way to each; "Hoàn tất" waits for them.

import { clear, h } from './dom.js';
import { itemText, money, number } from './reasons.js';

const capitalise = (s) => (s ? s.charAt(0).toUpperCase() + s.slice(1) : s);

export function incomeText(view, reasons) {
  const { income } = reasons;
  const lang = view.lang;
  if (number(income.per_person) === null) return null;
  const amount = `${money(income.per_person, lang, income.line)} ${view.t('form.money.unit')}`;
  if (number(income.line) === null) return view.t('form.result.income_only', { income: amount });
  const area = income.area_type === 'urban' || income.area_type === 'rural' ? income.area_type : 'other';
  return view.t('form.result.income', {
    income: amount,
    cmp: income.at_or_below_line ? '≤' : '>',
    line_name: view.t(`form.result.line.${area}${income.set_by_province ? '_province' : ''}`),
    line: `${money(income.line, lang)} ${view.t('form.money.unit')}`,
  });
}

export function summaryText(view, reasons) {
  const total = Object.keys(view.form.outputs.deprivations || {}).length;
  const parts = [];
  const income = incomeText(view, reasons);
  if (income) parts.push(income);
  if (total) {
    const labels = reasons.deprivations.map((d) => d.label[view.lang]);
    parts.push(labels.length
      ? view.t('form.result.deprived', { count: reasons.deprivation_count, total, items: labels.join(', ') })
      : view.t('form.result.deprived_none', { total }));
  }
  return parts.join('; ');
}

function problemLabel(view, path) {
  const parts = path.split('/');
  const answerPath = parts.filter((p) => !/^\d+$/.test(p)).join('/');
  const field = view.form.fieldAt(answerPath);
  const label = (field && view.text(field.label)) || parts[parts.length - 1];
  if (parts.length >= 3 && /^\d+$/.test(parts[1])) {
    const repeat = view.form.fieldAt(parts[0]);
    const item = repeat ? view.words(repeat, 'item', { n: Number(parts[1]) + 1 }) : `#${Number(parts[1]) + 1}`;
    return `${item} · ${label}`;
  }
  return label;
}

export function renderResult(view) {
  const { result } = view;
  const classification = view.classificationReady() ? result.outputs.classification : null;
  const problems = view.blockingErrors();
  const reasons = view.reasons();
  const title = h('h2', { class: 'rf-title' }, view.t('form.result.title'));
  const out = [title];
  if (problems.length) {
    const list = h('ul', { class: 'rf-problems' }, problems.slice(0, 30).map((e) => {
      const field = view.form.fieldAt(e.path.split('/').filter((p) => !/^\d+$/.test(p)).join('/'));
      const fix = h('button', { type: 'button', class: 'btn btn-link', 'data-testid': 'fix-problem' }, view.t('form.result.fix'));
      fix.addEventListener('click', () => view.goTo(e.path));
      return h('li', {}, h('span', { class: 'rf-problem-where' }, problemLabel(view, e.path)), ' ',
        h('span', { class: 'rf-problem-what' }, field ? view.errorText(field, e) : e.message), ' ', fix);
    }));
    out.push(h('section', { class: 'rf-result-problems', role: 'alert', 'data-testid': 'result-problems' },
      h('h3', {}, view.t('form.result.problems', { n: problems.length })), list));
  }
  if (classification) {
    out.push(h('p', { class: `rf-result-class rf-result-${classification}`, 'data-testid': 'result-class' },
      view.t(`form.class.${classification}`)));
    out.push(h('p', { class: 'rf-result-summary', 'data-testid': 'result-summary' },
      `${view.t(`form.class.${classification}`)}: ${summaryText(view, reasons)}`));
    if (reasons.deprivations.length) {
      out.push(h('ul', { class: 'rf-result-deprivations', 'data-testid': 'result-deprivations' },
        reasons.deprivations.map((d) => h('li', {}, capitalise(itemText(view.lang, d))))));
    }
    out.push(h('details', { class: 'rf-result-details' },
      h('summary', {}, view.t('form.result.details')),
      h('p', { 'data-testid': 'result-sentence' }, reasons.sentence[view.lang])));
  } else if (!view.form.outputs.classification) {
    // A form that classifies nothing (a province's own survey): complete is all there is to say.
    out.push(h('p', { class: 'rf-result-class rf-result-none', 'data-testid': 'result-class' },
      view.t(problems.length ? 'form.result.incomplete' : 'form.result.complete')));
  } else {
    out.push(h('p', { class: 'rf-result-class rf-result-none', 'data-testid': 'result-class' }, view.t('form.result.unknown')));
  }
  clear(view.body, out);
  const back = h('button', { type: 'button', class: 'btn', 'data-testid': 'form-prev' }, view.t('form.prev'));
  back.addEventListener('click', () => view.goPage(view.firstVisible(view.pages.length - 1, -1)));
  const finish = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'form-finish' }, view.t('form.finish'));
  finish.disabled = problems.length > 0;
  finish.addEventListener('click', () => view.finish());
  clear(view.nav, back, finish);
}
