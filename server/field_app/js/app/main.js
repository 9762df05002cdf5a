// The field app's entry point: start-up, the unlocked session, and moving between screens.
//
// Start: open the database, load the catalogues and the clock, register the service worker,
// then "Mở khóa" (a user on this phone) or "Đăng nhập" (none yet). Unlocking gives a Vault
// (the user's key in memory only), an API client and the sync engine; locking or reloading
// forgets them.

const moduleStart = performance.now(); // every module of the first screen has loaded and run
import * as clock from './clock.js';
import { DeviceRevoked, DeviceTaken, Client, SessionEnded } from './api.js';
import { accounts, wipe } from './accounts.js';
import { language, loadLanguages, setLanguage, t } from './i18n.js';
import { deviceId, saveSetting, setting } from './settings.js';
import { checkStorage, askPersistence } from './storage.js';
import { SyncEngine } from './sync.js';
import { Updates } from './update.js';
import { Visits } from './visits.js';
import { AutoLock } from './autolock.js';
import { clear, h } from './ui.js';
import { showLogin, showUnlock } from './screens/auth.js';
import { showHome } from './screens/home.js';
import { showSync } from './screens/sync.js';
import { showVisit, showNewHousehold, showPending } from './screens/visit.js';
import { showHelp, showLogout } from './screens/more.js';

class App {
  constructor(root) {
    this.root = root;
    this.session = null; // {vault, client, visits, engine, user}
    this.inForm = false;
    this.formHandle = null;
    this.storage = null;
    this.notice = null; // a message for the next screen ({text, kind})
    this.updates = new Updates(() => !this.inForm, () => this.refreshBanner(), () => !this.session);
    this.home = { tab: 'assigned', query: '' };
    this.leaveForm = null; // set by an open form: saves its last change and closes it
    this.autolock = new AutoLock(() => this.lockIdle());
  }

  async start() {
    // Everything the first screen needs, at once (a warm start offline should take well under 1 s).
    const [, lang, , device, known] = await Promise.all([loadLanguages(), setting('lang', 'vi'), clock.loadClock(),
      deviceId(), accounts(), this.autolock.load()]);
    setLanguage(lang);
    this.deviceId = device;
    this.updates.register();
    checkStorage().then((s) => { this.storage = s; this.refreshBanner(); });
    if (known.length) showUnlock(this, known);
    else showLogin(this);
    this.updates.apply(); // a version that waited for the last household to end: take it now
    document.body.classList.add('ready');
    // The first screen is usable; when the modules had loaded (bench/field_app_bench.py).
    window.rasoatReadyAt = performance.now();
    window.rasoatModulesAt = moduleStart;
  }

  async switchLanguage() {
    setLanguage(language() === 'vi' ? 'en' : 'vi');
    await saveSetting('lang', language());
    this.redraw();
  }

  redraw() {
    if (this.current) this.current();
  }

  // Remember how to draw the screen again (language switch, sync progress).
  // A notice set before the switch stays on this screen through its redraws.
  screen(draw) {
    this.current = draw;
    this.shownNotice = this.notice;
    this.notice = null;
    draw();
  }

  frame(title, body, { back = null, actions = [] } = {}) {
    this.currentName = null;
    const top = h('header', { class: 'bar' },
      back ? h('button', { type: 'button', class: 'bar-back', onclick: back, 'aria-label': t('nav.back') }, '←') : null,
      h('h1', { class: 'bar-title' }, title),
      h('div', { class: 'bar-actions' }, actions));
    const banners = h('div', { class: 'banners', id: 'banners' });
    clear(this.root, top, banners, h('main', { class: 'screen' }, body));
    this.refreshBanner();
    window.scrollTo(0, 0);
  }

