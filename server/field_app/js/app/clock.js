// The server-corrected clock. Cheap phones lose the date when the battery dies, so visits are
// stamped with the phone's clock plus the offset last measured against the server's
// `server_time` (every pull and push answer carries it). The offset is kept on the phone.
// If the phone's clock jumps backwards past the last server time seen (a reset to 2000 or
// 1970), the corrected time would be wrong too: `suspicious()` says so, and the app warns.

import { saveSetting, setting } from './settings.js';

let offsetMs = 0;
let lastServerMs = 0;

export async function loadClock() {
  offsetMs = Number(await setting('clock_offset_ms', 0)) || 0;
  lastServerMs = Number(await setting('clock_last_server_ms', 0)) || 0;
}

// `sentAt`/`receivedAt`: Date.now() around the request; the server's reading is taken to be
// in the middle of the round trip.
export async function observeServerTime(serverTime, sentAt, receivedAt) {
  const server = Date.parse(serverTime);
  if (!Number.isFinite(server)) return;
  offsetMs = Math.round(server - (sentAt + receivedAt) / 2);
  lastServerMs = server;
  await saveSetting('clock_offset_ms', offsetMs);
  await saveSetting('clock_last_server_ms', lastServerMs);
}

export function now() {
  return new Date(Date.now() + offsetMs);
}

export function offset() {
  return offsetMs;
}

export function suspicious() {
  return lastServerMs > 0 && now().getTime() < lastServerMs - 60000;
}
