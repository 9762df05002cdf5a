// "Tự khóa": after N minutes without a touch or a key press, the app locks as "Khóa ứng dụng"
// does. A phone left on a table in the commune hall must not show a household's data to whoever
// picks it up. An open form is closed first (its draft is saved on every change; the last write
// is awaited), then the keys are forgotten and the PIN is asked again.
//
// N is the phone's own setting `lock_after_minutes` (in clear: not personal), chosen in "Thêm",
// read at start. Timers are throttled or frozen while the page is hidden, so the idle time is
// also checked as soon as the page becomes visible again.

import { saveSetting, setting } from './settings.js';

export const CHOICES = [1, 2, 5, 10, 30];
export const DEFAULT_MINUTES = 5;
const ACTIVITY = ['pointerdown', 'keydown', 'input', 'touchstart', 'wheel', 'scroll'];
const MINUTE = 60 * 1000;

export class AutoLock {
  constructor(onIdle) {
    this.onIdle = onIdle;
    this.minutes = DEFAULT_MINUTES;
    this.last = Date.now();
    this.timer = null;
    this.active = false;
    const touched = () => { this.last = Date.now(); };
    for (const name of ACTIVITY) document.addEventListener(name, touched, { capture: true, passive: true });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.check();
    });
  }

  async load() {
    const value = Number(await setting('lock_after_minutes', DEFAULT_MINUTES));
    this.minutes = CHOICES.includes(value) ? value : DEFAULT_MINUTES;
    return this.minutes;
  }

  async choose(minutes) {
    this.minutes = CHOICES.includes(minutes) ? minutes : DEFAULT_MINUTES;
    await saveSetting('lock_after_minutes', this.minutes);
    this.arm();
  }

  // While a user is unlocked.
  start() {
    this.active = true;
    this.last = Date.now();
    this.arm();
  }

  stop() {
    this.active = false;
    clearTimeout(this.timer);
    this.timer = null;
  }

  // One timer, set for the moment the idle time would be reached; activity only moves `last`,
  // and the timer, when it fires early because of it, is set again.
  arm() {
    clearTimeout(this.timer);
    if (!this.active) return;
    const left = this.last + this.minutes * MINUTE - Date.now();
    this.timer = setTimeout(() => this.check(), Math.max(0, left));
  }

  check() {
    if (!this.active) return;
    if (Date.now() - this.last >= this.minutes * MINUTE) {
      this.stop();
      this.onIdle();
    } else {
      this.arm();
    }
  }
}
