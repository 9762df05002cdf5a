// "Phiếu": a household visit, hosted around the form renderer (js/form/, mountForm).
//
// The draft is written to IndexedDB after every change (onChange), in order, and the screen says
// "saved on this phone" only once the write has completed. "Hoàn tất" moves the visit to the
// outbox in one transaction. The draft keeps the form version it started with.

import * as clock from '../clock.js';
import { formatDateTime, language, t } from '../i18n.js';
import { sha256Hex } from '../crypto.js';
import { explainError } from '../explain.js';
import { summaryOf } from '../visits.js';
import { button, clear, field, h, message } from '../ui.js';

function formTitle(form) {
  const title = form.title || form.definition?.title;
  if (title && typeof title === 'object') return title[language()] || title.vi || Object.values(title)[0];
  return title || form.form_id;
}

export function errorItem(error, definition) {
  const { question, what, detail } = explainError(error, definition);
  return h('li', { 'data-code': error.code }, question ? h('strong', {}, `${question}: `) : null, what,
    detail ? h('span', { class: 'hint server-said' }, t('fix.server_said', { detail })) : null);
}

function fixBanner(draft, definition) {
  if (!draft.fix) return null;
  const fix = draft.fix;
  if (fix.kind === 'rejected' && fix.errors && fix.errors.length) {
    return h('section', { class: 'fix fix-rejected', role: 'alert', 'data-testid': 'fix-banner' },
      h('h2', {}, t('fix.rejected_title')),
      h('ul', {}, fix.errors.map((e) => errorItem(e, definition))),
      h('p', { class: 'hint' }, t('fix.rejected_hint')));
  }
  return h('section', { class: 'fix', role: 'alert', 'data-testid': 'fix-banner' },
    h('h2', {}, t(`fix.kind.${fix.kind}`)),
    h('p', { class: 'fix-comment' }, fix.comment || ''),
    fix.at ? h('p', { class: 'hint' }, formatDateTime(fix.at)) : null);
}

export async function showVisit(app, draft) {
  const { visits, vault } = app.session;
  const form = await visits.form(draft.form_id, draft.form_version);
  app.inForm = true;
  app.currentName = 'visit';
  const saved = h('p', { class: 'saved', 'aria-live': 'polite', 'data-testid': 'saved' });
  const root = h('div', { class: 'form-root' });
  let handle = null;
  let writes = Promise.resolve();
  // Close the form once its last change is written (leaving it, or the idle lock).
  const close = async () => {
    try { if (handle) handle.flush(); } catch (e) { /* the last change is saved by onChange */ }
    await writes;
    try { if (handle) handle.destroy(); } catch (e) { /* nothing to undo */ }
    handle = null;
    app.formHandle = null;
    app.leaveForm = null;
    app.inForm = false;
  };
  const leave = async (tab = 'drafts') => {
    await close();
    app.showHome(tab);
  };
  app.leaveForm = close;
  app.current = () => {}; // a language switch never rebuilds an open form
  app.frame(form ? formTitle(form) : t('visit.title'), [fixBanner(draft, form?.definition), saved, root], { back: () => leave() });
  if (!form || !form.definition) {
    clear(root, message(t('visit.no_form'), 'error'));
    return;
  }
  let mountForm;
  try {
    ({ mountForm } = await import('../../form/index.js'));
  } catch (error) {
    clear(root, message(t('visit.renderer_missing'), 'error'));
    return;
  }
  const household = draft.household_rev && draft.rev === 1 && !draft.fix
    ? await vault.get('households', draft.household_id) : null;
  handle = mountForm(root, {
    definition: form.definition,
    parameters: form.parameters || form.definition.parameters || {},
    answers: draft.answers || {},
    prefill: household,
    lang: language(),
    t,
    now: () => clock.now(),
    saveFile: async (blob, meta) => {
      const sha256 = await sha256Hex(await blob.arrayBuffer());
      await vault.putFile(sha256, blob.type ? blob : new Blob([blob], { type: meta?.type || 'application/octet-stream' }));
      return `sha256:${sha256}`;
    },
    loadFile: async (ref) => vault.getFile(String(ref).replace(/^sha256:/, '')),
    onChange: (answers) => {
      const copy = JSON.parse(JSON.stringify(answers));
      writes = writes.then(() => visits.save(draft, copy)).then(() => {
        saved.textContent = t('visit.saved', { time: formatDateTime(clock.now()) });
        saved.dataset.state = 'saved';
      }, (error) => {
        saved.textContent = t('visit.not_saved', { detail: error.message });
        saved.dataset.state = 'error';
      });
    },
    onFinish: async ({ answers, outputs }) => {
      await writes;
      await visits.finish(draft, { answers: JSON.parse(JSON.stringify(answers)), outputs });
      try { handle.destroy(); } catch (e) { /* gone */ }
      app.formHandle = null;
      app.leaveForm = null;
      app.inForm = false;
      app.notice = { text: t('visit.finished'), kind: 'ok' };
      app.showHome('pending');
      if (navigator.onLine) app.sync({ quiet: true });
    },
    onExit: () => leave(),
  });
  app.formHandle = handle;
}

