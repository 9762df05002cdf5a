// The unlocked user's encrypted records: every read and write of personal data goes through
// here, so nothing is stored in clear and nothing of another user is ever read.

import * as db from './db.js';
import { decryptBytes, decryptJson, encryptBytes, encryptJson, recordName } from './crypto.js';

export class Vault {
  // `keys`: {data: AES-GCM key, names: HMAC key}, from the PIN (crypto.js).
  constructor(userId, keys) {
    this.user = userId;
    this.keys = keys;
    this.key = keys.data;
    this.names = new Map();
  }

  // Locking: the keys leave memory (whatever still holds this vault can read nothing more).
  forget() {
    this.keys = null;
    this.key = null;
    this.names.clear();
  }

  // The IndexedDB key of a record: the user, and an HMAC of the record's id.
  async recordKey(id) {
    let name = this.names.get(id);
    if (!name) {
      name = await recordName(this.keys, id);
      this.names.set(id, name);
    }
    return `${this.user}|${name}`;
  }

  async seal(store, id, value) {
    const key = await this.recordKey(id);
    const { iv, data } = await encryptJson(this.key, value, `${store}:${key}`);
    return { key, user: this.user, iv, data };
  }

  async open(store, record) {
    return decryptJson(this.key, record.iv, record.data, `${store}:${record.key}`);
  }

  async put(store, id, value) {
    await db.put(store, await this.seal(store, id, value));
  }

  async get(store, id) {
    const record = await db.get(store, await this.recordKey(id));
    return record ? this.open(store, record) : null;
  }

  async all(store) {
    const records = await db.allOfUser(store, this.user);
    return Promise.all(records.map((r) => this.open(store, r)));
  }

  async remove(store, id) {
    return db.remove(store, await this.recordKey(id));
  }

  // [{store, id, value} | {store, id, remove: true}] in one transaction.
  async together(changes) {
    const writes = [];
    for (const c of changes) {
      if (c.remove) writes.push({ store: c.store, remove: await this.recordKey(c.id) });
      else writes.push({ store: c.store, put: await this.seal(c.store, c.id, c.value) });
    }
    await db.atomically(writes);
  }

  // The user's profile (tokens, cursor, areas, last sync) lives encrypted in `settings`.
  async profile() {
    const record = await db.get('settings', `profile:${this.user}`);
    return record ? decryptJson(this.key, record.iv, record.data, `profile:${this.user}`) : {};
  }

  async saveProfile(profile) {
    const { iv, data } = await encryptJson(this.key, profile, `profile:${this.user}`);
    await db.put('settings', { key: `profile:${this.user}`, iv, data });
  }

  // A file's type goes inside the ciphertext with its bytes: [type length (2 bytes)][type][bytes].
  async putFile(sha256, blob) {
    const key = await this.recordKey(sha256);
    const type = new TextEncoder().encode(blob.type || 'application/octet-stream');
    const bytes = new Uint8Array(await blob.arrayBuffer());
    const packed = new Uint8Array(2 + type.length + bytes.length);
    packed[0] = type.length >> 8;
    packed[1] = type.length & 255;
    packed.set(type, 2);
    packed.set(bytes, 2 + type.length);
    const { iv, data } = await encryptBytes(this.key, packed, `files:${key}`);
    await db.put('files', { key, user: this.user, iv, data });
  }

  async getFile(sha256) {
    const record = await db.get('files', await this.recordKey(sha256));
    if (!record) return null;
    const packed = new Uint8Array(await decryptBytes(this.key, record.iv, record.data, `files:${record.key}`));
    const length = (packed[0] << 8) | packed[1];
    const type = new TextDecoder().decode(packed.subarray(2, 2 + length));
    return new Blob([packed.subarray(2 + length)], { type });
  }
}
