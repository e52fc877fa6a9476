// The tab API client: JSON in and out, the bearer token on every request.

/** An error answer of the API: status, code, message and field details. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error || {};
    const message = error.message || `request failed (${status})`;
    super(message.charAt(0).toUpperCase() + message.slice(1));
    this.status = status;
    this.code = error.code || "error";
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

export class Api {
  /**
   * @param {{token: (fresh?: boolean) => Promise<string>, onSignedOut?: () => void}} session
   */
  constructor(session) {
    this.session = session;
  }

  /**
   * @param {{ifMatch?: string}} [options] ifMatch: the etag of the document the change is
   *   made to; the API answers 412 when it changed since.
   */
  async request(method, path, body, options = {}) {
    let response = await this.#send(method, path, body, options, false);
    if (response.status === 401) {
      // The token may have expired since it was handed out: ask for a fresh one once.
      response = await this.#send(method, path, body, options, true);
      if (response.status === 401) this.session.onSignedOut?.();
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  async #send(method, path, body, { ifMatch }, fresh) {
    const headers = { Authorization: `Bearer ${await this.session.token(fresh)}` };
    if (ifMatch) headers["If-Match"] = ifMatch.startsWith('"') || ifMatch.startsWith("W/") ? ifMatch : `"${ifMatch}"`;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body);
  }

  put(path, body, options) {
    return this.request("PUT", path, body, options);
  }

  delete(path) {
    return this.request("DELETE", path);
  }
}

/** Encode one path segment (ids, phone numbers with "+"). */
export function segment(value) {
  return encodeURIComponent(value);
}
