// evaluateForm: the pure entry point of the form engine (no DOM), for the renderer, the app
// shell (is a draft complete? what class did it get?) and the tests.

import { compileForm, runForm } from './engine.js';
import { explain } from './reasons.js';

/**
 * Evaluate a household's answers against a form version, as the server will.
 *
 * definition: the form version JSON as the API serves it (compiled once per object);
 * parameters: the effective parameters (or the province's override; laid over the form's own);
 * answers: the draft's answers; options.today: what today() returns (a Date read in Vietnam
 * time, an ISO date or a DateValue; default now).
 *
 * -> {outputs, errors: [{path, code, message, messages?}], classification, reasons,
 *     answers (what the server stores: irrelevant answers dropped, calculations recomputed),
 *     computed, attachments (sha256 hex of the photos referenced)}
 */
export function evaluateForm(definition, parameters, answers, options = {}) {
  const form = compileForm(definition);
  const result = runForm(form, answers, { parameters, today: options.today ?? null });
  return {
    outputs: result.outputs,
    errors: result.errors,
    classification: result.outputs.classification ?? null,
    reasons: explain(form, result, parameters),
    answers: result.answers,
    computed: result.computed,
    attachments: result.attachments,
  };
}
