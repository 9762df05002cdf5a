// The phone's form engine (server/field_app/js/form/) against the server's (forms/answers.py,
// forms/reasons.py) on every worked case of forms/bundled/cases/ and on broken variants of
// each book's base household. The Python results are in tests/js/fixtures/form_engine_cases.json,
// written by tests/js/form_fixtures.py (a pytest test fails when it is stale).
//
// Compared: outputs (classification, income per person, deprivations, ...) and every problem
// (path, code, message, per-language messages) in full; the normalised answers, the calculated
// values and the whole explanation (sentences included) by sha256 of their canonical JSON.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { evaluateForm } from '../../server/field_app/js/form/evaluate.js';
import { compileForm } from '../../server/field_app/js/form/engine.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUNDLED = join(ROOT, 'forms', 'bundled');
const fixture = JSON.parse(readFileSync(join(ROOT, 'tests', 'js', 'fixtures', 'form_engine_cases.json'), 'utf8'));
const books = new Map();
const forms = new Map();

function book(name) {
  if (!books.has(name)) books.set(name, JSON.parse(readFileSync(join(BUNDLED, 'cases', name), 'utf8')));
  return books.get(name);
}

function definition(formFile) {
  if (!forms.has(formFile)) forms.set(formFile, JSON.parse(readFileSync(join(BUNDLED, formFile), 'utf8')));
  return forms.get(formFile);
}

// The case format of forms/bundled/cases/README.md (as tests/js/form_fixtures.py reads it).
function patched(obj, patch) {
  const out = { ...obj };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

function member(entry, templates) {
  if (typeof entry === 'string') return { ...templates[entry] };
  const { use, ...rest } = entry;
  return patched(use ? templates[use] : {}, rest);
}

function resolveAnswers(b, c) {
  let answers = c.answers ?? patched(b.base, c.patch || {});
  if (answers.members) answers = { ...answers, members: answers.members.map((m) => member(m, b.members || {})) };
  return answers;
}

/** canonjson.canonical_json: sorted keys, NFC text, no spaces; integral numbers as integers. */
function canonical(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('not finite');
    return Object.is(value, -0) ? '0' : String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value.normalize('NFC'));
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).map((k) => [k.normalize('NFC'), k]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `{${keys.map(([nk, k]) => `${JSON.stringify(nk)}:${canonical(value[k])}`).join(',')}}`;
}

const digest = (value) => createHash('sha256').update(canonical(value), 'utf8').digest('hex');

function check(entry, input) {
  const def = entry.book === 'synthetic' ? fixture.synthetic_form : definition(book(entry.book).form);
  const got = evaluateForm(def, entry.parameters, input, { today: fixture.today });
  const where = `${entry.book}:${entry.id}`;
  assert.deepEqual(got.outputs, entry.outputs, `${where}: outputs`);
  assert.deepEqual(got.errors, entry.errors, `${where}: errors`);
  assert.deepEqual(got.attachments, entry.attachments, `${where}: attachments`);
  assert.equal(got.classification, entry.outputs.classification ?? null, `${where}: classification`);
  assert.equal(digest(got.computed), entry.digests.computed, `${where}: calculated values ${canonical(got.computed)}`);
  assert.equal(digest(got.answers), entry.digests.answers, `${where}: normalised answers ${canonical(got.answers)}`);
  assert.equal(digest(got.reasons), entry.digests.reasons, `${where}: reasons ${canonical(got.reasons)}`);
  return got;
}

test('the fixture covers every bundled case of every book', () => {
  const ids = new Set(fixture.cases.map((c) => `${c.book}:${c.id}`));
  let total = 0;
  for (const name of ['household-review-2022.cases.json', 'household-review-2022.v2.cases.json',
    'household-review-2027.cases.json', 'household-review-2027.v2.cases.json']) {
    for (const c of book(name).cases) {
      assert.ok(ids.has(`${name}:${c.id}`), `${name}:${c.id} missing from the fixture`);
      total += 1;
    }
  }
  assert.equal(fixture.cases.length, total);
  assert.ok(fixture.variants.length >= 4 * 30);
});

test('every bundled case: same outputs, errors, answers and reasons as Python', () => {
  const classes = new Set();
  for (const entry of fixture.cases) {
    const c = book(entry.book).cases.find((x) => x.id === entry.id);
    const got = check(entry, resolveAnswers(book(entry.book), c));
    // And the hand-derived expectations of the book itself.
    if (c.expected) {
      assert.equal(got.classification, c.expected.classification, entry.id);
      assert.equal(got.outputs.deprivation_count, c.expected.deprivation_count, entry.id);
      assert.deepEqual(got.outputs.deprivations, c.expected.deprivations, entry.id);
      assert.equal(Math.round(got.outputs.income_per_person * 100) / 100, c.expected.income_per_person, entry.id);
      classes.add(got.classification);
    } else {
      const key = (e) => `${e.path}\u0000${e.code}`;
      assert.deepEqual(got.errors.map(key).sort(), c.expected_errors.map(key).sort(), entry.id);
    }
  }
  assert.deepEqual([...classes].sort(), ['average', 'near_poor', 'not_poor', 'poor']);
});

test('broken households: the same problems, in the same order, as Python', () => {
  const codes = new Set();
  for (const entry of fixture.variants) {
    const got = check(entry, entry.input);
    for (const e of got.errors) codes.add(e.code);
  }
  for (const code of ['unknown_field', 'invalid_type', 'invalid_value', 'invalid_choice', 'duplicate_value',
    'required', 'not_relevant', 'constraint', 'repeat_count', 'invalid_answers']) {
    assert.ok(codes.has(code), `no variant exercises ${code}`);
  }
});

test('a form with choice filters, dates, notes, read-only fields and nested repeats: same as Python', () => {
  const codes = new Set();
  for (const entry of fixture.synthetic) {
    const got = check(entry, entry.input);
    for (const e of got.errors) codes.add(e.code);
  }
  for (const code of ['invalid_choice', 'required', 'constraint', 'not_relevant', 'repeat_count', 'read_only',
    'unknown_field', 'invalid_value']) {
    assert.ok(codes.has(code), `no synthetic household exercises ${code}`);
  }
});

test('a definition is compiled once', () => {
  const def = definition('household-review-2027.v2.json');
  assert.equal(compileForm(def), compileForm(def));
});

test('the engine does not change the answers it is given', () => {
  const b = book('household-review-2027.v2.cases.json');
  const answers = resolveAnswers(b, b.cases[0]);
  const before = JSON.stringify(answers);
  evaluateForm(definition(b.form), {}, answers, { today: fixture.today });
  assert.equal(JSON.stringify(answers), before);
});
