// "Đăng nhập" (online, once), choosing the PIN, and "Mở khóa" (offline, every start).

import { ApiError, NetworkError } from '../api.js';
import { PIN_LENGTH, createAccount, login, unlock, validPin } from '../accounts.js';
import { account } from '../settings.js';
import { language, t } from '../i18n.js';
import { button, clear, field, h, message } from '../ui.js';

function langButton(app) {
  return button(language() === 'vi' ? 'English' : 'Tiếng Việt', () => app.switchLanguage(), 'btn btn-bar');
}

function pinInput(name, autocomplete = 'off') {
  return h('input', { type: 'password', name, inputmode: 'numeric', pattern: '[0-9]*', maxlength: PIN_LENGTH,
    autocomplete, class: 'pin', required: true });
}

function loginError(error) {
  if (error instanceof NetworkError) return t('auth.offline');
  if (error instanceof ApiError) {
    if (error.code === 'auth.invalid_credentials') return t('auth.invalid_credentials');
    if (error.code === 'auth.device_revoked') return t('auth.revoked');
    if (error.code === 'auth.device_taken') return t('auth.device_taken');
    if (error.status === 429) return t('auth.rate_limited', { seconds: error.retryAfter || 60 });
  }
  return t('error.unexpected', { detail: error.message });
}

export function showLogin(app, { username = '' } = {}) {
  app.screen(() => {
    const user = h('input', { type: 'text', name: 'username', autocomplete: 'username', autocapitalize: 'none',
      spellcheck: 'false', required: true, value: username });
    const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
    const status = h('div', { class: 'status-line' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('auth.login'));
    const form = h('form', { class: 'card stack', onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      clear(status, message(t('auth.logging_in')));
      try {
        const tokens = await login(user.value.trim(), password.value);
        const existing = await account(tokens.user.id);
        if (existing) showUnlock(app, [existing], { tokens });
        else showChoosePin(app, tokens);
      } catch (error) {
        // A revoked phone keeps nobody's data, whoever tries to log in on it.
        if (error instanceof ApiError && error.code === 'auth.device_revoked') await app.wipeEveryone();
        clear(status, message(loginError(error), 'error'));
        submit.disabled = false;
      }
    } }, field(t('auth.username'), user), field(t('auth.password'), password), status, submit,
    h('p', { class: 'hint' }, t('auth.login_hint')));
    const others = [];
    app.frame(t('auth.login_title'), [h('p', { class: 'lead' }, t('app.tagline')), form, ...others],
      { actions: [langButton(app)] });
    user.focus();
  });
}

function showChoosePin(app, tokens) {
  app.screen(() => {
    const pin = pinInput('pin', 'new-password');
    const again = pinInput('pin-again', 'new-password');
    const status = h('div', { class: 'status-line' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('pin.save'));
    const form = h('form', { class: 'card stack', onsubmit: async (event) => {
      event.preventDefault();
      if (!validPin(pin.value)) { clear(status, message(t('pin.invalid', { n: PIN_LENGTH }), 'error')); return; }
      if (pin.value !== again.value) { clear(status, message(t('pin.mismatch'), 'error')); return; }
      submit.disabled = true;
      clear(status, message(t('pin.securing')));
      const vault = await createAccount(tokens, pin.value);
      await app.open(vault, tokens);
    } }, h('p', {}, t('pin.explain', { n: PIN_LENGTH })), field(t('pin.new'), pin), field(t('pin.again'), again), status, submit);
    app.frame(t('pin.title'), [h('p', { class: 'lead' }, t('pin.hello', { name: tokens.user.username })), form],
      { actions: [langButton(app)] });
    pin.focus();
  });
}

// `tokens`: a fresh login of a user who already has data on this phone (their PIN opens it).
export function showUnlock(app, known, { tokens = null } = {}) {
  let chosen = known[0];
  app.screen(() => {
    const pin = pinInput('pin', 'current-password');
    const status = h('div', { class: 'status-line' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('unlock.button'));
    const people = known.length > 1 ? h('div', { class: 'choices', role: 'radiogroup', 'aria-label': t('unlock.who') },
      known.map((a) => button(a.username, () => { chosen = a; app.redraw(); },
        `choice${a.user_id === chosen.user_id ? ' chosen' : ''}`, { role: 'radio', 'aria-checked': String(a.user_id === chosen.user_id) })))
      : null;
    const form = h('form', { class: 'card stack', onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      clear(status, message(t('unlock.opening')));
      const outcome = await unlock(chosen.user_id, pin.value);
      if (outcome.vault) {
        if (tokens) {
          const profile = await outcome.vault.profile();
          await outcome.vault.saveProfile({ ...profile, refresh_token: tokens.refresh_token, user: tokens.user });
        }
        await app.open(outcome.vault, tokens);
        return;
      }
      pin.value = '';
      submit.disabled = false;
      const seconds = Math.ceil((outcome.waitMs || 0) / 1000);
      clear(status, message(outcome.wrong
        ? (seconds ? t('unlock.wrong_wait', { seconds }) : t('unlock.wrong', { n: outcome.failures }))
        : t('unlock.wait', { seconds }), 'error'));
      pin.focus();
    } },
    people,
    h('p', { class: 'who' }, t('unlock.as', { name: chosen.username })),
    field(t('unlock.pin'), pin), status, submit);
    const other = button(t('unlock.other_account'), () => showLogin(app), 'btn btn-link');
    app.frame(t('unlock.title'), [form, tokens ? null : other], { actions: [langButton(app)] });
    pin.focus();
  });
}