// "+ Hộ mới": which village and which form, then a new draft.
export async function showNewHousehold(app) {
  const { visits, client } = app.session;
  // Every published version, the newest first and chosen (a commune may still be told to use
  // the previous standard's form).
  const choices = (await visits.forms()).filter((f) => f.state === 'published' && f.definition)
    .sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0));
  const byKey = new Map(choices.map((f) => [`${f.form_id}@${f.version}`, f]));
  const areas = (client.profile.areas || []).filter((a) => a.level === 'village');
  const places = areas.length ? areas : (client.profile.areas || []).filter((a) => a.level === 'commune');
  app.currentName = 'new';
  app.screen(() => {
    if (!choices.length || !places.length) {
      app.frame(t('new.title'), [message(t('new.nothing'), 'warn'),
        button(t('sync.now'), () => app.showSync(), 'btn btn-primary btn-block')], { back: () => app.showHome() });
      return;
    }
    const formSelect = h('select', { name: 'form' }, choices.map((f) =>
      h('option', { value: `${f.form_id}@${f.version}` }, `${formTitle(f)} (${f.version})`)));
    const areaSelect = h('select', { name: 'area' }, places.map((a) => h('option', { value: a.code }, a.name)));
    const start = async () => {
      const form = byKey.get(formSelect.value);
      const area = places.find((a) => a.code === areaSelect.value);
      const draft = await visits.start({ form, area: area.code, areaType: area.area_type || areaTypeOf(app, area) });
      app.openVisit(draft);
    };
    app.frame(t('new.title'), [h('div', { class: 'card stack' },
      field(t('new.area'), areaSelect), field(t('new.form'), formSelect),
      button(t('new.start'), start, 'btn btn-primary btn-block', { 'data-testid': 'start-visit' }))],
    { back: () => app.showHome() });
  });
}

// A village's rural/urban setting is its commune's.
function areaTypeOf(app, area) {
  const parent = (app.session.client.profile.areas || []).find((a) => a.code === area.parent);
  return parent ? parent.area_type : null;
}

// A visit waiting in "Chờ gửi": what it is, and "Sửa lại" (back to the drafts, same ids) while
// it has not been sent. The push may send it while this screen is open: then it says so.
export function showPending(app, entry) {
  const { visits, engine } = app.session;
  const summary = summaryOf(entry);
  app.currentName = 'pending';
  const edit = async () => {
    const draft = await engine.exclusive(() => visits.unqueue(entry.id));
    if (!draft) {
      app.notice = { text: t('pending.already_sent'), kind: 'warn' };
      app.showHome('sent');
      return;
    }
    app.openVisit(draft);
  };
  app.screen(() => {
    app.frame(t('pending.title'), [h('div', { class: 'card stack', 'data-testid': 'pending-detail' },
      h('h2', {}, summary.head_name || entry.head_name || t('home.no_name')),
      h('p', {}, [summary.household_code, t('home.finished_at', { time: formatDateTime(entry.queued_at) })]
        .filter(Boolean).join(' · ')),
      entry.outputs?.classification ? h('p', {}, t(`class.${entry.outputs.classification}`)) : null,
      h('p', { class: 'hint' }, t('pending.explain')),
      button(t('pending.edit'), edit, 'btn btn-primary btn-block', { 'data-testid': 'pending-edit' }),
      button(t('pending.keep'), () => app.showHome('pending'), 'btn btn-block'))],
    { back: () => app.showHome('pending') });
  });
}
