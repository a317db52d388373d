// The contest WebSocket client: docs/PROTOCOL.md, followed to the letter.
//
// One ContestConnection follows one contest through any number of sockets. It owns what
// "Staying in sync" says a client keeps (epoch, lastSeq, resyncPending), the handshake
// close codes (4001/4002/4003), reconnection with exponential backoff and jitter, a
// heartbeat that notices a socket the network silently dropped, and the server clock.
// It hands the page only room events in order, each once, and the direct replies.
//
// Events it emits (on(name, handler)):
//   "message" {event, data, ...}  a server message to apply: contest_state, room events in
//                                 order, timer_update, submission_result, resync_required…
//   "ready"                       joined: a contest_state or resync_complete arrived
//   "status"  {state, retryInMs}  "connecting" | "connected" | "waiting" (to reconnect)
//   "error"   data                an `error` no request of the page was waiting for
//   "fatal"   {kind, code, reason, message}  stopped for good: signed out, refused, removed…

import { ServerClock } from "./clock.js";

export const ROOM_EVENTS = new Set([
  "contest_start",
  "question_broadcast",
  "question_change",
  "leaderboard_update",
  "contest_end",
]);

// "1 s, 2 s, 4 s … max 30 s, plus random jitter" (docs/PROTOCOL.md, "Close codes").
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const JITTER = 0.5;
// After a 1008 (rate limit exceeded) the server wants a pause, not a quick retry.
const RATE_LIMIT_PAUSE_MS = 10000;
// Browsers answer the server's protocol pings by themselves but cannot see them; an
// application ping tells the page its socket still works (and samples the clock).
const PING_EVERY_MS = 15000;
const PONG_TIMEOUT_MS = 10000;

export class ConnectionLost extends Error {
  constructor() {
    super("The connection was lost before the server answered.");
    this.code = "DISCONNECTED";
  }
}

export class ServerError extends Error {
  constructor(data) {
    super(data.message || data.code);
    this.code = data.code;
    this.data = data;
  }
}

