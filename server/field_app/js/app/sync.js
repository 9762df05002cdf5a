// The sync engine, driven from the page (Background Sync exists only in Chromium).
//
// One run, in the order of docs/sync.md, every step safe to repeat from the start:
//   1. push the outbox in batches of 20 (kind to a 2G link), oldest first, one request at a time;
//   2. upload the attachments the server says it misses (after the push, so the server's quota
//      for files no submission lists is never tripped);
//   3. pull until has_more is false, downloading new form versions (If-None-Match: "<sha256>").
// A failed run is tried again after an exponential backoff with jitter, capped at 5 minutes;
// coming back online, or the user's "Đồng bộ ngay", tries at once. Submission ids and revs are
// chosen on the phone, so a batch whose answer was lost is simply sent again (`duplicate`).

import * as clock from './clock.js';
import { ApiError, APP_VERSION, DeviceRevoked, NetworkError, SessionEnded, DeviceTaken } from './api.js';

export const BATCH = 20;
export const MAX_BACKOFF_MS = 5 * 60 * 1000;
const BASE_BACKOFF_MS = 5000;
const VISIT_TIME_CODES = new Set(['visit_too_early', 'visit_in_future', 'visit_start_after_end']);

// Exponential backoff with "equal jitter": half fixed, half random, so that phones that lost the
// network together do not all come back at the same second.
export function backoffDelay(failures, random = Math.random) {
  const ceiling = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + random() * ceiling / 2);
}

export class SyncEngine {
  constructor({ client, vault, visits, onChange }) {
    this.client = client;
    this.vault = vault;
    this.visits = visits;
    this.onChange = onChange || (() => {});
    this.running = null;
    this.failures = 0;
    this.timer = null;
    this.nextAttemptAt = null;
    this.lastError = null;
    this.stopped = false;
    this.holding = null;
    this.onOnline = () => { this.failures = 0; this.soon(0); };
    globalThis.addEventListener('online', this.onOnline);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    globalThis.removeEventListener('online', this.onOnline);
  }

  get profile() { return this.client.profile; }

  saveProfile() { return this.vault.saveProfile(this.profile); }

  // Run soon (after `delayMs`), unless a run is already planned earlier.
  soon(delayMs) {
    if (this.stopped) return;
    const at = Date.now() + delayMs;
    if (this.timer && this.nextAttemptAt && this.nextAttemptAt <= at) return;
    clearTimeout(this.timer);
    this.nextAttemptAt = at;
    this.timer = setTimeout(() => { this.timer = null; this.nextAttemptAt = null; this.run().catch(() => {}); }, delayMs);
    this.onChange();
  }

  // Work that must not interleave with a push (taking a visit back out of the outbox while the
  // push that sends it is on the wire would leave it both sent and in the drafts): it waits for
  // a run in progress, and a run asked for meanwhile waits for it.
  async exclusive(fn) {
    while (this.running) await this.running.catch(() => {});
    const job = Promise.resolve().then(fn);
    this.holding = job.catch(() => {});
    try {
      return await job;
    } finally {
      this.holding = null;
    }
  }

  // One whole run; concurrent callers share it.
  run() {
    if (!this.running) {
      this.running = (this.holding || Promise.resolve()).then(() => this.runOnce())
        .finally(() => { this.running = null; this.onChange(); });
      this.onChange();
    }
    return this.running;
  }

  async runOnce() {
    try {
      const results = await this.pushAll();
      await this.uploadMissing();
      await this.pullAll();
      this.failures = 0;
      this.lastError = null;
      this.profile.last_sync_at = clock.now().toISOString();
      if (results.length) this.profile.last_results = results;
      await this.saveProfile();
      return { ok: true, results };
    } catch (error) {
      this.lastError = error;
      if (error instanceof DeviceRevoked || error instanceof SessionEnded || error instanceof DeviceTaken) {
        throw error; // the app takes over: nothing to retry until the user acts
      }
      this.failures += 1;
      const wait = error instanceof ApiError && error.retryAfter ? error.retryAfter * 1000 : backoffDelay(this.failures);
      this.soon(Math.min(MAX_BACKOFF_MS, wait));
      throw error;
    }
  }

