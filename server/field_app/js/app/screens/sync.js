// "Đồng bộ": what waits to be sent, when the phone last synced, what each item's answer was,
// the storage status, and "Đồng bộ ngay".

import * as clock from '../clock.js';
import { DeviceTaken, NetworkError, SessionEnded, ApiError, send } from '../api.js';
import { formatDateTime, t } from '../i18n.js';
import { checkStorage } from '../storage.js';
import { button, clear, field, h, message } from '../ui.js';
import { errorItem } from './visit.js';

function errorText(error) {
  if (!error) return null;
  if (error instanceof NetworkError) return t('sync.error.offline');
  if (error instanceof SessionEnded) return t('sync.error.session');
  if (error instanceof DeviceTaken) return t('auth.device_taken');
  if (error instanceof ApiError) {
    if (error.status === 429 || error.status === 503) return t('sync.error.busy');
    return t('sync.error.server', { detail: error.message });
  }
  return t('error.unexpected', { detail: error.message });
}

function resultLine(r, forms) {
  const title = r.head_name || r.household_code || r.id.slice(0, 8);
  return h('li', { class: `result result-${r.status}`, 'data-status': r.status },
    h('span', { class: 'result-title' }, title),
    h('span', { class: 'chip' }, t(`sync.status.${r.status}`)),
    r.errors && r.errors.length && r.status === 'rejected'
      ? h('ul', { class: 'result-errors' }, r.errors.map((e) => errorItem(e, forms.get(r.form)?.definition)))
      : null);
}

// Type the password again when the session has ended (the PIN keeps the data open meanwhile).
function relogin(app, box) {
  const password = h('input', { type: 'password', autocomplete: 'current-password', name: 'password' });
  const status = h('div');
  const form = h('form', { class: 'card stack', onsubmit: async (event) => {
    event.preventDefault();
    const { client, vault } = app.session;
    try {
      const { data } = await send('POST', '/api/v1/auth/login', { json: {
        username: client.profile.user.username, password: password.value, device_id: client.deviceId } });
      if (data.user.id !== vault.user) throw new Error('another user');
      client.adopt(data);
      await vault.saveProfile(client.profile);
      app.session.engine.lastError = null;
      await app.sync();
      app.redraw();
    } catch (error) {
      clear(status, message(error instanceof ApiError && error.code === 'auth.invalid_credentials'
        ? t('auth.invalid_credentials') : errorText(error), 'error'));
    }
  } }, h('p', {}, t('sync.relogin')), field(t('auth.password'), password), status,
  h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('auth.login')));
  box.append(form);
}

export function showSync(app) {
  app.screen(async () => {
    const { engine, visits, client } = app.session;
    const outbox = await visits.outbox();
    const pending = outbox.filter((e) => e.status === 'pending');
    const files = outbox.reduce((n, e) => n + (e.missing_attachments || []).length, 0);
    const storage = await checkStorage();
    app.storage = storage;
    const running = Boolean(engine.running);
    const error = engine.lastError;
    const box = h('div', { class: 'stack' });
    const now = button(running ? t('sync.running') : t('sync.now'), async () => {
      await app.sync();
      app.redraw();
    }, 'btn btn-primary btn-block', { disabled: running || undefined, 'data-testid': 'sync-now' });
    const results = client.profile.last_results || [];
    const forms = new Map((await visits.forms()).map((f) => [`${f.form_id}@${f.version}`, f]));
    clear(box,
      h('section', { class: 'card stats' },
        h('dl', {},
          h('dt', {}, t('sync.pending')), h('dd', { 'data-testid': 'pending-count' }, String(pending.length)),
          h('dt', {}, t('sync.files')), h('dd', {}, String(files)),
          h('dt', {}, t('sync.last')), h('dd', { 'data-testid': 'last-sync' },
            client.profile.last_sync_at ? formatDateTime(client.profile.last_sync_at) : t('sync.never')),
          engine.nextAttemptAt && !running ? [h('dt', {}, t('sync.next')), h('dd', {}, formatDateTime(engine.nextAttemptAt + clock.offset()))] : null,
          h('dt', {}, t('sync.network')), h('dd', {}, navigator.onLine ? t('sync.online') : t('sync.offline')))),
      error ? message(errorText(error), 'error') : null,
      now,
      results.length ? h('section', { class: 'card' }, h('h2', {}, t('sync.results')),
        h('ul', { class: 'results', 'data-testid': 'results' }, results.map((r) => resultLine(r, forms)))) : null,
      h('section', { class: 'card' }, h('h2', {}, t('storage.title')),
        h('p', { 'data-testid': 'storage-persisted' }, storage.persisted ? t('storage.persistent') : t('storage.not_persistent')),
        storage.quota ? h('p', {}, t('storage.usage', { used: storage.usageText, free: storage.freeText })) : null,
        storage.low ? message(t('storage.low', { free: storage.freeText }), 'warn') : null));
    if (error instanceof SessionEnded) relogin(app, box);
    app.frame(t('sync.title'), box, { back: () => app.showHome() });
    app.currentName = 'sync';
    app.onSyncChange = () => { if (app.currentName === 'sync') app.redraw(); };
  });
}

