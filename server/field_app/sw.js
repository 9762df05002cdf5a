// The field app's service worker. The server prefixes this file with SHELL_VERSION (a hash of
// every file of the shell) and SHELL_FILES (the URLs to keep), see server/field_app/app.py.
//
// - install: every file of the shell goes into a cache named after the version, fetched past
//   the HTTP cache. Nothing else changes yet.
// - a new version then WAITS. It does not call skipWaiting() by itself: the page asks for it
//   when no form is open ("between households"), so a form in progress keeps the code it
//   started with, served from the old cache, online or not.
// - activate: the old caches go; the new worker takes the open pages.
// - fetch: the shell from the cache (the app works offline after the first load); the API is
//   never touched here (the page drives sync and sees every failure itself).
/* global SHELL_VERSION, SHELL_FILES */

const CACHE = `rasoat-shell-${SHELL_VERSION}`;
const PREFIX = 'rasoat-shell-';
let opened = null; // the cache, opened once per worker life rather than per request

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL_FILES.map((url) => new Request(url, { cache: 'reload' })));
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  const data = event.data || {};
  if (data.type === 'skip-waiting') self.skipWaiting();
  if (data.type === 'version' && event.ports && event.ports[0]) event.ports[0].postMessage({ version: SHELL_VERSION });
});

function shellRequest(url) {
  return url.origin === self.location.origin && url.pathname.startsWith('/app/')
    && url.pathname !== '/app/sw.js' && url.pathname !== '/app/version.json';
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (!shellRequest(url)) return;
  event.respondWith((async () => {
    const cache = await (opened ||= caches.open(CACHE));
    const key = request.mode === 'navigate' ? '/app/' : url.pathname;
    const hit = await cache.match(key, { ignoreSearch: true });
    if (hit) return hit;
    return fetch(request); // not part of the shell (or the cache was evicted): the network
  })());
});
