// One control per field type. A control renders its field into a wrapper and knows how to
// show the engine's latest view of it (relevance, value, error, filtered choices).
//
// Numbers are typed as text (inputmode numeric) rather than <input type=number>: a number
// input silently turns "1.500.000" (how a Vietnamese writes a million and a half) into an
// empty value, and we want to read it, or say plainly why we cannot.

import { formatNumber } from './reasons.js';
import { clear, h, setHidden, setText, uid } from './dom.js';
import { POOR_ACCURACY_M, compressPhoto, devicePosition, geopointAnswer, sha256Hex } from './media.js';

const RADIO_LIMIT = 12; // longer lists (54 ethnic groups) become a drop-down; up to 12 rows are quicker to tap

/** Parse an integer as typed: dots and spaces separate thousands, in groups of three ("2.5" is
 * refused, not read as 25). The twin of forms/typed.py; both are held to forms/typed_numbers.json. */
export function parseInteger(text) {
  const s = text.trim().replace(/[\s\u00a0]+/g, '.');
  if (s === '') return [null, null];
  if (!/^-?([0-9]+|[0-9]{1,3}(\.[0-9]{3})+)$/.test(s)) return [null, 'form.error.integer'];
  const n = Number(s.replace(/\./g, ''));
  if (!Number.isSafeInteger(n)) return [null, 'form.error.too_large'];
  return [n, null];
}

/** Parse a decimal as typed: a comma or a point before the decimals (forms/typed.py's twin). */
export function parseDecimal(text) {
  const s = text.trim().replace(/\s/g, '').replace(',', '.');
  if (s === '') return [null, null];
  if (!/^-?([0-9]+\.?[0-9]*|\.[0-9]+)$/.test(s)) return [null, 'form.error.decimal'];
  return [Number(s), null];
}

export class Control {
  constructor(view, field, scope) {
    this.view = view;
    this.field = field;
    this.scope = scope; // {container, instPath: [[repeat, index], ...], path: "members/2"}
    this.path = scope.path ? `${scope.path}/${field.name}` : field.name;
    this.localError = null; // a parse error of what is typed (never reaches the answers)
    this.errorId = uid('err');
    this.inputId = uid('in');
    this.wrapper = h('div', { class: `rf-field rf-field-${field.type}`, 'data-field': this.path });
  }

  get value() {
    const v = this.scope.container[this.field.name];
    return v === undefined ? null : v;
  }

  set(value, { touch = true } = {}) {
    this.scope.container[this.field.name] = value;
    if (touch) this.view.touched.add(this.path);
    this.view.changed(this);
  }

  label() {
    const { view, field } = this;
    const text = view.text(field.label) || field.name;
    // The required mark is drawn by CSS (.rf-required::after) so that it is not part of the name.
    return h('label', { class: `rf-label${field.required ? ' rf-required' : ''}`, for: this.inputId }, text);
  }

  hint() {
    const text = this.view.text(this.field.hint);
    return text ? h('p', { class: 'rf-hint', id: `${this.inputId}-hint` }, text) : null;
  }

  build() {
    this.errorEl = h('p', { class: 'rf-error', id: this.errorId, role: 'alert', hidden: true });
    for (const part of [this.label(), this.hint(), this.input(), this.errorEl]) if (part) this.wrapper.append(part);
    if (this.view.prefilled.has(this.path)) {
      this.wrapper.append(h('p', { class: 'rf-prefilled' }, this.view.t('form.prefilled')));
    }
    return this.wrapper;
  }

  input() {
    return h('span');
  }