  refreshBanner() {
    const box = document.getElementById('banners');
    if (!box) return;
    const items = [];
    const notice = this.shownNotice;
    if (notice) items.push(h('p', { class: `banner banner-${notice.kind || 'info'}`, role: 'status' }, notice.text));
    if (this.storage && this.session && !this.inForm) {
      if (this.storage.persisted === false) items.push(h('p', { class: 'banner banner-warn', 'data-testid': 'storage-warning' }, t('storage.banner')));
      if (this.storage.low) items.push(h('p', { class: 'banner banner-warn' }, t('storage.low', { free: this.storage.freeText })));
    }
    if (this.session && clock.suspicious()) items.push(h('p', { class: 'banner banner-warn' }, t('clock.suspicious')));
    if (this.updates.waiting && !this.inForm) {
      items.push(h('div', { class: 'banner banner-info banner-update' }, h('span', {}, t('update.ready')),
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.updates.apply() }, t('update.apply'))));
    }
    clear(box, items);
  }

  // --- the unlocked session ------------------------------------------------------------------

  // `tokens`: the answer of a login just made (otherwise the first call refreshes).
  async open(vault, tokens = null) {
    const profile = await vault.profile();
    const client = new Client({ deviceId: this.deviceId, profile, hooks: {
      saveTokens: (p) => vault.saveProfile(p),
      revoked: () => this.revoked(vault.user),
      taken: () => {},
    } });
    const visits = new Visits(vault);
    const engine = new SyncEngine({ client, vault, visits, onChange: () => this.syncChanged() });
    if (tokens) client.adopt(tokens);
    this.session = { vault, client, visits, engine, user: profile.user || { id: vault.user } };
    askPersistence().then((s) => { this.storage = s; this.refreshBanner(); });
    this.showHome();
    this.autolock.start();
    if (navigator.onLine) this.sync({ quiet: true });
  }

  lock() {
    this.autolock.stop();
    this.current = null; // nothing of the session's screens is drawn again
    if (this.session) {
      this.session.engine.stop();
      this.session.vault.forget();
    }
    this.session = null;
    this.inForm = false;
    this.leaveForm = null;
    this.updates.apply();
    accounts().then((known) => (known.length ? showUnlock(this, known) : showLogin(this)));
  }

  // Idle too long ("Tự khóa"): an open form writes its last change and closes, then the lock.
  async lockIdle() {
    if (!this.session) return;
    const inForm = Boolean(this.leaveForm);
    if (inForm) {
      try { await this.leaveForm(); } catch (e) { /* every change was already written by onChange */ }
      this.home.tab = 'drafts';
    }
    const text = t('autolock.locked', { n: this.autolock.minutes });
    this.notice = { text: inForm ? `${text} ${t('autolock.draft_kept')}` : text, kind: 'info' };
    this.lock();
  }

  // The server said this phone is revoked: the phone is lost or retired, so every account's data
  // leaves it at once, not only the one that heard the news (the others may never unlock again).
  async revoked(userId) {
    this.autolock.stop();
    if (this.session) this.session.engine.stop();
    if (this.formHandle) { try { this.formHandle.destroy(); } catch (e) { /* already gone */ } }
    this.formHandle = null;
    this.leaveForm = null;
    this.inForm = false;
    await this.wipeEveryone(userId);
    this.session = null;
    this.notice = { text: t('auth.revoked'), kind: 'error' };
    const known = await accounts();
    if (known.length) showUnlock(this, known); else showLogin(this);
  }

  async wipeEveryone(userId = null) {
    const ids = new Set((await accounts()).map((a) => a.user_id));
    if (userId) ids.add(userId);
    for (const id of ids) await wipe(id);
  }

  async sync({ quiet = false } = {}) {
    if (!this.session) return null;
    try {
      return await this.session.engine.run();
    } catch (error) {
      if (error instanceof DeviceRevoked) return null; // already handled: data wiped
      if (!quiet || error instanceof SessionEnded || error instanceof DeviceTaken) this.syncChanged();
      return null;
    }
  }

  syncChanged() {
    // A run that ends after the lock has nothing to show (and no session to read).
    if (this.session && this.onSyncChange) this.onSyncChange();
  }

  showHome(tab) { if (tab) this.home.tab = tab; this.inForm = false; showHome(this); }
  showSync() { this.inForm = false; showSync(this); }
  showHelp() { this.inForm = false; showHelp(this); }
  showLogout() { this.inForm = false; showLogout(this); }
  showNewHousehold() { showNewHousehold(this); }
  showPending(entry) { this.inForm = false; showPending(this, entry); }
  openVisit(draft) { showVisit(this, draft); }

  // An assigned household: a new visit on the newest published version of its form, prefilled.
  async startVisit(household) {
    const { visits } = this.session;
    const form = await visits.formForNewVisit(household.form_id);
    if (!form) { this.notice = { text: t('new.nothing'), kind: 'warn' }; this.showHome(); return; }
    this.openVisit(await visits.start({ form, household }));
  }
}

const app = new App(document.getElementById('app'));
window.rasoatApp = app; // for the browser tests and for debugging on a phone
app.start().catch((error) => {
  document.getElementById('app').textContent = String(error && error.stack || error);
});