  async pendingCounts() {
    const outbox = await this.visits.outbox();
    return {
      submissions: outbox.filter((e) => e.status === 'pending').length,
      attachments: outbox.reduce((n, e) => n + (e.missing_attachments || []).length, 0),
    };
  }

  // --- 1. push --------------------------------------------------------------------------------

  async pushAll() {
    const shown = new Map();
    const held = new Map(); // id -> times sent in this run: an item answered `retry` waits for the next run
    let size = BATCH;
    for (;;) {
      const pending = (await this.visits.outbox())
        .filter((e) => e.status === 'pending' && (held.get(e.id) || 0) < 3 && held.get(e.id) !== Infinity)
        .sort((a, b) => a.queued_at.localeCompare(b.queued_at));
      if (!pending.length) break;
      const batch = pending.slice(0, size);
      let answer;
      try {
        answer = await this.client.request('POST', '/api/v1/sync/push', { json: {
          device_id: this.client.deviceId, app_version: APP_VERSION,
          pending: { submissions: pending.length - batch.length, attachments: (await this.pendingCounts()).attachments },
          submissions: batch.map((e) => e.item),
        } });
      } catch (error) {
        if (error instanceof ApiError && error.status === 413 && size > 1) {
          size = Math.max(1, Math.floor(size / 2)); // over the byte limit: split the batch
          continue;
        }
        throw error;
      }
      await clock.observeServerTime(answer.data.server_time, answer.sentAt, answer.receivedAt);
      for (let i = 0; i < batch.length; i += 1) {
        const outcome = await this.settle(batch[i], answer.data.results[i]);
        shown.set(outcome.id, outcome);
        held.set(outcome.id, outcome.again ? (held.get(outcome.id) || 0) + 1 : Infinity);
      }
    }
    return [...shown.values()];
  }

  // Apply one item's result; -> what the sync screen shows about it.
  async settle(entry, result) {
    const shown = { id: entry.id, head_name: entry.head_name, household_code: entry.household_code,
      form: `${entry.item.form_id}@${entry.item.form_version}`,
      status: result.status, errors: result.errors || [], detail: result.detail || null };
    if (result.status === 'accepted' || result.status === 'duplicate') {
      entry.status = 'sent';
      entry.sent_at = clock.now().toISOString();
      entry.result = { status: result.status, rev: result.rev, outputs: result.outputs || entry.result?.outputs || null,
        conflict_id: result.conflict_id || null };
      entry.missing_attachments = result.missing_attachments || [];
      entry.review = null;
      entry.reopened = false;
      await this.vault.put('outbox', entry.id, entry);
    } else if (result.status === 'conflict') {
      // The same (id, rev) holds other content on the server (a supervisor's correction took
      // that rev): keep ours, as the next rev.
      entry.item = { ...entry.item, rev: entry.item.rev + 1 };
      await this.vault.put('outbox', entry.id, entry);
      shown.again = true;
    } else {
      const errors = result.errors || [];
      if (errors.length && errors.every((e) => e.code === 'retry')) {
        shown.again = false; // kept pending: the next run sends it as it is (not this one)
      } else if (errors.length && errors.every((e) => VISIT_TIME_CODES.has(e.code))) {
        // The phone's clock was wrong: the clock is set from server_time now; re-stamp and resend.
        const stamp = clock.now();
        const { isoVietnam } = await import('./i18n.js');
        entry.item = { ...entry.item, rev: entry.item.rev + 1, finished_at: isoVietnam(stamp),
          started_at: Date.parse(entry.item.started_at) <= stamp.getTime() ? entry.item.started_at : isoVietnam(stamp) };
        await this.vault.put('outbox', entry.id, entry);
        shown.again = true;
      } else {
        await this.visits.reopen(entry, { kind: 'rejected', errors, detail: result.detail || null,
          at: clock.now().toISOString() });
      }
    }
    return shown;
  }

  // --- 2. attachments -------------------------------------------------------------------------

