// Encryption at rest with WebCrypto.
//
// Each user on the phone has a random 256-bit data key. It never leaves the phone and is stored
// only wrapped (AES-GCM) under a key derived from the user's PIN with PBKDF2-SHA-256 and a random
// salt. Unlocking derives the PIN key and unwraps the data key; a wrong PIN fails the GCM tag.
// Records are encrypted with the data key, AES-GCM with a fresh 96-bit IV each time and the
// record's key as additional data (a ciphertext moved to another record does not decrypt).
//
// Why a data key and not the PIN key itself: changing the PIN re-wraps 32 bytes instead of
// re-encrypting every household.

export const PBKDF2_ITERATIONS = 600000; // OWASP 2023 for PBKDF2-HMAC-SHA256
const subtle = () => globalThis.crypto.subtle;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

export function toBase64(bytes) {
  let text = '';
  const view = new Uint8Array(bytes);
  for (let i = 0; i < view.length; i += 1) text += String.fromCharCode(view[i]);
  return btoa(text);
}

export function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

export async function pinKey(pin, salt, iterations = PBKDF2_ITERATIONS) {
  const material = await subtle().importKey('raw', encoder.encode(pin), 'PBKDF2', false, ['deriveKey']);
  return subtle().deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, material,
    { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

// From the user's 32 random bytes, two keys by HKDF: one encrypts records, the other names them
// (an HMAC of each record's id, so that even the IndexedDB keys say nothing: no household or
// form id in clear).
async function importDataKey(raw) {
  const base = await subtle().importKey('raw', raw, 'HKDF', false, ['deriveKey']);
  const derive = (info, algorithm, usages) => subtle().deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32), info: encoder.encode(info) }, base, algorithm, false, usages);
  return {
    data: await derive('rasoat records', { name: 'AES-GCM', length: 256 }, ['encrypt', 'decrypt']),
    names: await derive('rasoat names', { name: 'HMAC', hash: 'SHA-256', length: 256 }, ['sign']),
  };
}

export async function recordName(keys, id) {
  const mac = new Uint8Array(await subtle().sign('HMAC', keys.names, encoder.encode(String(id))));
  return Array.from(mac.slice(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
}

// A new user on this phone: a data key, wrapped under the PIN. -> {key: {data, names}, lock}
export async function createLock(pin, userId) {
  const salt = randomBytes(16);
  const raw = randomBytes(32);
  const wrapping = await pinKey(pin, salt);
  const iv = randomBytes(12);
  const wrapped = await subtle().encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(`lock:${userId}`) },
    wrapping, raw);
  const key = await importDataKey(raw);
  raw.fill(0);
  return { key, lock: { salt: toBase64(salt), iterations: PBKDF2_ITERATIONS, iv: toBase64(iv), wrapped: toBase64(wrapped) } };
}

// The user's keys ({data, names}), or null for a wrong PIN.
export async function openLock(pin, userId, lock) {
  const wrapping = await pinKey(pin, fromBase64(lock.salt), lock.iterations);
  let raw;
  try {
    raw = new Uint8Array(await subtle().decrypt(
      { name: 'AES-GCM', iv: fromBase64(lock.iv), additionalData: encoder.encode(`lock:${userId}`) },
      wrapping, fromBase64(lock.wrapped)));
  } catch (error) {
    return null; // OperationError: the tag did not verify, i.e. the PIN is wrong
  }
  const key = await importDataKey(raw);
  raw.fill(0);
  return key;
}

export async function encryptBytes(key, bytes, aad) {
  const iv = randomBytes(12);
  const data = await subtle().encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(aad) }, key, bytes);
  return { iv, data };
}

export async function decryptBytes(key, iv, data, aad) {
  return subtle().decrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(aad) }, key, data);
}

export async function encryptJson(key, value, aad) {
  return encryptBytes(key, encoder.encode(JSON.stringify(value)), aad);
}

export async function decryptJson(key, iv, data, aad) {
  return JSON.parse(decoder.decode(await decryptBytes(key, iv, data, aad)));
}

export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await subtle().digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
