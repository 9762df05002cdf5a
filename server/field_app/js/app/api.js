// Talking to the server: bearer tokens, refresh while online, and the answers that end a session.
//
// The access token (15 minutes) lives in memory only; the refresh token is kept encrypted in the
// user's profile and replaced at every refresh (docs/sync.md: presenting a used one ends the
// session, except for a retry within the server's grace window).

export const APP_VERSION = 'field-1';

export class ApiError extends Error {
  constructor(status, code, body, retryAfter) {
    super(body?.detail || body?.title || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

// No answer at all: offline, connection cut, DNS, timeout.
export class NetworkError extends Error {}

// The session cannot be renewed: the user must type the password again (their work stays).
export class SessionEnded extends Error {
  constructor(code) { super(code); this.code = code; }
}

// This phone was reported lost: its user's data has been wiped.
export class DeviceRevoked extends Error {}

// This phone's device_id belongs to another user until a supervisor releases it.
export class DeviceTaken extends Error {}

async function readBody(response) {
  const type = response.headers.get('Content-Type') || '';
  if (response.status === 204) return null;
  if (type.includes('json')) return response.json().catch(() => null);
  return null;
}

export async function send(method, path, { json, body, headers = {}, token, timeoutMs = 60000 } = {}) {
  const sent = { ...headers };
  let payload = body;
  if (json !== undefined) {
    sent['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  }
  if (token) sent.Authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const sentAt = Date.now();
  let response;
  try {
    response = await fetch(path, { method, headers: sent, body: payload, signal: controller.signal,
      cache: 'no-store', credentials: 'omit' });
  } catch (error) {
    throw new NetworkError(error.message);
  } finally {
    clearTimeout(timer);
  }
  const receivedAt = Date.now();
  const data = await readBody(response);
  if (!response.ok && response.status !== 304) {
    const retry = Number(response.headers.get('Retry-After'));
    throw new ApiError(response.status, data?.code || null, data, Number.isFinite(retry) ? retry : null);
  }
  return { status: response.status, data, headers: response.headers, sentAt, receivedAt };
}

// An authenticated client for one unlocked user. `hooks`: {saveTokens(profile), revoked(), taken()}
export class Client {
  constructor({ deviceId, profile, hooks }) {
    this.deviceId = deviceId;
    this.profile = profile; // {refresh_token, user, ...} (persisted by hooks.saveTokens)
    this.accessToken = null;
    this.accessExpiresAt = 0;
    this.hooks = hooks;
    this.refreshing = null;
  }

  adopt(tokens) {
    this.accessToken = tokens.access_token;
    this.accessExpiresAt = Date.now() + (tokens.expires_in || 900) * 1000;
    this.profile.refresh_token = tokens.refresh_token;
    this.profile.user = tokens.user;
  }

  async refresh() {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        if (!this.profile.refresh_token) throw new SessionEnded('auth.required');
        try {
          const { data } = await send('POST', '/api/v1/auth/refresh',
            { json: { refresh_token: this.profile.refresh_token, device_id: this.deviceId } });
          this.adopt(data);
          await this.hooks.saveTokens(this.profile);
        } catch (error) {
          throw await this.classify(error, true);
        }
      })().finally(() => { this.refreshing = null; });
    }
    return this.refreshing;
  }

  // Turn the answers that end a session into their own errors (and act on a revoked device).
  async classify(error, duringRefresh = false) {
    if (!(error instanceof ApiError)) return error;
    if (error.code === 'auth.device_revoked') {
      await this.hooks.revoked();
      return new DeviceRevoked();
    }
    if (error.code === 'auth.device_taken') return new DeviceTaken();
    if (duringRefresh && (error.status === 401 || error.code === 'auth.refresh_reused')) {
      this.profile.refresh_token = null;
      await this.hooks.saveTokens(this.profile);
      return new SessionEnded(error.code);
    }
    return error;
  }

  async request(method, path, options = {}) {
    if (!this.accessToken || Date.now() > this.accessExpiresAt - 60000) await this.refresh();
    try {
      return await send(method, path, { ...options, token: this.accessToken });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        // Expired or ended: one refresh, one retry.
        await this.refresh();
        try {
          return await send(method, path, { ...options, token: this.accessToken });
        } catch (again) {
          throw await this.classify(again);
        }
      }
      throw await this.classify(error);
    }
  }

  async logout() {
    if (!this.profile.refresh_token) return;
    try {
      await send('POST', '/api/v1/auth/logout', { json: { refresh_token: this.profile.refresh_token }, timeoutMs: 10000 });
    } catch (error) {
      // Offline: the session ends by itself after 30 days; the token is forgotten either way.
    }
    this.profile.refresh_token = null;
    this.accessToken = null;
  }
}
