// The JavaScript expression evaluator (server/field_app/js/forms/) against every case of
// every forms/conformance/*.json file: one subtest per case id, so a failure names the
// case. The Python evaluator runs the same files in tests/unit/forms/test_conformance.py.
// Run: node --test tests/js/

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  checkCase, loadCases, runConformance,
} from '../../server/field_app/js/forms/conformance.js';
import { FUNCTIONS } from '../../server/field_app/js/forms/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIR = path.join(ROOT, 'forms', 'conformance');
const NAMES = fs.readdirSync(DIR).filter((n) => n.endsWith('.json')).sort();
const FILES = NAMES.map((name) => ({ name, doc: JSON.parse(fs.readFileSync(path.join(DIR, name), 'utf8')) }));
// Counted from the raw files, independently of loadCases().
const CASES_IN_FILES = FILES.reduce((n, f) => n + f.doc.cases.length, 0);
const CASES = loadCases(FILES);

let ran = 0;
let passed = 0;

for (const name of NAMES) {
  describe(name, () => {
    for (const c of CASES.filter((x) => x.file === name)) {
      test(c.id, () => {
        ran += 1;
        checkCase(c);
        passed += 1;
      });
    }
  });
}

// Top-level tests run in order, so this one sees every case above finished.
test('every case of every file ran and passed', () => {
  assert.ok(NAMES.length >= 10, `only ${NAMES.length} case files in ${DIR}`);
  assert.equal(CASES.length, CASES_IN_FILES);
  assert.equal(ran, CASES_IN_FILES);
  assert.equal(passed, CASES_IN_FILES);
});

test('case ids are unique', () => {
  const seen = new Set();
  const duplicates = CASES.map((c) => c.id).filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
  assert.deepEqual(duplicates, []);
});

test('runConformance (the entry point a browser page calls) agrees', () => {
  const report = runConformance(FILES);
  assert.equal(report.total, CASES_IN_FILES);
  assert.deepEqual(report.results.filter((r) => !r.ok), []);
  assert.equal(report.passed, CASES_IN_FILES);
});

test('every function has cases', () => {
  const text = CASES.map((c) => c.data.expression).join('\n');
  assert.deepEqual([...FUNCTIONS.keys()].filter((name) => !text.includes(`${name}(`)), []);
});
