// The life of a household visit on the phone, one user's:
//
//   new / assigned household ──► draft (drafts store, saved on every change)
//   draft ──"Hoàn tất"──► outbox entry, status "pending" (the push item, frozen)
//   pending ──"Sửa lại" before it is sent──► draft again (same ids, same rev)
//   pending ──push accepted/duplicate──► status "sent" (kept for the "Đã gửi" tab)
//   pending ──push rejected──► draft again, with the server's errors (edit, finish, resend)
//   sent ──supervisor "yêu cầu sửa" (pull)──► draft again at rev + 1, with the comment
//
// A visit keeps its submission id for life (the server's idempotency key) and counts its own
// revisions in `rev`; the form version it started with stays with it (docs/sync.md).

import * as clock from './clock.js';
import { isoVietnam } from './i18n.js';

const ATTACHMENT = /^sha256:([0-9a-f]{64})$/;

export function summaryOf(visit) {
  const answers = visit.answers || visit.item?.answers || {};
  return {
    head_name: answers.head_name || visit.head_name || '',
    household_code: answers.household_code || visit.household_code || '',
    address: answers.address || '',
    members: Array.isArray(answers.members) ? answers.members.length : null,
  };
}

// Every "sha256:<hex>" answer, with the name of the field that holds it.
export function attachmentsIn(answers) {
  const found = new Map();
  const walk = (value, name) => {
    if (typeof value === 'string') {
      const m = ATTACHMENT.exec(value);
      if (m && !found.has(m[1])) found.set(m[1], name);
    } else if (Array.isArray(value)) {
      value.forEach((v) => walk(v, name));
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(answers, '');
  return [...found].map(([sha256, name]) => ({ sha256, name }));
}

export class Visits {
  constructor(vault) {
    this.vault = vault;
  }

  drafts() { return this.vault.all('drafts'); }
  outbox() { return this.vault.all('outbox'); }
  households() { return this.vault.all('households'); }
  forms() { return this.vault.all('forms'); }
  draft(id) { return this.vault.get('drafts', id); }

  async form(formId, version) {
    return this.vault.get('forms', `${formId}@${version}`);
  }

  // The version a new visit uses: the newest published one of `formId` (or of any form).
  async formForNewVisit(formId = null) {
    const forms = (await this.forms()).filter((f) => f.state === 'published');
    const candidates = formId ? forms.filter((f) => f.form_id === formId) : forms;
    const pool = candidates.length ? candidates : forms;
    pool.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
    return pool[pool.length - 1] || null;
  }

  async start({ form, area, areaType = null, household = null }) {
    const now = clock.now();
    const draft = {
      id: globalThis.crypto.randomUUID(),
      household_id: household ? household.id : globalThis.crypto.randomUUID(),
      household_rev: household ? household.rev : null,
      area: household ? household.area : area,
      form_id: form.form_id,
      form_version: form.version,
      rev: 1,
      answers: (!household && areaType) ? { area_type: areaType } : {},
      head_name: household?.head_name || '',
      household_code: household?.household_code || '',
      started_at: isoVietnam(now),
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
      fix: null,
    };
    await this.vault.put('drafts', draft.id, draft);
    return draft;
  }

  async save(draft, answers) {
    draft.answers = answers;
    draft.updated_at = clock.now().toISOString();
    await this.vault.put('drafts', draft.id, draft);
  }

  // "Hoàn tất": the draft becomes an outbox item in one transaction (never in both, never lost).
  async finish(draft, { answers, outputs }) {
    const finished = clock.now();
    const files = attachmentsIn(answers);
    const attachments = [];
    for (const f of files) {
      const blob = await this.vault.getFile(f.sha256);
      attachments.push({ name: f.name, sha256: f.sha256, size: blob ? blob.size : undefined });
    }
    const item = {
      id: draft.id, form_id: draft.form_id, form_version: draft.form_version, area: draft.area,
      household_id: draft.household_id, household_rev: draft.household_rev, rev: draft.rev,
      started_at: draft.started_at, finished_at: isoVietnam(finished), answers, attachments,
    };
    const entry = {
      id: draft.id, status: 'pending', item, outputs: outputs || null,
      ...summaryOf({ answers }), queued_at: finished.toISOString(), result: null, review: null,
      missing_attachments: [], attempts: 0,
    };
    await this.vault.together([
      { store: 'outbox', id: draft.id, value: entry },
      { store: 'drafts', id: draft.id, remove: true },
    ]);
    return entry;
  }

  // Back to the drafts for an edit, as the next revision (a rejection or a supervisor's request).
  async reopen(entry, fix) {
    const draft = {
      id: entry.id, household_id: entry.item.household_id, household_rev: entry.item.household_rev,
      area: entry.item.area, form_id: entry.item.form_id, form_version: entry.item.form_version,
      rev: entry.item.rev + 1, answers: entry.item.answers, started_at: entry.item.started_at,
      head_name: entry.head_name, household_code: entry.household_code,
      created_at: entry.queued_at, updated_at: clock.now().toISOString(), fix,
    };
    const changes = [{ store: 'drafts', id: draft.id, value: draft }];
    if (entry.status === 'pending') changes.push({ store: 'outbox', id: entry.id, remove: true });
    else changes.push({ store: 'outbox', id: entry.id, value: { ...entry, reopened: true } });
    await this.vault.together(changes);
    return draft;
  }

  // "Sửa lại" on a visit still waiting in "Chờ gửi": back to the drafts as it was, in one
  // transaction, with the same submission id, household id and rev (the server holds nothing
  // newer; had a lost answer stored it after all, the next push meets a `conflict` and sends the
  // edit as rev + 1). A visit already sent is not taken back: only a supervisor's request
  // reopens it. -> the draft, or null when the visit is no longer waiting.
  async unqueue(id) {
    const entry = await this.vault.get('outbox', id);
    if (!entry || entry.status !== 'pending') return null;
    const { item } = entry;
    const draft = {
      id: entry.id, household_id: item.household_id, household_rev: item.household_rev, area: item.area,
      form_id: item.form_id, form_version: item.form_version, rev: item.rev, answers: item.answers,
      started_at: item.started_at, head_name: entry.head_name, household_code: entry.household_code,
      created_at: entry.queued_at, updated_at: clock.now().toISOString(), fix: null,
    };
    await this.vault.together([
      { store: 'drafts', id: draft.id, value: draft },
      { store: 'outbox', id: entry.id, remove: true },
    ]);
    return draft;
  }

  discard(draft) {
    return this.vault.remove('drafts', draft.id);
  }
}
