// Onboarding for storage: browsers evict data that is not persistent (Safari after 7 days
// without a visit; Chrome under disk pressure). Ask for persistence, and say when it is refused
// or space runs low: the banner stays until it is fixed.

import { formatNumber } from './i18n.js';

const LOW_BYTES = 50 * 1024 * 1024;

function megabytes(bytes) {
  return `${formatNumber(bytes / (1024 * 1024), 0)} MB`;
}

export async function checkStorage() {
  const out = { persisted: null, usage: null, quota: null, low: false, freeText: '' };
  if (!navigator.storage) return out;
  try {
    if (navigator.storage.persisted) out.persisted = await navigator.storage.persisted();
    if (navigator.storage.estimate) {
      const { usage, quota } = await navigator.storage.estimate();
      out.usage = usage;
      out.quota = quota;
      const free = quota - usage;
      out.low = free < LOW_BYTES || usage / quota > 0.9;
      out.freeText = megabytes(free);
      out.usageText = megabytes(usage);
    }
  } catch (error) {
    // Not available (old browser): nothing to say.
  }
  return out;
}

// Ask once per unlock; Chrome grants it silently to installed or often-used apps.
export async function askPersistence() {
  try {
    if (navigator.storage && navigator.storage.persist && !(await navigator.storage.persisted())) {
      await navigator.storage.persist();
    }
  } catch (error) {
    // ignore: reported by checkStorage
  }
  return checkStorage();
}
