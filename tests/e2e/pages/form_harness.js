// Test page driver for the form renderer (tests/e2e/test_field_app_form*.py): mounts
// mountForm with the app's real message catalogues and records what the renderer hands back.
// The test calls window.harness.mount(config) through page.evaluate.

import { mountForm, evaluateForm } from '/app/js/form/index.js';

const catalogues = {};

async function catalogue(lang) {
  if (!catalogues[lang]) catalogues[lang] = await (await fetch(`/app/i18n/${lang}.json`)).json();
  return catalogues[lang];
}

function translator(messages) {
  return (key, values = {}) => String(messages[key] ?? key).replace(/\{(\w+)\}/g, (whole, name) =>
    (values[name] === undefined || values[name] === null ? whole : String(values[name])));
}

const files = new Map();

window.harness = {
  changes: 0,
  lastAnswers: null,
  finished: null,
  exited: false,
  saved: [],
  position: null, // what getPosition answers next: {lat, lon, accuracy} or {error: code}
  handle: null,
  evaluateForm,
  async imageInfo(ref) {
    const blob = files.get(ref);
    const bitmap = await createImageBitmap(blob);
    return { width: bitmap.width, height: bitmap.height, type: blob.type, size: blob.size };
  },
  async mount(config) {
    const lang = config.lang || 'vi';
    const t = translator(await catalogue(lang));
    if (this.handle) this.handle.destroy();
    this.handle = mountForm(document.getElementById('root'), {
      definition: config.definition,
      parameters: config.parameters || null,
      answers: config.answers || {},
      prefill: config.prefill || null,
      lang,
      t,
      now: () => new Date(config.now || Date.now()),
      saveFile: async (blob, meta) => {
        const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
        const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
        files.set(`sha256:${hex}`, blob);
        this.saved.push({ ...meta, size: blob.size, type: blob.type, hex });
        return `sha256:${hex}`;
      },
      loadFile: async (ref) => files.get(ref) || null,
      getPosition: async () => {
        const p = this.position;
        if (!p) throw Object.assign(new Error('no position'), { code: 'timeout' });
        if (p.error) throw Object.assign(new Error(p.error), { code: p.error });
        return p;
      },
      onChange: (answers) => { this.changes += 1; this.lastAnswers = JSON.parse(JSON.stringify(answers)); },
      onFinish: (done) => { this.finished = JSON.parse(JSON.stringify(done)); },
      onExit: () => { this.exited = true; },
    });
    document.body.dataset.mounted = 'yes';
  },
};
document.body.dataset.ready = 'yes';
