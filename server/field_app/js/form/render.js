// The form renderer: a form version as pages on a phone.
//
// - Each top-level group is a page; top-level fields between groups share a page (in the
//   household review: the member count with the member roster). A page none of whose fields
//   can be shown (all irrelevant, or only calculations) is skipped.
// - A repeat is a list of cards (the member roster); a card opens the member's own page.
//   When the repeat's count is a plain ${field} of its scope, adding or removing a member keeps
//   that count in step, so the enumerator never has to make two numbers agree by hand.
// - Every change runs the engine on the whole household (runForm: the same rules as the
//   server) and updates only the controls on screen. Errors are shown beside their field once
//   it has been answered or the page has been submitted ("Tiếp"), in the form's words when it
//   has them, in the catalogue's plain words otherwise.
// - The draft keeps everything typed, including answers that became irrelevant (so a slip of
//   the finger on a birth year does not erase the answers it hid); a cleared answer is kept as
//   null so that last year's prefill never comes back. What "Hoàn tất" hands over is the
//   engine's normalised answers, exactly what the server will store.

import { INPUT, compileForm, runForm, textIn, toToday } from './engine.js';
import { explain } from './reasons.js';
import { controlFor } from './controls.js';
import { clear, ensureStylesheet, h, setHidden, setText } from './dom.js';
import { applyPrefill } from './prefill.js';
import { renderResult } from './result.js';