export function socketUrl(loc = window.location) {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/ws/contest`;
}

export class ContestConnection {
  // tokens: {access(): Promise<string>, refresh(): Promise<string>}; refresh rejects with
  // an error whose code is TOKEN_NOT_VALID (or a 401/403 status) when only signing in
  // again can help.
  constructor({ contestId, tokens, url = socketUrl(), clock = new ServerClock() }) {
    this.contestId = contestId;
    this.tokens = tokens;
    this.url = url;
    this.clock = clock;
    this.handlers = new Map();
    // Staying in sync.
    this.epoch = null;
    this.lastSeq = 0;
    this.resyncPending = false;
    // The socket of the moment and what is in flight on it.
    this.socket = null;
    this.ready = false;
    this.pending = new Map();
    this.joinRequestId = null;
    this.requests = 0;
    // Reconnection.
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.connecting = false;
    this.refreshedSinceReady = false;
    this.pingTimer = null;
    this.pongTimer = null;
    this.wake = () => {
      if (!this.stopped && !this.socket) this.reconnectNow();
    };
  }

  on(name, handler) {
    if (!this.handlers.has(name)) this.handlers.set(name, []);
    this.handlers.get(name).push(handler);
    return this;
  }

  emit(name, payload) {
    for (const handler of this.handlers.get(name) || []) handler(payload);
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this.wake);
    document.addEventListener("visibilitychange", this.wake);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.wake);
    document.removeEventListener("visibilitychange", this.wake);
    clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    this.rejectPending();
    if (socket) socket.close(1000, "left");
  }

  reconnectNow() {
    clearTimeout(this.retryTimer);
    this.connect();
  }

  // --- Sending ----------------------------------------------------------------------

  send(event, data) {
    this.requests += 1;
    const requestId = `${event}-${this.requests}`;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ event, data, requestId }));
    }
    return requestId;
  }

  // Sends and resolves with the direct reply's data, or rejects with a ServerError (an
  // `error` reply) or ConnectionLost (the socket closed first; the page decides whether
  // to send again once "ready").
  request(event, data) {
    if (!this.ready) return Promise.reject(new ConnectionLost());
    return new Promise((resolve, reject) => {
      const requestId = this.send(event, data);
      this.pending.set(requestId, { resolve, reject });
    });
  }

  rejectPending() {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const { reject } of pending) reject(new ConnectionLost());
  }

  // --- Connecting -------------------------------------------------------------------

  async connect() {
    clearTimeout(this.retryTimer);
    // One socket at a time: a wake-up may come while the token is being fetched.
    if (this.stopped || this.socket || this.connecting) return;
    this.emit("status", { state: "connecting" });
    let token;
    this.connecting = true;
    try {
      token = await this.tokens.access();
    } catch (error) {
      this.tokenTrouble(error);
      return;
    } finally {
      this.connecting = false;
    }
    if (this.stopped || this.socket) return;
    const socket = new WebSocket(`${this.url}?token=${encodeURIComponent(token)}`);
    this.socket = socket;
    socket.onopen = () => this.opened(socket);
    socket.onmessage = (message) => this.received(socket, message);
    socket.onclose = (close) => this.closed(socket, close.code, close.reason);
  }

  opened(socket) {
    if (socket !== this.socket) return;
    // The server accepts every handshake and closes at once when it refuses one (4001,
    // 4002, 4003): joining is what tells the page it is really in.
    this.join();
    this.startHeartbeat();
  }

  // A new socket joins with join_contest the first time; afterwards with resync, which
  // joins and replays what was missed, or answers with a whole contest_state.
  join() {
    if (this.epoch === null) {
      this.joinRequestId = this.send("join_contest", { contestId: this.contestId });
    } else {
      this.sendResync();
    }
  }

  sendResync() {
    this.resyncPending = true;
    this.joinRequestId = this.send("resync", {
      contestId: this.contestId,
      epoch: this.epoch,
      lastSeq: this.lastSeq,
    });
  }

  joined() {
    this.ready = true;
    this.attempt = 0;
    this.refreshedSinceReady = false;
    this.joinRequestId = null;
    this.emit("status", { state: "connected" });
    this.emit("ready");
  }

  // --- Receiving --------------------------------------------------------------------

  received(socket, message) {
    if (socket !== this.socket) return;
    const receivedAt = Date.now();
    let envelope;
    try {
      envelope = JSON.parse(message.data);
    } catch {
      return; // The server only sends JSON; nothing sensible to do with anything else.
    }
    const { event } = envelope;
    const data = envelope.data || {};
    envelope.data = data;
    // Replayed room events carry their old serverTime: only live ones are clock samples.
    const live = !ROOM_EVENTS.has(event) || !this.resyncPending;
    if (typeof data.serverTime === "string" && live) this.clock.sample(data.serverTime, receivedAt);

    if (ROOM_EVENTS.has(event) && typeof envelope.seq === "number") {
      this.roomEvent(envelope);
      return;
    }
    switch (event) {
      case "contest_state":
        this.epoch = data.epoch;
        this.lastSeq = data.seq;
        this.resyncPending = false;
        this.emit("message", envelope);
        this.joined();
        return;
      case "resync_complete":
        this.epoch = data.epoch;
        this.lastSeq = data.seq;
        this.resyncPending = false;
        this.emit("message", envelope);
        this.joined();
        return;
      case "resync_required":
        if (!this.resyncPending) this.sendResync();
        this.emit("message", envelope);
        return;
      case "pong":
        clearTimeout(this.pongTimer);
        this.settle(envelope, true);
        return;
      case "error":
        this.serverError(envelope);
        return;
      default:
        // timer_update, submission_result, and anything newer this page does not know.
        this.settle(envelope, true);
        this.emit("message", envelope);
    }
  }

  roomEvent(envelope) {
    if (this.epoch === null) return; // Not joined yet: the state that comes covers it.
    if (envelope.epoch === this.epoch && envelope.seq <= this.lastSeq) return;
    if (envelope.epoch === this.epoch && envelope.seq === this.lastSeq + 1) {
      this.lastSeq = envelope.seq;
      this.emit("message", envelope);
      return;
    }
    // A gap or another epoch: ask once; the reply covers everything until then.
    if (!this.resyncPending) this.sendResync();
  }

  settle(envelope, ok) {
    const waiting = this.pending.get(envelope.requestId);
    if (!waiting) return false;
    this.pending.delete(envelope.requestId);
    if (ok) waiting.resolve(envelope.data);
    else waiting.reject(new ServerError(envelope.data));
    return true;
  }

  serverError(envelope) {
    const data = envelope.data;
    if (envelope.requestId && envelope.requestId === this.joinRequestId) {
      this.joinFailed(data);
      return;
    }
    if (data.code === "NOT_JOINED" && this.ready) {
      // The socket is not in the contest after all: join again, and let the page resend.
      this.ready = false;
      this.sendResync();
    }
    if (!this.settle(envelope, false)) this.emit("error", data);
  }

  joinFailed(data) {
    this.resyncPending = false;
    if (data.code === "INTERNAL_ERROR" || data.code === "SERVICE_UNAVAILABLE") {
      // Nothing changed on the server; the same socket may simply ask again.
      this.retryJoin(this.backoffDelay());
    } else if (data.code === "RATE_LIMITED") {
      this.retryJoin(data.retryAfterMs || 1000);
    } else {
      this.fail({ kind: "join", code: data.code, message: data.message });
    }
  }

  retryJoin(delay) {
    const socket = this.socket;
    this.emit("status", { state: "waiting", retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      if (socket === this.socket && !this.stopped) this.join();
    }, delay);
  }

  // --- Closing and reconnecting -----------------------------------------------------

  closed(socket, code, reason) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.ready = false;
    this.joinRequestId = null;
    this.stopHeartbeat();
    this.rejectPending();
    if (this.stopped) return;
    if (code === 4002 || reason === "token expired") {
      this.refreshThenConnect();
    } else if (code === 4001) {
      this.fail({ kind: "signed-out", code, reason });
    } else if (code === 4003 && reason === "too many connections") {
      this.fail({ kind: "too-many", code, reason });
    } else if (code === 4003) {
      // user inactive, origin not allowed, removed from contest: retrying cannot help.
      this.fail({ kind: reason === "removed from contest" ? "removed" : "refused", code, reason });
    } else if (code === 1009) {
      this.fail({ kind: "too-big", code, reason });
    } else {
      // 1001/1012 (restart), 1006 (network), 1011, 1013 (try again later), 1008 (after a
      // pause), and anything unexpected: come back with backoff, then resync.
      this.scheduleReconnect(code === 1008 ? RATE_LIMIT_PAUSE_MS : 0, code);
    }
  }

  async refreshThenConnect() {
    if (this.refreshedSinceReady) {
      // A fresh token was refused as expired too (a clock problem on the server?): wait.
      this.scheduleReconnect(0, 4002);
      return;
    }
    this.refreshedSinceReady = true;
    this.emit("status", { state: "connecting" });
    try {
      await this.tokens.refresh();
    } catch (error) {
      this.tokenTrouble(error);
      return;
    }
    this.connect();
  }

  tokenTrouble(error) {
    const signedOut =
      error.code === "TOKEN_NOT_VALID" || error.status === 401 || error.status === 403;
    if (signedOut) this.fail({ kind: "signed-out", code: 4001, reason: "token expired" });
    else this.scheduleReconnect(0, 0); // The API is unreachable too: the network.
  }

  backoffDelay() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    return Math.round(base + Math.random() * base * JITTER);
  }

  scheduleReconnect(atLeastMs, code) {
    const delay = Math.max(atLeastMs, this.backoffDelay());
    this.attempt += 1;
    this.emit("status", { state: "waiting", retryInMs: delay, code });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  fail(info) {
    this.stop();
    this.emit("fatal", info);
  }

  // --- Heartbeat --------------------------------------------------------------------

  startHeartbeat() {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
    this.ping();
  }

  stopHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  ping() {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    this.send("ping", {});
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => {
      // No pong: the network dropped the socket without telling the browser. Closing it
      // could wait for ever on that network, so the page lets it go and starts anew.
      if (socket !== this.socket) return;
      socket.onclose = null;
      socket.close();
      this.closed(socket, 1006, "no answer to ping");
    }, PONG_TIMEOUT_MS);
  }
}
