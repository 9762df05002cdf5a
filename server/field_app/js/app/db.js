// IndexedDB for the field app: one database, one store per kind of thing the phone keeps.
//
//   settings   — the phone's own settings (device id, language, clock offset) and, per user,
//                the account record (PIN salt, wrapped key) and the encrypted profile.
//   forms      — form versions (definition + effective parameters) a user has downloaded.
//   households — households pulled for prefill (last year's record, with its rev).
//   drafts     — visits being filled (saved on every change), and visits reopened for edits.
//   outbox     — finalised visits waiting to be sent, and those already sent (the "Đã gửi" tab).
//   files      — photos and other attachments, by SHA-256.
//
// Every record but the phone's own settings is {key: "<user>|<id>", user, iv, data}: `data` is
// encrypted with that user's key (see vault.js), so two users of one phone never read each
// other's work, and a lost phone leaks nothing without the PIN.
//
// Browsers close an idle database connection when a tab sits in the background (and Chrome
// closes it when storage is cleared or the disk is full): `onclose` forgets the connection, and
// an operation that meets a closed one (InvalidStateError) opens it again and runs once more.

const NAME = 'rasoat-field';
const VERSION = 1;
export const USER_STORES = ['forms', 'households', 'drafts', 'outbox', 'files'];
export const STORES = ['settings', ...USER_STORES];

let connection = null;
let opening = null;
export const stats = { reopened: 0 };

function open() {
  if (connection) return Promise.resolve(connection);
  if (opening) return opening;
  opening = new Promise((resolve, reject) => {
    const request = indexedDB.open(NAME, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      for (const name of STORES) {
        if (!db.objectStoreNames.contains(name)) {
          const store = db.createObjectStore(name, { keyPath: 'key' });
          if (name !== 'settings') store.createIndex('user', 'user');
        }
      }
    };
    request.onsuccess = () => {
      const db = request.result;
      db.onclose = () => { if (connection === db) connection = null; };
      // Another tab upgrading the database: let it, and reopen on next use.
      db.onversionchange = () => { db.close(); if (connection === db) connection = null; };
      connection = db;
      resolve(db);
    };
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('indexeddb-blocked'));
  }).finally(() => { opening = null; });
  return opening;
}

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

// Run `work(tx)` in a transaction over `stores`; retried once on a connection the browser closed.
async function run(stores, mode, work) {
  for (let attempt = 0; ; attempt += 1) {
    const db = await open();
    let tx;
    try {
      tx = db.transaction(stores, mode);
    } catch (error) {
      if (attempt === 0 && error && error.name === 'InvalidStateError') {
        if (connection === db) connection = null;
        stats.reopened += 1;
        continue;
      }
      throw error;
    }
    const finished = done(tx);
    finished.catch(() => {}); // reported through `await finished` below
    const result = await work(tx);
    await finished;
    return result;
  }
}

export function get(store, key) {
  return run([store], 'readonly', (tx) => promised(tx.objectStore(store).get(key)));
}

export function put(store, record) {
  return run([store], 'readwrite', (tx) => { tx.objectStore(store).put(record); });
}

export function remove(store, key) {
  return run([store], 'readwrite', (tx) => { tx.objectStore(store).delete(key); });
}

export function allOfUser(store, user) {
  return run([store], 'readonly', (tx) => promised(tx.objectStore(store).index('user').getAll(user)));
}

export function allKeys(store) {
  return run([store], 'readonly', (tx) => promised(tx.objectStore(store).getAllKeys()));
}

// Several writes that must happen together (a visit leaving the drafts for the outbox).
// `writes`: [{store, put: record} | {store, remove: key}]
export function atomically(writes) {
  const stores = [...new Set(writes.map((w) => w.store))];
  return run(stores, 'readwrite', (tx) => {
    for (const w of writes) {
      if (w.put) tx.objectStore(w.store).put(w.put);
      else tx.objectStore(w.store).delete(w.remove);
    }
  });
}

// Everything of one user, in every store (a revoked device, or a logout that deletes).
export async function wipeUser(user) {
  await run(USER_STORES, 'readwrite', async (tx) => {
    for (const name of USER_STORES) {
      const keys = await promised(tx.objectStore(name).index('user').getAllKeys(user));
      for (const key of keys) tx.objectStore(name).delete(key);
    }
  });
  await run(['settings'], 'readwrite', (tx) => {
    const store = tx.objectStore('settings');
    store.delete(`account:${user}`);
    store.delete(`profile:${user}`);
  });
}

// For the browser tests: the browser dropping the connection while the app is in the background.
export function dropConnection() {
  if (connection) connection.close();
}
