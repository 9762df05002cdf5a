// The phone's own settings, kept in clear: none of them is personal data.
import * as db from './db.js';

export async function setting(name, fallback = null) {
  const record = await db.get('settings', `phone:${name}`);
  return record ? record.value : fallback;
}

export function saveSetting(name, value) {
  return db.put('settings', { key: `phone:${name}`, value });
}

// One id per phone, chosen at first start and never changed (the server binds sessions to it;
// docs/sync.md: "Don't get round auth.device_taken by changing the device_id").
export async function deviceId() {
  let id = await setting('device_id');
  if (!id) {
    id = `phone-${globalThis.crypto.randomUUID()}`;
    await saveSetting('device_id', id);
  }
  return id;
}

// Accounts known on this phone: [{user_id, username, display, lock, failures, locked_until}]
export async function accounts() {
  const keys = await db.allKeys('settings');
  const found = [];
  for (const key of keys) {
    if (String(key).startsWith('account:')) found.push(await db.get('settings', key));
  }
  return found.sort((a, b) => (b.last_used || '').localeCompare(a.last_used || ''));
}

export function account(userId) {
  return db.get('settings', `account:${userId}`);
}

export function saveAccount(record) {
  return db.put('settings', { ...record, key: `account:${record.user_id}` });
}