  /** Show the engine's view: relevance, the error to show, the value if it changed elsewhere. */
  update(inst, errors) {
    const relevant = !inst || !inst.irrelevant.has(this.field.name);
    setHidden(this.wrapper, !relevant);
    if (!relevant) return;
    const shown = this.view.showErrorsFor(this.path);
    const message = this.localError ? this.view.t(this.localError)
      : (shown && errors.length ? this.view.errorText(this.field, errors[0]) : null);
    this.showComputed(inst);
    if (message === this.shownMessage) return;
    this.shownMessage = message;
    setHidden(this.errorEl, !message);
    setText(this.errorEl, message || '');
    this.wrapper.classList.toggle('has-error', Boolean(message));
    const input = this.focusTarget();
    if (input) {
      if (message) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
  }

  focusTarget() {
    return this.wrapper.querySelector('input, select, textarea, button');
  }

  /** A read-only field shows the engine's value (its calculation), never an answer. */
  showComputed(inst) {
    if (!this.field.readOnly || !inst || !this.el || !('value' in this.el)) return;
    const v = inst.values[this.field.name];
    const text = v === null || v === undefined ? '' : String(v);
    if (this.el.value !== text) this.el.value = text;
  }
}

class TextControl extends Control {
  input() {
    const { field } = this;
    const multiline = (field.appearance || '').includes('multiline');
    this.el = h(multiline ? 'textarea' : 'input', {
      id: this.inputId, class: 'rf-input', type: multiline ? null : 'text', autocomplete: 'off',
      'aria-describedby': this.errorId, rows: multiline ? 3 : null,
    });
    this.el.value = this.value ?? '';
    this.el.addEventListener('input', () => this.set(this.el.value === '' ? null : this.el.value, { touch: false }));
    this.el.addEventListener('change', () => { this.view.touched.add(this.path); this.view.refresh(); });
    return this.el;
  }
}

class NumberControl extends Control {
  input() {
    const integer = this.field.type === 'integer';
    this.el = h('input', {
      id: this.inputId, class: 'rf-input rf-number', type: 'text', inputmode: integer ? 'numeric' : 'decimal',
      autocomplete: 'off', 'aria-describedby': `${this.errorId} ${this.inputId}-preview`,
    });
    this.preview = h('p', { class: 'rf-preview', id: `${this.inputId}-preview`, 'aria-live': 'polite' });
    this.el.value = this.value === null ? '' : String(this.value).replace('.', this.view.lang === 'vi' ? ',' : '.');
    const parse = integer ? parseInteger : parseDecimal;
    this.el.addEventListener('input', () => {
      const [n, error] = parse(this.el.value);
      // An unfinished number ("12," while typing) is only an error once the field is left.
      this.pendingError = error;
      if (this.localError && !error) this.localError = null;
      this.set(n, { touch: false });
    });
    this.el.addEventListener('change', () => {
      this.localError = this.pendingError || null;
      this.view.touched.add(this.path);
      this.view.refresh();
    });
    this.showPreview();
    return h('div', {}, this.el, this.preview);
  }

  showPreview() {
    const v = this.value;
    // 216000000 is hard to read on a small screen: show it grouped, as money is written.
    setText(this.preview, typeof v === 'number' && Math.abs(v) >= 10000 ? formatNumber(v, this.view.lang) : '');
  }

  update(inst, errors) {
    super.update(inst, errors);
    this.showPreview();
  }
}

class DateControl extends Control {
  input() {
    const datetime = this.field.type === 'datetime';
    this.el = h('input', {
      id: this.inputId, class: 'rf-input', type: datetime ? 'datetime-local' : 'date', 'aria-describedby': this.errorId,
    });
    const v = this.value;
    this.el.value = v ? (datetime ? String(v).slice(0, 16) : v) : '';
    this.el.addEventListener('change', () => {
      const raw = this.el.value;
      // A visit happens in Vietnam: a time typed on the phone is Vietnam time.
      this.set(raw ? (datetime ? `${raw.length === 16 ? `${raw}:00` : raw}+07:00` : raw) : null);
    });
    return this.el;
  }
}

class ChoiceControl extends Control {
  constructor(view, field, scope) {
    super(view, field, scope);
    this.choices = view.form.choices[field.choices] || [];
    this.multiple = field.type === 'select_multiple';
  }

  label() {
    // A radio or checkbox group is labelled by a legend, not a <label for>.
    if (this.useList()) return null;
    return super.label();
  }

  useList() {
    return this.multiple || this.choices.length <= RADIO_LIMIT;
  }

  hint() {
    // In a list the hint goes under the legend, inside the group it explains.
    return this.useList() ? null : super.hint();
  }

  input() {
    const { field, view } = this;
    if (!this.useList()) {
      this.el = h('select', { id: this.inputId, class: 'rf-input', 'aria-describedby': this.errorId },
        h('option', { value: '' }, view.t('form.choose')),
        this.choices.map((c) => h('option', { value: c.value }, view.text(c.label) || c.value)));
      this.el.value = this.value ?? '';
      this.el.addEventListener('change', () => this.set(this.el.value || null));
      this.options = [...this.el.options].slice(1);
      return this.el;
    }
    const name = uid('choice');
    const text = view.text(field.label) || field.name;
    this.options = [];
    const items = this.choices.map((c) => {
      const input = h('input', { type: this.multiple ? 'checkbox' : 'radio', name, value: c.value });
      input.addEventListener('change', () => this.picked());
      this.options.push(input);
      return h('label', { class: 'rf-choice' }, input, h('span', {}, view.text(c.label) || c.value));
    });
    this.el = h('fieldset', { class: 'rf-choices', 'aria-describedby': this.errorId },
      h('legend', { class: `rf-label${field.required ? ' rf-required' : ''}` }, text),
      super.hint(), items);
    this.showValue();
    return this.el;
  }