  async uploadMissing() {
    const entries = (await this.visits.outbox()).filter((e) => (e.missing_attachments || []).length);
    for (const entry of entries) {
      const left = [];
      for (const sha256 of entry.missing_attachments) {
        const blob = await this.vault.getFile(sha256);
        if (!blob) { left.push(sha256); continue; }
        try {
          await this.client.request('PUT', `/api/v1/attachments/${sha256}`,
            { body: blob, headers: { 'Content-Type': blob.type || 'application/octet-stream' } });
        } catch (error) {
          if (error instanceof ApiError && error.status < 500 && error.status !== 429 && error.status !== 401) {
            entry.file_error = error.code || String(error.status);
            left.push(sha256);
            continue;
          }
          throw error;
        }
      }
      entry.missing_attachments = left;
      await this.vault.put('outbox', entry.id, entry);
    }
  }

  // --- 3. pull --------------------------------------------------------------------------------

  async pullAll() {
    let cursor = this.profile.cursor || null;
    const fromStart = !cursor;
    const delivered = new Set();
    for (let guard = 0; guard < 10000; guard += 1) {
      let answer;
      try {
        const query = new URLSearchParams({ limit: '200' });
        if (cursor) query.set('cursor', cursor);
        answer = await this.client.request('GET', `/api/v1/sync/pull?${query}`);
      } catch (error) {
        if (error instanceof ApiError && error.status === 410 && cursor) {
          this.profile.cursor = null; // expired or from another server: start over
          await this.saveProfile();
          return this.pullAll();
        }
        throw error;
      }
      const { changes, next_cursor: next, has_more: more, server_time: serverTime } = answer.data;
      await clock.observeServerTime(serverTime, answer.sentAt, answer.receivedAt);
      await this.takeForms(changes.forms || []);
      if (changes.areas) this.profile.areas = changes.areas;
      for (const household of changes.households || []) {
        delivered.add(household.id);
        await this.vault.put('households', household.id, household);
      }
      for (const id of changes.households_removed || []) await this.vault.remove('households', id);
      await this.takeReviews(changes.reviews || []);
      cursor = next;
      this.profile.cursor = next;
      await this.saveProfile();
      if (!more) break;
    }
    if (fromStart) {
      // A walk from the start delivers every household the phone may hold: drop the others.
      for (const household of await this.visits.households()) {
        if (!delivered.has(household.id)) await this.vault.remove('households', household.id);
      }
    }
  }

  async takeForms(entries) {
    for (const [seq, entry] of entries.entries()) {
      const id = `${entry.form_id}@${entry.version}`;
      const held = await this.vault.get('forms', id);
      let definition = held?.definition;
      if (!held || held.sha256 !== entry.sha256) {
        const answer = await this.client.request('GET', entry.url,
          { headers: held ? { 'If-None-Match': `"${held.sha256}"` } : {} });
        if (answer.status !== 304) definition = answer.data;
      }
      await this.vault.put('forms', id, {
        form_id: entry.form_id, version: entry.version, state: entry.state, sha256: entry.sha256,
        title: entry.title, parameters: entry.parameters || held?.parameters || null, definition,
        seq, // the server lists a form's versions oldest first
        received_at: held?.received_at || clock.now().toISOString(),
      });
    }
  }

  async takeReviews(reviews) {
    for (const review of reviews) {
      const entry = await this.vault.get('outbox', review.submission_id);
      if (!entry || entry.status !== 'sent') continue; // not this phone's, or an edit is queued
      const seen = entry.review && entry.review.reviewed_at === review.reviewed_at && entry.review.state === review.review_state;
      if (seen) continue;
      entry.review = { state: review.review_state, comment: review.comment || '', reviewed_at: review.reviewed_at,
        rev: review.rev };
      await this.vault.put('outbox', entry.id, entry);
      const wantsEdit = review.review_state === 'changes_requested' || review.review_state === 'rejected';
      if (wantsEdit && review.rev === entry.item.rev && !(await this.visits.draft(entry.id))) {
        await this.visits.reopen(entry, { kind: review.review_state, comment: review.comment || '',
          at: review.reviewed_at });
      }
    }
  }
}
