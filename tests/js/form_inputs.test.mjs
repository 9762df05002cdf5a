// The renderer's pure helpers: how typed numbers are read, and the photo's scaled size.
// (They import no DOM at module load, so they run under node --test.)

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { parseDecimal, parseInteger } from '../../server/field_app/js/form/controls.js';
import { fitSize } from '../../server/field_app/js/form/media.js';
import { prefillAnswers } from '../../server/field_app/js/form/prefill.js';
import { compileForm } from '../../server/field_app/js/form/engine.js';

test('integers as Vietnamese write them', () => {
  assert.deepEqual(parseInteger('1.500.000'), [1500000, null]);
  assert.deepEqual(parseInteger(' 216 000 000 '), [216000000, null]);
  assert.deepEqual(parseInteger('-5'), [-5, null]);
  assert.deepEqual(parseInteger(''), [null, null]);
  assert.deepEqual(parseInteger('12a'), [null, 'form.error.integer']);
  assert.deepEqual(parseInteger('1,5'), [null, 'form.error.integer']);
  assert.deepEqual(parseInteger('99999999999999999999'), [null, 'form.error.too_large']);
});

test('typed numbers: the cases forms/typed.py is held to as well', () => {
  const cases = JSON.parse(readFileSync(new URL('../../forms/typed_numbers.json', import.meta.url), 'utf8'));
  for (const [text, value, error] of cases.integer) {
    assert.deepEqual(parseInteger(text), [value, error && `form.error.${error}`], JSON.stringify(text));
  }
  for (const [text, value, error] of cases.decimal) {
    assert.deepEqual(parseDecimal(text), [value, error && `form.error.${error}`], JSON.stringify(text));
  }
});

test('decimals with a comma or a point', () => {
  assert.deepEqual(parseDecimal('12,5'), [12.5, null]);
  assert.deepEqual(parseDecimal('12.5'), [12.5, null]);
  assert.deepEqual(parseDecimal('60'), [60, null]);
  assert.deepEqual(parseDecimal('12,'), [12, null]);
  assert.deepEqual(parseDecimal('abc'), [null, 'form.error.decimal']);
});

test('photos: the longer side at most 1280, proportions kept, never enlarged', () => {
  assert.deepEqual(fitSize(4000, 3000), [1280, 960]);
  assert.deepEqual(fitSize(3000, 4000), [960, 1280]);
  assert.deepEqual(fitSize(2400, 1600), [1280, 853]);
  assert.deepEqual(fitSize(800, 600), [800, 600]);
});

test('prefill keeps only what this version can take', () => {
  const form = compileForm({
    form_id: 'p', version: '1', title: 'p',
    choices: { yn: [{ value: 'yes' }, { value: 'no' }] },
    fields: [
      { name: 'a', type: 'select_one', choices: 'yn' },
      { name: 'n', type: 'integer' },
      { name: 'c', type: 'calculate', calculation: '1' },
      { name: 'r', type: 'repeat', fields: [{ name: 'x', type: 'text' }] },
    ],
  });
  assert.deepEqual(prefillAnswers(form, { answers: { a: 'maybe', n: 3.5, c: 1, gone: 1, r: [{ x: 'y', z: 1 }, 'bad'] } }),
    { r: [{ x: 'y' }] });
  assert.deepEqual(prefillAnswers(form, { a: 'yes', n: 4 }), { a: 'yes', n: 4 });
  assert.deepEqual(prefillAnswers(form, null), {});
});
