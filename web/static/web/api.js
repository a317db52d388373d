// The REST API (docs/API.md): JSON in and out, errors as ApiError {status, code, detail,
// errors}. Players authenticate with JWTs kept per tab; the host page with the admin's
// session cookie and Django's CSRF token.

export class ApiError extends Error {
  constructor(status, body) {
    super(body.detail || body.code || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || "INTERNAL_ERROR";
    this.detail = body.detail || "";
    this.errors = body.errors || {};
  }
}

export async function request(path, { method = "GET", body, token, csrf } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  if (csrf) headers["X-CSRFToken"] = csrf;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { code: "NETWORK", detail: "The server cannot be reached." });
  }
  const text = await response.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { code: "INTERNAL_ERROR", detail: `HTTP ${response.status}` };
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A player's tokens, kept in sessionStorage: each browser tab is its own player (two tabs
// can play against each other) and a reload keeps the sign-in.
const KEY = "quiz.session";

export class PlayerSession {
  constructor(storage = window.sessionStorage) {
    this.storage = storage;
    this.data = JSON.parse(storage.getItem(KEY) || "null");
  }

  get signedIn() {
    return Boolean(this.data && this.data.refresh);
  }

  get username() {
    return this.data ? this.data.username : "";
  }

  get contest() {
    return this.data ? this.data.contest || null : null;
  }

  set contest(value) {
    this.data.contest = value;
    this.save();
  }

  save() {
    if (this.data) this.storage.setItem(KEY, JSON.stringify(this.data));
    else this.storage.removeItem(KEY);
  }

  async signIn(username, password) {
    const tokens = await request("/api/auth/token/", {
      method: "POST",
      body: { username, password },
    });
    this.data = { username, access: tokens.access, refresh: tokens.refresh, contest: null };
    this.save();
  }

  async register(username, displayName, password) {
    await request("/api/auth/register/", {
      method: "POST",
      body: { username, password, display_name: displayName },
    });
    await this.signIn(username, password);
  }

  signOut() {
    this.data = null;
    this.save();
  }

  access() {
    return this.data.access;
  }

  // A new access token from the refresh token; an ApiError TOKEN_NOT_VALID when the
  // refresh token has expired too (then only signing in again helps).
  async refresh() {
    const tokens = await request("/api/auth/token/refresh/", {
      method: "POST",
      body: { refresh: this.data.refresh },
    });
    this.data.access = tokens.access;
    if (tokens.refresh) this.data.refresh = tokens.refresh;
    this.save();
    return tokens.access;
  }

  // An API call with the access token, refreshed once when the server says it expired.
  async call(path, options = {}) {
    try {
      return await request(path, { ...options, token: this.access() });
    } catch (error) {
      if (error.code !== "TOKEN_NOT_VALID") throw error;
      await this.refresh();
      return request(path, { ...options, token: this.access() });
    }
  }
}