  picked() {
    if (this.multiple) {
      const values = this.options.filter((o) => o.checked).map((o) => o.value);
      this.set(values.length ? values : null);
    } else {
      const chosen = this.options.find((o) => o.checked);
      this.set(chosen ? chosen.value : null);
    }
  }

  showValue() {
    const v = this.value;
    if (this.el.tagName === 'SELECT') {
      if (this.el.value !== (v ?? '')) this.el.value = v ?? '';
      return;
    }
    const chosen = new Set(Array.isArray(v) ? v : v === null ? [] : [v]);
    for (const o of this.options) {
      const on = chosen.has(o.value);
      if (o.checked !== on) o.checked = on;
      // A class rather than :has(:checked), whose style invalidation is costly on long pages.
      const row = o.closest('label');
      if (row.classList.contains('rf-chosen') !== on) row.classList.toggle('rf-chosen', on);
    }
  }

  update(inst, errors) {
    super.update(inst, errors);
    if (this.el.tagName !== 'SELECT') this.showValue();
    // choice_filter: offer only what the form allows here (the engine refuses the rest).
    if (this.field.choiceFilter && inst) {
      const ctx = inst.ctx;
      this.choices.forEach((c, i) => {
        let ok = true;
        try {
          ctx.choice = c;
          ok = this.field.choiceFilter.evaluateBool(ctx);
        } catch (e) {
          ok = true;
        } finally {
          ctx.choice = null;
        }
        const option = this.options[i];
        setHidden(option.tagName === 'OPTION' ? option : option.closest('label'), !ok);
      });
    }
  }
}

class NoteControl extends Control {
  build() {
    this.wrapper.append(h('p', { class: 'rf-note' }, this.view.text(this.field.label) || ''));
    const hint = this.hint();
    if (hint) this.wrapper.append(hint);
    this.errorEl = h('p', { hidden: true });
    return this.wrapper;
  }
}

/** Fields answered with buttons: the question is a group's name, not a label of one button. */
function groupLabel(control) {
  const id = `${control.inputId}-label`;
  control.wrapper.setAttribute('role', 'group');
  control.wrapper.setAttribute('aria-labelledby', id);
  const { field } = control;
  return h('p', { class: `rf-label${field.required ? ' rf-required' : ''}`, id }, control.view.text(field.label) || field.name);
}

class GeopointControl extends Control {
  label() {
    return groupLabel(this);
  }

  input() {
    const { view } = this;
    this.status = h('p', { class: 'rf-geo-status', 'aria-live': 'polite' });
    this.button = h('button', { type: 'button', class: 'btn btn-block', id: this.inputId },
      view.t('form.gps.take'));
    this.button.addEventListener('click', () => this.locate());
    this.clearButton = h('button', { type: 'button', class: 'btn btn-link' }, view.t('form.gps.clear'));
    this.clearButton.addEventListener('click', () => this.set(null));
    // Why the last try failed, under the fix that is kept.
    this.problem = h('p', { class: 'rf-geo-problem', role: 'alert', hidden: true });
    this.show();
    return h('div', { class: 'rf-geo' }, this.button, this.status, this.problem, this.clearButton);
  }

  async locate() {
    const { view } = this;
    this.button.disabled = true;
    setHidden(this.problem, false);
    setText(this.problem, view.t('form.gps.waiting'));
    this.problem.className = 'rf-geo-problem';
    try {
      const pos = await (view.options.getPosition || devicePosition)();
      if (view.destroyed) return;
      setHidden(this.problem, true);
      this.set(geopointAnswer(pos));
    } catch (error) {
      if (view.destroyed) return;
      setText(this.problem, view.t(`form.gps.error.${error.code || 'unavailable'}`));
      this.problem.className = 'rf-geo-problem rf-poor';
    } finally {
      this.button.disabled = false;
    }
  }

