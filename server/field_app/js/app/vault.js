// The unlocked user's encrypted records: every read and write of personal data goes through
// here, so nothing is stored in clear and nothing of another user is ever read.

import * as db from './db.js';
import { decryptBytes, decryptJson, encryptBytes, encryptJson } from './crypto.js';

export class Vault {
  constructor(userId, key) {
    this.user = userId;
    this.key = key;
  }

  recordKey(id) {
    return `${this.user}|${id}`;
  }

  async seal(store, id, value) {
    const key = this.recordKey(id);
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
    const record = await db.get(store, this.recordKey(id));
    return record ? this.open(store, record) : null;
  }

  async all(store) {
    const records = await db.allOfUser(store, this.user);
    return Promise.all(records.map((r) => this.open(store, r)));
  }

  remove(store, id) {
    return db.remove(store, this.recordKey(id));
  }

  // [{store, id, value} | {store, id, remove: true}] in one transaction.
  async together(changes) {
    const writes = [];
    for (const c of changes) {
      if (c.remove) writes.push({ store: c.store, remove: this.recordKey(c.id) });
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

  async putFile(sha256, blob) {
    const key = this.recordKey(sha256);
    const bytes = await blob.arrayBuffer();
    const { iv, data } = await encryptBytes(this.key, bytes, `files:${key}`);
    await db.put('files', { key, user: this.user, iv, data, type: blob.type, size: bytes.byteLength });
  }

  async getFile(sha256) {
    const record = await db.get('files', this.recordKey(sha256));
    if (!record) return null;
    const bytes = await decryptBytes(this.key, record.iv, record.data, `files:${record.key}`);
    return new Blob([bytes], { type: record.type });
  }
}
