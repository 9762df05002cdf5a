// The field app's form engine and renderer (issue 9), plain ES modules, no build step.
//
//   mountForm(root, options) -> {destroy(), flush()}   the form on a phone (render.js)
//   evaluateForm(definition, parameters, answers, {today}) -> {outputs, errors, classification,
//       reasons, answers, computed, attachments}         the pure engine (evaluate.js)
//
// options (docs/field-app.md, "The form renderer"): definition, parameters, answers, prefill,
// lang, t, now, saveFile, loadFile, getPosition, onChange, onFinish, onExit.
//
// The engine is the twin of forms/answers.py and forms/reasons.py on top of the shared
// expression evaluator in ../forms/; tests/js/form_engine.test.mjs proves them equal on the
// bundled cases.

import { FormView } from './render.js';

export { evaluateForm } from './evaluate.js';
export { compileForm } from './engine.js';

export function mountForm(root, options) {
  const view = new FormView(root, options);
  view.start();
  return {
    destroy: () => view.destroy(),
    flush: () => view.flush(),
  };
}
