// Every line of the ```expr blocks of docs/expressions.md, through the JavaScript
// evaluator (the Python twin: tests/unit/forms/test_docs_expressions.py, same line format:
// `EXPRESSION  =>  RESULT`, `# context: {...}` for the following lines).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { checkCase } from '../../server/field_app/js/forms/conformance.js';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'expressions.md');
const DEFAULT_CONTEXT = { today: '2026-10-02' };
const BLOCK = /^```expr\n([\s\S]*?)^```/gm;
const LINE = /^(.+?)\s+=>\s+(.+)$/;

function docExamples() {
  const text = fs.readFileSync(DOC, 'utf8');
  const examples = [];
  let blockNo = 0;
  for (const [, block] of text.matchAll(BLOCK)) {
    let context = { ...DEFAULT_CONTEXT };
    for (const line of block.split('\n')) {
      if (!line.trim()) continue;
      if (line.startsWith('# context:')) {
        context = { ...DEFAULT_CONTEXT, ...JSON.parse(line.slice('# context:'.length)) };
        continue;
      }
      if (line.startsWith('#')) continue;
      const m = LINE.exec(line);
      assert.ok(m, `block ${blockNo}: cannot read example line ${JSON.stringify(line)}`);
      const data = { id: line, expression: m[1].trim(), ...context };
      const result = m[2].trim();
      if (result.startsWith('error:')) data.error = result.slice('error:'.length).trim();
      else data.expected = JSON.parse(result);
      examples.push(data);
    }
    blockNo += 1;
  }
  return examples;
}

const EXAMPLES = docExamples();

test('the doc has examples', () => {
  assert.ok(EXAMPLES.length >= 100, `only ${EXAMPLES.length} examples`);
});

for (const data of EXAMPLES) {
  test(data.id, () => checkCase({ file: 'docs/expressions.md', id: data.id, data }));
}
