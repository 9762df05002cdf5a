// App updates, applied only between households.
//
// The browser installs a new service worker in the background (a new release changes sw.js);
// it then *waits*: the old worker keeps serving the old files, so a form that is open keeps
// working offline with the code it started with. The page tells the waiting worker to take
// over only when no form is open (`isIdle`), and reloads once it controls the page.

export class Updates {
  // isIdle(): no form is open. isLocked(): nobody is unlocked (the update is taken at once, before
  // the PIN is typed). changed(): a version is waiting (the page shows "Cập nhật ngay").
  constructor(isIdle, changed, isLocked = () => false) {
    this.isIdle = isIdle;
    this.isLocked = isLocked;
    this.changed = changed;
    this.registration = null;
    this.waiting = false;
    this.reloading = false;
  }

  async register() {
    if (!('serviceWorker' in navigator)) return;
    let controlled = Boolean(navigator.serviceWorker.controller);
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      // The first install claims the page: nothing to reload. Later, a new version took over.
      if (!controlled) { controlled = true; return; }
      if (this.reloading) return;
      this.reloading = true;
      window.location.reload();
    });
    try {
      this.registration = await navigator.serviceWorker.register('/app/sw.js', { scope: '/app/', updateViaCache: 'none' });
    } catch (error) {
      return; // no service worker (private mode): the app still runs online
    }
    const watch = (worker) => {
      if (!worker) return;
      const seen = () => {
        if (worker.state === 'installed' && navigator.serviceWorker.controller) {
          this.waiting = true;
          if (this.isLocked()) this.apply();
          else this.changed();
        }
      };
      worker.addEventListener('statechange', seen);
      seen();
    };
    watch(this.registration.waiting);
    this.registration.addEventListener('updatefound', () => watch(this.registration.installing));
    // Look for a new release now and then, and when the network comes back.
    window.addEventListener('online', () => this.check());
    setInterval(() => this.check(), 30 * 60 * 1000);
  }

  check() {
    if (this.registration && navigator.onLine) this.registration.update().catch(() => {});
  }

  // Take the waiting version now, if no form is open. -> true when the page is about to reload.
  apply() {
    const waiting = this.registration && this.registration.waiting;
    if (!waiting || !navigator.serviceWorker.controller || !this.isIdle()) return false;
    waiting.postMessage({ type: 'skip-waiting' });
    return true;
  }
}
