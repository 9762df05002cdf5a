// GPS and photos on a cheap phone.
//
// Photos are compressed on the phone before they are stored or sent: a 12-megapixel camera
// picture is 3-5 MB, which a 2G link cannot carry; a JPEG whose longer side is 1280 px at
// quality 0.8 is 150-300 KB and still shows a house's walls and roof.

export const MAX_PHOTO_SIDE = 1280;
export const PHOTO_QUALITY = 0.8;
// The server flags a location less accurate than this (sync/quality.py max_gps_accuracy_m).
export const POOR_ACCURACY_M = 50;

/** The phone's position: {lat, lon, accuracy, altitude?} (navigator.geolocation, high accuracy). */
export function devicePosition({ timeout = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    if (!('geolocation' in navigator)) {
      reject(Object.assign(new Error('no geolocation'), { code: 'unavailable' }));
      return;
    }
    navigator.geolocation.getCurrentPosition((pos) => {
      const c = pos.coords;
      const out = { lat: c.latitude, lon: c.longitude, accuracy: Math.max(0, c.accuracy) };
      if (typeof c.altitude === 'number' && Number.isFinite(c.altitude)) out.altitude = c.altitude;
      resolve(out);
    }, (err) => {
      const code = err.code === 1 ? 'denied' : err.code === 3 ? 'timeout' : 'unavailable';
      reject(Object.assign(new Error(err.message || code), { code }));
    }, { enableHighAccuracy: true, timeout, maximumAge: 0 });
  });
}

/** A geopoint as the answer takes it: numbers within range, accuracy in metres. */
export function geopointAnswer(pos) {
  const out = { lat: Number(pos.lat), lon: Number(pos.lon) };
  if (pos.accuracy !== null && pos.accuracy !== undefined && Number.isFinite(Number(pos.accuracy))) {
    out.accuracy = Math.max(0, Number(pos.accuracy));
  }
  if (pos.altitude !== null && pos.altitude !== undefined && Number.isFinite(Number(pos.altitude))) {
    out.altitude = Number(pos.altitude);
  }
  return out;
}

function loadImage(blob) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(blob);
    const img = new Image();
    img.onload = () => { URL.revokeObjectURL(url); resolve(img); };
    img.onerror = () => { URL.revokeObjectURL(url); reject(new Error('not an image')); };
    img.src = url;
  });
}

/** The scaled size that fits `max` on the longer side (never enlarged). */
export function fitSize(width, height, max = MAX_PHOTO_SIDE) {
  const scale = Math.min(1, max / Math.max(width, height));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

/** A photo compressed to JPEG, longer side at most MAX_PHOTO_SIDE: {blob, width, height}. */
export async function compressPhoto(file, { max = MAX_PHOTO_SIDE, quality = PHOTO_QUALITY } = {}) {
  // createImageBitmap honours the camera's EXIF orientation where supported.
  let source;
  try {
    source = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch (e) {
    source = await loadImage(file);
  }
  const [width, height] = fitSize(source.width, source.height, max);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff'; // a transparent PNG would otherwise turn black in JPEG
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(source, 0, 0, width, height);
  if (typeof source.close === 'function') source.close();
  const blob = await new Promise((resolve, reject) => {
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('could not encode the photo'))), 'image/jpeg', quality);
  });
  return { blob, width, height };
}

/** sha256 hex of a blob (the attachment's identity on the server). */
export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
