// A push item's errors in the enumerator's words: the question's own label (from the visit's
// form version) and what to do, from the catalogue; the server's English detail stays beside it.

import { language, t } from './i18n.js';

function labelOf(definition, name) {
  const walk = (fields) => {
    for (const f of fields || []) {
      if (f.name === name) return f.label;
      const inner = walk(f.fields);
      if (inner) return inner;
    }
    return null;
  };
  const label = walk(definition?.fields);
  if (!label) return null;
  return typeof label === 'object' ? (label[language()] || label.vi || Object.values(label)[0]) : label;
}

// -> {question, what, detail}
export function explainError(error, definition) {
  const parts = String(error.path || '').split('/').filter((p) => p && p !== 'answers');
  const name = [...parts].reverse().find((p) => !/^\d+$/.test(p));
  const member = parts.find((p) => /^\d+$/.test(p));
  let question = name ? labelOf(definition, name) || name : null;
  if (question && member !== undefined) question = `${question} (${t('fix.member', { n: Number(member) + 1 })})`;
  const key = `push.code.${error.code}`;
  const own = error.messages && (error.messages[language()] || error.messages.vi);
  const what = own || (t(key) !== key ? t(key) : error.message || error.code);
  return { question, what, detail: own ? null : error.message };
}
