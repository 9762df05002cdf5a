// "Thêm": language, installing to the home screen, about, and logging out.
//
// Logging out ends the server session and locks the phone. It deletes the user's data only when
// asked, and says first what would be lost: visits not yet sent are never deleted silently.

import { language, t } from '../i18n.js';
import { wipe } from '../accounts.js';
import { collect } from './home.js';
import { button, field, h, message } from '../ui.js';
import { CHOICES } from '../autolock.js';

let installPrompt = null;
window.addEventListener('beforeinstallprompt', (event) => {
  event.preventDefault(); // shown from our own button, at a calm moment
  installPrompt = event;
});

async function shellVersion() {
  try {
    const r = await fetch('/app/version.json', { cache: 'no-store' });
    return (await r.json()).version;
  } catch (error) {
    return null;
  }
}

// "Tự khóa sau": the idle minutes before the app locks itself (autolock.js).
function autolock(app) {
  const select = h('select', { name: 'lock-after', onchange: () => app.autolock.choose(Number(select.value)) },
    CHOICES.map((n) => h('option', { value: String(n), selected: n === app.autolock.minutes }, t('autolock.minutes', { n }))));
  return select;
}

export function showHelp(app) {
  app.screen(async () => {
    const standalone = window.matchMedia && window.matchMedia('(display-mode: standalone)').matches;
    const install = h('section', { class: 'card stack', id: 'install' },
      h('h2', {}, t('install.title')),
      standalone ? h('p', {}, t('install.done')) : [
        installPrompt ? button(t('install.button'), async () => {
          installPrompt.prompt();
          await installPrompt.userChoice;
          installPrompt = null;
          app.redraw();
        }, 'btn btn-primary btn-block') : null,
        h('ol', { class: 'steps' }, ['install.step1', 'install.step2', 'install.step3'].map((k) => h('li', {}, t(k)))),
        h('p', { class: 'hint' }, t('install.why'))]);
    const version = navigator.onLine ? await shellVersion() : null;
    app.frame(t('more.title'), [
      h('section', { class: 'card stack' }, h('h2', {}, t('more.language')),
        button(language() === 'vi' ? 'English' : 'Tiếng Việt', () => app.switchLanguage(), 'btn btn-block')),
      install,
      h('section', { class: 'card stack' }, h('h2', {}, t('more.account')),
        h('p', {}, t('more.signed_in_as', { name: app.session.client.profile.user?.username || '' })),
        field(t('autolock.label'), autolock(app), t('autolock.hint')),
        button(t('more.lock'), () => app.lock(), 'btn btn-block'),
        button(t('logout.button'), () => app.showLogout(), 'btn btn-block btn-danger-outline', { 'data-testid': 'logout' })),
      h('p', { class: 'hint about' }, t('more.about', { device: app.deviceId, version: version || '—' })),
    ], { back: () => app.showHome() });
  });
}

export function showLogout(app) {
  app.screen(async () => {
    const lists = await collect(app.session.visits);
    const unsent = lists.drafts.length + lists.fix.length + lists.pending.length;
    const { client, vault } = app.session;
    const endSession = async () => {
      await client.logout();
      await vault.saveProfile(client.profile);
    };
    const keep = button(t('logout.keep'), async () => { await endSession(); app.lock(); }, 'btn btn-block', { 'data-testid': 'logout-keep' });
    const remove = button(unsent ? t('logout.delete_unsent', { n: unsent }) : t('logout.delete'), async () => {
      if (unsent && !window.confirm(t('logout.confirm_unsent', { n: unsent }))) return;
      await endSession();
      const user = vault.user;
      app.session.engine.stop();
      app.session = null;
      await wipe(user);
      app.notice = { text: t('logout.deleted'), kind: 'ok' };
      app.lock();
    }, unsent ? 'btn btn-block btn-danger' : 'btn btn-block btn-primary', { 'data-testid': 'logout-delete' });
    app.frame(t('logout.title'), [
      unsent ? message(t('logout.unsent', { n: unsent }), 'warn') : message(t('logout.all_sent'), 'ok'),
      unsent ? button(t('sync.now'), () => app.showSync(), 'btn btn-primary btn-block') : null,
      h('section', { class: 'card stack' }, h('p', {}, t('logout.keep_explain')), keep),
      h('section', { class: 'card stack' }, h('p', {}, t('logout.delete_explain')), remove),
    ], { back: () => app.showHelp() });
  });
}