  show() {
    const { view } = this;
    const v = this.value;
    const key = JSON.stringify(v);
    if (key === this.shownKey) return;
    this.shownKey = key;
    this.clearButton.hidden = !v;
    this.button.textContent = view.t(v ? 'form.gps.retake' : 'form.gps.take');
    if (!v || typeof v !== 'object') {
      this.status.replaceChildren();
      return;
    }
    const coords = `${formatNumber(v.lat, view.lang, 5)}, ${formatNumber(v.lon, view.lang, 5)}`;
    const accuracy = typeof v.accuracy === 'number' ? Math.round(v.accuracy) : null;
    const poor = accuracy !== null && accuracy > POOR_ACCURACY_M;
    clear(this.status,
      h('span', { class: 'rf-geo-coords' }, coords),
      h('span', { class: `rf-geo-accuracy${poor ? ' rf-poor' : ''}` },
        accuracy === null ? view.t('form.gps.no_accuracy') : view.t('form.gps.accuracy', { m: accuracy })),
      poor ? h('span', { class: 'rf-geo-warning', role: 'alert' }, view.t('form.gps.poor', { max: POOR_ACCURACY_M })) : null,
    );
    this.status.className = 'rf-geo-status';
  }

  update(inst, errors) {
    super.update(inst, errors);
    this.show();
  }
}

class ImageControl extends Control {
  label() {
    return groupLabel(this);
  }

  input() {
    const { view } = this;
    this.file = h('input', { type: 'file', accept: 'image/*', capture: 'environment', class: 'rf-visually-hidden', id: this.inputId });
    this.file.addEventListener('change', () => this.picked());
    this.pick = h('label', { class: 'btn btn-block', for: this.inputId }, view.t('form.photo.take'));
    this.thumb = h('img', { class: 'rf-photo-thumb', alt: view.t('form.photo.alt'), hidden: true });
    this.status = h('p', { class: 'rf-photo-status', 'aria-live': 'polite' });
    this.remove = h('button', { type: 'button', class: 'btn btn-link' }, view.t('form.photo.remove'));
    this.remove.addEventListener('click', () => this.set(null));
    this.shownRef = undefined;
    this.show();
    return h('div', { class: 'rf-photo' }, this.file, this.pick, this.thumb, this.status, this.remove);
  }

  focusTarget() {
    return this.file;
  }

  async picked() {
    const { view } = this;
    const file = this.file.files && this.file.files[0];
    if (!file) return;
    this.status.textContent = view.t('form.photo.working');
    try {
      const { blob } = await compressPhoto(file);
      const sha = await sha256Hex(blob);
      const name = `${this.field.name}.jpg`;
      let ref = await (view.options.saveFile
        ? view.options.saveFile(blob, { field: this.path, name, type: 'image/jpeg', sha256: sha })
        : null);
      if (typeof ref !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(ref)) ref = `sha256:${sha}`;
      if (view.destroyed) return;
      this.status.textContent = view.t('form.photo.saved', { kb: Math.max(1, Math.round(blob.size / 1024)) });
      this.set(ref);
    } catch (error) {
      this.status.textContent = view.t('form.photo.error');
    } finally {
      this.file.value = '';
    }
  }

  async show() {
    const v = this.value;
    if (v === this.shownRef) return;
    this.remove.hidden = !v;
    this.pick.textContent = this.view.t(v ? 'form.photo.retake' : 'form.photo.take');
    this.shownRef = v;
    if (this.thumbUrl) { URL.revokeObjectURL(this.thumbUrl); this.thumbUrl = null; }
    this.thumb.hidden = true;
    if (!v || !this.view.options.loadFile) return;
    try {
      const blob = await this.view.options.loadFile(v);
      if (!blob || this.shownRef !== v || this.view.destroyed) return;
      this.thumbUrl = URL.createObjectURL(blob);
      this.thumb.src = this.thumbUrl;
      this.thumb.hidden = false;
    } catch (e) {
      this.status.textContent = this.view.t('form.photo.missing');
    }
  }

  update(inst, errors) {
    super.update(inst, errors);
    this.show();
  }

  dispose() {
    if (this.thumbUrl) URL.revokeObjectURL(this.thumbUrl);
  }
}

const CONTROLS = {
  text: TextControl,
  integer: NumberControl,
  decimal: NumberControl,
  date: DateControl,
  datetime: DateControl,
  select_one: ChoiceControl,
  select_multiple: ChoiceControl,
  geopoint: GeopointControl,
  image: ImageControl,
  note: NoteControl,
};

export function controlFor(view, field, scope) {
  const Kind = CONTROLS[field.type];
  return Kind ? new Kind(view, field, scope) : null;
}