const STYLESHEET = '/app/css/form.css';
const COUNT_REF = /^\s*\$\{([A-Za-z_][A-Za-z0-9_]*)\}\s*$/;

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Does the enumerator see this field (calculations and hidden ids are the engine's)? */
function shownField(f) {
  return f.type !== 'calculate' && f.appearance !== 'hidden';
}

export class FormView {
  constructor(root, options) {
    this.root = root;
    this.options = options;
    this.form = compileForm(options.definition);
    this.parameters = options.parameters || null;
    this.lang = options.lang === 'en' ? 'en' : 'vi';
    this.t = options.t || ((key) => key);
    this.now = options.now || (() => new Date());
    const [answers, filled] = applyPrefill(this.form, clone(options.answers || {}), options.prefill);
    this.answers = answers;
    this.prefilled = filled;
    this.touched = new Set();
    this.revealed = new Set(); // views whose errors are all shown (after "Tiếp" or "Hoàn tất")
    this.controls = [];
    this.cards = [];
    this.groups = [];
    this.destroyed = false;
    this.pages = this.buildPages();
    this.classInputs = this.classificationInputs();
    this.stack = [{ type: 'page', index: 0 }];
    this.fillInstanceKeys(this.form.root, this.answers);
    ensureStylesheet(STYLESHEET);
    this.evaluate();
    this.pageIndex = this.firstVisible(0, 1);
    this.stack = [{ type: 'page', index: this.pageIndex }];
  }

  // ------------------------------------------------------------------ text

  text(label) {
    return textIn(label, this.lang, this.form.defaultLanguage);
  }

  /** An error in plain words: the form's own message in this language, else the catalogue's. */
  errorText(field, error) {
    const own = error.code === 'required' ? field.requiredMessage : error.code === 'constraint' ? field.constraintMessage : null;
    if (own) return this.text(own);
    if (error.code === 'repeat_count') {
      const m = /has (\d+) instance\(s\); its repeat_count says (\d+)/.exec(error.message);
      const values = { actual: m ? m[1] : '?', expected: m ? m[2] : '?' };
      return field.type === 'repeat' ? this.words(field, 'repeat_count', values) : this.t('form.error.repeat_count', values);
    }
    const key = `form.error.${error.code}`;
    const text = this.t(key);
    return text === key ? this.t('form.error.invalid') : text;
  }

  // ------------------------------------------------------------------ structure

  buildPages() {
    const pages = [];
    let loose = null;
    for (const f of this.form.fields) {
      if (f.type === 'group') {
        loose = null;
        pages.push({ group: f, fields: f.fields });
      } else {
        if (loose === null) {
          loose = { group: null, fields: [] };
          pages.push(loose);
        }
        loose.fields.push(f);
      }
    }
    return pages;
  }

  pageTitle(page) {
    if (page.group) return this.text(page.group.label) || page.group.name;
    const repeat = page.fields.find((f) => f.type === 'repeat');
    const first = repeat || page.fields.find(shownField);
    return (first && this.text(first.label)) || this.t('form.page.untitled');
  }

  /** Can anything on this page be shown now? */
  pageVisible(page) {
    const root = this.result.root;
    if (page.group && root.irrelevant.has(page.group.name)) return false;
    const anyShown = (fields) => fields.some((f) => {
      if (root.irrelevant.has(f.name) && f.scope === this.form.root) return false;
      if (f.type === 'group') return anyShown(f.fields);
      return f.type === 'repeat' || shownField(f);
    });
    return anyShown(page.fields);
  }

  firstVisible(from, step) {
    for (let i = from; i >= 0 && i < this.pages.length; i += step) if (this.pageVisible(this.pages[i])) return i;
    return step > 0 ? this.pages.length : -1; // past the last page: the result page
  }

  /** Give every repeat instance its instance key (a member's id that outlives edits and years). */
  fillInstanceKeys(scope, container) {
    for (const child of scope.children) {
      const key = child.repeat.spec.instance_key;
      const items = container[child.repeat.name];
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        if (!item || typeof item !== 'object') continue;
        if (key && (item[key] === undefined || item[key] === null || item[key] === '')) item[key] = randomId();
        this.fillInstanceKeys(child, item);
      }
    }
  }

  /**
   * The answer paths (members/age, no indexes) the classification is computed from, through
   * every calculation it reads. Until they are all answered the engine's classification is
   * a guess from blanks, and a guess is never shown as a result.
   */
  classificationInputs() {
    const target = this.form.outputs.classification;
    const start = target ? this.form.fieldAt(target) : null;
    const out = new Set();
    if (!start) return out;
    const seen = new Set([start]);
    const stack = [start];
    while (stack.length) {
      const f = stack.pop();
      if (f.kind === INPUT || f.type === 'repeat') out.add(f.answerPath);
      for (const d of this.form.deps.get(f) || []) {
        if (!seen.has(d) && d.type !== 'group') { seen.add(d); stack.push(d); }
      }
    }
    return out;
  }

  /** Is the classification computed from complete, valid answers? */
  classificationReady() {
    if (!this.result.outputs.classification) return false;
    return !this.blockingErrors().some((e) => {
      const path = e.path.split('/').filter((p) => !/^\d+$/.test(p)).join('/');
      return path === '' || this.classInputs.has(path);
    });
  }

  // ------------------------------------------------------------------ evaluation

  evaluate() {
    this.result = runForm(this.form, this.answers, { parameters: this.parameters, today: toToday(this.now()) });
    const byPath = new Map();
    for (const e of this.result.errors) {
      if (e.code === 'not_relevant') continue; // the draft keeps hidden answers; the engine drops them
      if (!byPath.has(e.path)) byPath.set(e.path, []);
      byPath.get(e.path).push(e);
    }
    this.errorsByPath = byPath;
    this.blocking = this.result.errors.filter((e) => e.code !== 'not_relevant');
  }

  /** Problems that block "Hoàn tất" (everything but hidden answers the engine drops itself). */
  blockingErrors() {
    return this.blocking;
  }

  changed(control) {
    if (this.destroyed) return;
    this.evaluate();
    this.refresh();
    this.save();
  }

  save() {
    if (this.options.onChange) this.options.onChange(this.answers);
  }

  refresh() {
    for (const c of this.controls) {
      const inst = this.instanceAt(c.scope.instPath);
      c.update(inst, this.errorsByPath.get(c.path) || []);
    }
    for (const card of this.cards) card.update();
    for (const g of this.groups) g.update();
    this.updateLive();
  }

  instanceAt(instPath) {
    let inst = this.result.root;
    for (const [name, index] of instPath) {
      const list = inst && inst.repeats[name];
      inst = list ? list[index] : null;
    }
    return inst || null;
  }

  showErrorsFor(path) {
    if (this.touched.has(path)) return true;
    const view = this.stack[this.stack.length - 1];
    return this.revealed.has(this.viewKey(view));
  }

  viewKey(view) {
    if (view.type === 'page') return `page:${view.index}`;
    if (view.type === 'instance') return `inst:${view.path}`;
    return view.type;
  }

  // ------------------------------------------------------------------ screens

  start() {
    this.shell = h('div', { class: 'rf' });
    this.live = h('p', { class: 'rf-live', 'aria-live': 'polite', 'data-testid': 'live-classification' });
    this.progress = h('progress', { class: 'rf-progress', max: 1, value: 0 });
    this.progressText = h('p', { class: 'rf-progress-text' });
    this.body = h('div', { class: 'rf-body' });
    this.nav = h('div', { class: 'rf-nav' });
    clear(this.root, this.shell);
    this.shell.append(this.progress, this.progressText, this.live, this.body, this.nav);
    this.show();
    // A draft that was just prefilled (or given instance keys) is saved as it now stands.
    if (this.prefilled.size) this.save();
  }

  show() {
    if (this.destroyed) return;
    for (const c of this.controls) if (c.dispose) c.dispose();
    this.controls = [];
    this.cards = [];
    this.groups = [];
    const view = this.stack[this.stack.length - 1];
    if (view.type === 'result') this.showResult();
    else if (view.type === 'instance') this.showInstance(view);
    else this.showPage(view.index);
    this.refresh();
    this.updateProgress();
    const heading = this.body.querySelector('h2');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
    if (this.shell.scrollIntoView) this.shell.scrollIntoView({ block: 'start' });
  }

  updateProgress() {
    const visible = this.pages.map((p, i) => [p, i]).filter(([p]) => this.pageVisible(p)).map(([, i]) => i);
    const view = this.stack[0];
    const total = visible.length + 1;
    let at = view.type === 'result' ? total : visible.indexOf(view.index) + 1;
    if (at <= 0) at = 1;
    this.progress.max = total;
    this.progress.value = at;
    setText(this.progressText, this.t('form.progress', { n: at, total }));
  }

  updateLive() {
    const c = this.classificationReady() ? this.result.outputs.classification : null;
    // The result page says it in large type; the strip is for the pages that lead there.
    const hidden = c === null || c === undefined || this.stack[0].type === 'result';
    setHidden(this.live, hidden);
    setText(this.live, hidden ? '' : this.t('form.live', { classification: this.t(`form.class.${c}`) }));
    if (this.live.dataset.classification !== (c || '')) this.live.dataset.classification = c || '';
  }

  showPage(index) {
    const page = this.pages[index];
    const scope = { container: this.answers, instPath: [], path: '' };
    const title = h('h2', { class: 'rf-title' }, this.pageTitle(page));
    const fields = this.renderFields(page.fields, scope);
    clear(this.body, title, fields);
    const back = h('button', { type: 'button', class: 'btn', 'data-testid': 'form-prev' }, this.t('form.prev'));
    const next = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'form-next' }, this.t('form.next'));
    const previous = this.firstVisible(index - 1, -1);
    if (previous < 0) {
      // The first page's back button leaves the form (the draft is kept), if the shell allows it.
      back.textContent = this.t('form.exit');
      back.disabled = !this.options.onExit;
      back.addEventListener('click', () => { this.flush(); if (this.options.onExit) this.options.onExit(); });
    } else back.addEventListener('click', () => this.goPage(previous));
    next.addEventListener('click', () => this.next(index));
    clear(this.nav, back, next);
  }

  /** "Tiếp": a page with problems shows them all and stays, so nothing is skipped unseen. */
  next(index) {
    const key = `page:${index}`;
    const problems = this.pageErrors(this.pages[index]);
    if (problems.length) {
      this.revealed.add(key);
      this.refresh();
      this.focusFirstError();
      return;
    }
    const to = this.firstVisible(index + 1, 1);
    if (to >= this.pages.length) this.goResult();
    else this.goPage(to);
  }

  pageErrors(page) {
    const names = new Set();
    const collect = (fields) => {
      for (const f of fields) {
        names.add(f.name);
        if (f.type === 'group') collect(f.fields);
      }
    };
    collect(page.fields);
    return this.blockingErrors().filter((e) => names.has(e.path.split('/')[0]));
  }

  focusFirstError() {
    const el = this.body.querySelector('.has-error, .rf-card-error:not([hidden])');
    if (!el) return;
    if (el.scrollIntoView) el.scrollIntoView({ block: 'center' });
    const target = el.matches('.rf-card-error') ? el.closest('.rf-card') : el.querySelector('input, select, textarea, button');
    if (target) target.focus({ preventScroll: true });
  }

  goPage(index) {
    if (index < 0) return;
    this.pageIndex = index;
    this.stack = [{ type: 'page', index }];
    this.show();
  }

  goResult() {
    this.stack = [{ type: 'result' }];
    this.show();
  }

  /** Jump to where a problem is (from the result page). */
  goTo(path) {
    const parts = path.split('/');
    const index = this.pages.findIndex((p) => {
      const has = (fields) => fields.some((f) => f.name === parts[0] || (f.type === 'group' && has(f.fields)));
      return has(p.fields);
    });
    if (index < 0) return;
    this.pageIndex = index;
    this.stack = [{ type: 'page', index }];
    this.revealed.add(`page:${index}`);
    if (parts.length >= 3 && /^\d+$/.test(parts[1])) {
      const repeat = this.form.root.fields.get(parts[0]);
      if (repeat && repeat.type === 'repeat') {
        this.stack.push(this.instanceView(repeat, { container: this.answers, instPath: [], path: '' }, Number(parts[1])));
        this.revealed.add(`inst:${parts[0]}/${parts[1]}`);
      }
    }
    this.show();
    this.focusFirstError();
  }

  renderFields(fields, scope) {
    const out = h('div', { class: 'rf-fields' });
    for (const f of fields) {
      const el = this.renderField(f, scope);
      if (el) out.append(el);
    }
    return out;
  }

  renderField(f, scope) {
    if (f.type === 'calculate' || f.appearance === 'hidden') return null;
    if (f.type === 'group') {
      const legend = this.text(f.label);
      const box = h('fieldset', { class: 'rf-group' }, legend ? h('legend', {}, legend) : null,
        this.renderFields(f.fields, scope));
      this.groups.push({ update: () => { const inst = this.instanceAt(scope.instPath); setHidden(box, Boolean(inst && inst.irrelevant.has(f.name))); } });
      return box;
    }
    if (f.type === 'repeat') return this.renderRepeat(f, scope);
    if (f.kind !== INPUT && f.type !== 'note' && !f.readOnly) return null;
    const control = controlFor(this, f, scope);
    if (!control) return null;
    this.controls.push(control);
    const el = control.build();
    if (f.readOnly) for (const input of el.querySelectorAll('input, select, textarea, button')) input.disabled = true;
    return el;
  }

  // ------------------------------------------------------------------ repeats (the roster)

  /** The member roster says "thành viên"; any other repeat speaks of items. */
  isRoster(repeat) {
    const slot = this.form.outputs.roster;
    return slot ? slot === repeat.name && repeat.scope === this.form.root
      : repeat.name === 'members' && repeat.scope === this.form.root;
  }

  words(repeat, key, values = {}) {
    if (this.isRoster(repeat)) return this.t(`form.repeat.${key}`, values);
    return this.t(`form.item.${key}`, { label: this.text(repeat.label) || repeat.name, ...values });
  }

  countField(repeat) {
    const source = repeat.spec.repeat_count;
    const m = typeof source === 'string' ? COUNT_REF.exec(source) : null;
    if (!m) return null;
    const f = repeat.scope.fields.get(m[1]);
    return f && f.kind === INPUT && f.type === 'integer' ? f : null;
  }

  renderRepeat(repeat, scope) {
    const path = scope.path ? `${scope.path}/${repeat.name}` : repeat.name;
    const list = h('ol', { class: 'rf-cards', 'data-repeat': path });
    const error = h('p', { class: 'rf-error', role: 'alert', hidden: true });
    const add = h('button', { type: 'button', class: 'btn btn-primary btn-block', 'data-testid': 'repeat-add' },
      this.words(repeat, 'add'));
    add.addEventListener('click', () => {
      const items = Array.isArray(scope.container[repeat.name]) ? scope.container[repeat.name] : [];
      scope.container[repeat.name] = items;
      const item = {};
      const key = repeat.spec.instance_key;
      if (key) item[key] = randomId();
      items.push(item);
      this.syncCount(repeat, scope);
      this.evaluate();
      this.save();
      this.stack.push(this.instanceView(repeat, scope, items.length - 1));
      this.show();
    });
    const box = h('section', { class: 'rf-repeat', 'data-field': path },
      // A top-level repeat names its page (pageTitle); a nested one gets its own heading.
      scope.path ? h('h3', { class: 'rf-repeat-title' }, this.text(repeat.label) || repeat.name) : null,
      list, error, add);
    const draw = () => {
      const items = Array.isArray(scope.container[repeat.name]) ? scope.container[repeat.name] : [];
      const cards = items.map((item, i) => this.card(repeat, scope, item, i));
      clear(list, cards.map((c) => c.el));
      if (!items.length) list.append(h('li', { class: 'rf-cards-empty' }, this.words(repeat, 'empty')));
      return cards;
    };
    let cards = draw();
    this.cards.push({
      update: () => {
        const inst = this.instanceAt(scope.instPath);
        setHidden(box, Boolean(inst && inst.irrelevant.has(repeat.name)));
        const errors = (this.errorsByPath.get(path) || []);
        const show = errors.length && this.showErrorsFor(path);
        setHidden(error, !show);
        setText(error, show ? this.errorText(repeat, errors[0]) : '');
        const items = Array.isArray(scope.container[repeat.name]) ? scope.container[repeat.name] : [];
        if (items.length !== cards.length) cards = draw();
        for (const c of cards) c.update();
      },
    });
    return box;
  }

  syncCount(repeat, scope) {
    const count = this.countField(repeat);
    if (!count) return;
    const items = scope.container[repeat.name];
    scope.container[count.name] = Array.isArray(items) && items.length ? items.length : null;
  }

  /** A summary of one instance: its first text answer, and what identifies it at a glance. */
  cardText(repeat, item, i) {
    const fields = [...repeat.childScope.fields.values()].filter((f) => f.kind === INPUT && f.appearance !== 'hidden');
    const nameField = fields.find((f) => f.type === 'text');
    const title = (nameField && item[nameField.name]) || this.words(repeat, 'item', { n: i + 1 });
    const bits = [];
    for (const f of fields) {
      if (bits.length >= 3) break;
      const v = item[f.name];
      if (v === null || v === undefined || f === nameField) continue;
      if (f.type === 'select_one') {
        const choice = this.form.choiceIndex[f.choices]?.get(v);
        if (choice) bits.push(this.text(choice.label) || v);
      } else if (f.type === 'integer' && bits.length < 3) {
        bits.push(`${this.text(f.label) || f.name}: ${v}`);
      }
    }
    return [title, bits.join(' · ')];
  }

  card(repeat, scope, item, i) {
    const base = scope.path ? `${scope.path}/${repeat.name}/${i}` : `${repeat.name}/${i}`;
    const title = h('span', { class: 'rf-card-title' });
    const sub = h('span', { class: 'rf-card-sub' });
    const badge = h('span', { class: 'rf-card-error', hidden: true });
    const button = h('button', { type: 'button', class: 'rf-card', 'data-testid': 'member-card', 'data-path': base },
      h('span', { class: 'rf-card-n' }, String(i + 1)), h('span', { class: 'rf-card-text' }, title, sub), badge);
    button.addEventListener('click', () => {
      this.stack.push(this.instanceView(repeat, scope, i));
      this.show();
    });
    return {
      el: h('li', {}, button),
      update: () => {
        const [t1, t2] = this.cardText(repeat, item, i);
        setText(title, t1);
        setText(sub, t2);
        const prefix = `${base}/`;
        const n = this.blocking.filter((e) => e.path.startsWith(prefix)).length;
        const show = n > 0 && (this.revealed.has(`inst:${base}`) || this.showErrorsFor(`${scope.path ? `${scope.path}/` : ''}${repeat.name}`)
          || this.revealed.has(this.viewKey(this.stack[this.stack.length - 1])));
        setHidden(badge, !show);
        setText(badge, show ? this.t('form.repeat.problems', { n }) : '');
        button.classList.toggle('rf-card-invalid', Boolean(show));
      },
    };
  }

  instanceView(repeat, scope, index) {
    const path = scope.path ? `${scope.path}/${repeat.name}/${index}` : `${repeat.name}/${index}`;
    return { type: 'instance', repeat, parentScope: scope, index, path };
  }

  showInstance(view) {
    const { repeat, parentScope, index, path } = view;
    const items = parentScope.container[repeat.name];
    const item = items[index];
    const scope = { container: item, instPath: [...parentScope.instPath, [repeat.name, index]], path };
    const heading = h('h2', { class: 'rf-title' });
    const setHeading = () => {
      const [title] = this.cardText(repeat, item, index);
      setText(heading, this.words(repeat, 'heading', { n: index + 1, name: title }));
    };
    setHeading();
    this.groups.push({ update: setHeading });
    const remove = h('button', { type: 'button', class: 'btn btn-danger btn-block', 'data-testid': 'repeat-remove' },
      this.words(repeat, 'remove'));
    let armed = null;
    remove.addEventListener('click', () => {
      // Two taps, so a thumb brushing the button never deletes a person.
      if (!armed) {
        remove.textContent = this.words(repeat, 'remove_confirm');
        remove.classList.add('armed');
        armed = setTimeout(() => { armed = null; remove.textContent = this.words(repeat, 'remove'); remove.classList.remove('armed'); }, 5000);
        return;
      }
      clearTimeout(armed);
      items.splice(index, 1);
      this.syncCount(repeat, parentScope);
      this.touched.add(parentScope.path ? `${parentScope.path}/${repeat.name}` : repeat.name);
      this.evaluate();
      this.save();
      this.stack.pop();
      this.show();
    });
    clear(this.body, heading, this.renderFields(repeat.fields, scope), remove);
    const done = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'repeat-done' }, this.words(repeat, 'done'));
    done.addEventListener('click', () => {
      const problems = this.blockingErrors().filter((e) => e.path.startsWith(`${path}/`));
      if (problems.length && !this.revealed.has(`inst:${path}`)) {
        // Shown once; a second tap leaves anyway (the card keeps the count of problems).
        this.revealed.add(`inst:${path}`);
        this.refresh();
        this.focusFirstError();
        return;
      }
      this.revealed.add(`inst:${path}`);
      this.stack.pop();
      this.show();
    });
    const back = h('button', { type: 'button', class: 'btn' }, this.words(repeat, 'back'));
    back.addEventListener('click', () => { this.stack.pop(); this.show(); });
    clear(this.nav, back, done);
  }

  // ------------------------------------------------------------------ result

  reasons() {
    return explain(this.form, this.result, this.parameters);
  }

  showResult() {
    renderResult(this);
  }

  finish() {
    this.evaluate();
    if (this.blockingErrors().length) {
      this.revealed.add('result');
      this.show();
      return;
    }
    const { answers, outputs } = this.result;
    if (this.options.onFinish) this.options.onFinish({ answers, outputs, reasons: this.reasons() });
  }

  // ------------------------------------------------------------------ lifecycle

  flush() {
    if (!this.destroyed) this.save();
  }

  destroy() {
    for (const c of this.controls) if (c.dispose) c.dispose();
    this.destroyed = true;
    this.root.replaceChildren();
  }
}
