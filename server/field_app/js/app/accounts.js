// Accounts on a shared phone: log in online once, choose a PIN, unlock offline with it.
//
// Per user, `settings` holds an account record in clear (user id, username, the wrapped data
// key, failed attempts) and an encrypted profile (refresh token, areas, pull cursor, last sync).
// Nothing else about a user is readable without their PIN.

import * as db from './db.js';
import { createLock, openLock } from './crypto.js';
import { APP_VERSION, send } from './api.js';
import { account, accounts, deviceId, saveAccount } from './settings.js';
import { Vault } from './vault.js';

export const PIN_LENGTH = 6;
// After this many wrong PINs in a row, each further try waits longer (30 s, 1 min, 2 min, …):
// guessing a 6-digit PIN through the app becomes impractical.
const FREE_TRIES = 5;

export { accounts };

export function validPin(pin) {
  return new RegExp(`^\\d{${PIN_LENGTH}}$`).test(pin) && !/^(\d)\1+$/.test(pin) && !['123456', '654321'].includes(pin);
}

// -> {tokens} or throws ApiError / NetworkError
export async function login(username, password) {
  const device = await deviceId();
  const { data } = await send('POST', '/api/v1/auth/login', { json: {
    username, password, device_id: device, device_name: navigator.userAgent.slice(0, 200), app_version: APP_VERSION,
  } });
  return data;
}

// First login of this user on this phone: the PIN makes their data key.
export async function createAccount(tokens, pin) {
  const user = tokens.user;
  const { key, lock } = await createLock(pin, user.id);
  await saveAccount({ user_id: user.id, username: user.username, lock, failures: 0, locked_until: 0,
    last_used: new Date().toISOString() });
  const vault = new Vault(user.id, key);
  await vault.saveProfile({ refresh_token: tokens.refresh_token, user });
  return vault;
}

export function lockedFor(record, nowMs = Date.now()) {
  return Math.max(0, (record.locked_until || 0) - nowMs);
}

// -> {vault} on success, {wrong: true, failures, waitMs} on a wrong PIN, {waitMs} while locked out.
export async function unlock(userId, pin) {
  const record = await account(userId);
  if (!record) throw new Error('no such account on this phone');
  const wait = lockedFor(record);
  if (wait > 0) return { waitMs: wait };
  const key = await openLock(pin, userId, record.lock);
  if (!key) {
    record.failures = (record.failures || 0) + 1;
    const over = record.failures - FREE_TRIES;
    record.locked_until = over > 0 ? Date.now() + 30000 * 2 ** (over - 1) : 0;
    await saveAccount(record);
    return { wrong: true, failures: record.failures, waitMs: lockedFor(record) };
  }
  record.failures = 0;
  record.locked_until = 0;
  record.last_used = new Date().toISOString();
  await saveAccount(record);
  return { vault: new Vault(userId, key) };
}

// Everything of this user leaves the phone (a revoked device, or a logout that deletes).
export function wipe(userId) {
  return db.wipeUser(userId);
}
