// What the pages say to people: every error code of docs/PROTOCOL.md and docs/API.md, every
// close code, in words a player (or an organizer) understands. The server's own message is
// for programmers; it is shown only for a code this table does not know yet.

// WebSocket `error` codes (docs/PROTOCOL.md, "Errors"), plus those announced by the
// fair-play and reliability work (PARTICIPANT_REMOVED, SERVICE_UNAVAILABLE).
export const SOCKET_ERRORS = {
  INVALID_EVENT: "This page sent the server something it does not understand. Reload the page.",
  INVALID_PAYLOAD: "The server could not read what this page sent. Reload the page.",
  CONTEST_NOT_FOUND: "There is no such contest any more. Check the join code.",
  CONTEST_NOT_ACTIVE: "This contest is not running: it has not started yet, or it is over.",
  CONTEST_FULL: "This contest is full: it has reached its maximum number of players.",
  NOT_REGISTERED: "You are not registered for this contest.",
  NOT_JOINED: "You were not in the contest for a moment. Reconnecting…",
  QUESTION_NOT_FOUND: "That question is not part of this contest.",
  QUESTION_CLOSED: "Too late: time was up before your answer arrived.",
  DUPLICATE_SUBMISSION: "You have already answered this question. Your first answer counts.",
  INVALID_ANSWER: "That answer does not fit this question. Check it and try again.",
  RATE_LIMITED: "Too many clicks at once. Wait a moment, then try again.",
  INTERNAL_ERROR: "The server had a problem and saved nothing. Please try again.",
  SERVICE_UNAVAILABLE: "The server could not save your answer in time. Please answer again.",
  PARTICIPANT_REMOVED: "An organizer removed you from this contest, so you cannot join it again.",
};

// What a failed join means for the player, when it is said at join time.
export const JOIN_ERRORS = {
  ...SOCKET_ERRORS,
  CONTEST_NOT_ACTIVE: "This contest is over, and you did not play in it.",
  NOT_REGISTERED: "This contest needs registration, and you are not registered for it.",
};

// REST `code`s (docs/API.md). VALIDATION_ERROR is shown field by field instead.
export const API_ERRORS = {
  VALIDATION_ERROR: "Some fields need another look.",
  PARSE_ERROR: "The server could not read what this page sent. Reload the page.",
  DISALLOWED_HOST: "This server does not answer to this address. Check the address you opened.",
  REQUEST_TOO_LARGE: "That is too much to send at once.",
  SERVICE_UNAVAILABLE: "The server is briefly unavailable and saved nothing. Please try again.",
  NOT_AUTHENTICATED: "Please sign in first.",
  TOKEN_NOT_VALID: "Your sign-in has expired. Please sign in again.",
  NO_ACTIVE_ACCOUNT: "Wrong username or password.",
  PERMISSION_DENIED: "Your account is not allowed to do this.",
  NOT_FOUND: "The server does not know this address.",
  METHOD_NOT_ALLOWED: "The server does not allow this here.",
  UNSUPPORTED_MEDIA_TYPE: "The server could not read what this page sent. Reload the page.",
  CONTEST_NOT_FOUND: "No contest has this join code.",
  CONTEST_LOCKED: "This contest has started, so it cannot be edited.",
  CONTEST_FULL: "This contest is full: it has reached its maximum number of players.",
  CONTEST_NOT_ACTIVE: "This contest is over, and you did not play in it.",
  INVALID_TRANSITION: "That is not possible in the contest's current state.",
  CONTEST_HAS_NO_QUESTIONS: "This contest has no questions yet: add some in the admin.",
  CONTEST_NOT_READY: "This contest is not ready to start.",
  PARTICIPANT_REMOVED: "An organizer removed you from this contest, so you cannot join it again.",
  PARTICIPANT_NOT_FOUND: "That player is not in this contest any more.",
  INTERNAL_ERROR: "The server had a problem. Please try again.",
  NETWORK: "The server cannot be reached. Check your connection and try again.",
};

// Close codes and reasons (docs/PROTOCOL.md, "Connecting" and "Close codes") that stop the
// client; the others make it reconnect.
export const CLOSE_REASONS = {
  "missing token": "Please sign in again.",
  "invalid token": "Your sign-in is no longer valid. Please sign in again.",
  "unknown user": "This account no longer exists. Please sign in with another one.",
  "token expired": "Your sign-in has expired. Please sign in again.",
  "user inactive": "This account has been deactivated. Ask an organizer.",
  "origin not allowed":
    "The server refuses connections from this address. An administrator must add it to " +
    "ALLOWED_HOSTS (or WS_ALLOWED_ORIGINS).",
  "too many connections":
    "You are connected from too many tabs or devices. Close one of them, then try again.",
  "removed from contest": "An organizer removed you from this contest.",
  "message too big": "This page sent a message that was too big for the server. Reload the page.",
  "rate limit exceeded": "This page sent too many messages, so the server paused it for a moment.",
  "server error": "The server had a problem with this connection.",
  "service restart": "The server is restarting. Reconnecting…",
  "too slow": "The connection was too slow to keep up. Reconnecting…",
};

export function socketErrorText(code, message, table = SOCKET_ERRORS) {
  return table[code] || `${message || "Something went wrong."} (${code})`;
}

export function apiErrorText(error, table = API_ERRORS) {
  if (error.code === "INVALID_TRANSITION" || error.code === "CONTEST_NOT_READY") {
    // The detail names the state or the problems, which organizers need to see.
    return `${table[error.code]} ${error.detail || ""}`.trim();
  }
  return table[error.code] || `${error.detail || "Something went wrong."} (${error.code})`;
}

export function closeText(code, reason) {
  if (CLOSE_REASONS[reason]) return CLOSE_REASONS[reason];
  if (code === 4001 || code === 4002) return CLOSE_REASONS["invalid token"];
  if (code === 1009) return CLOSE_REASONS["message too big"];
  return `The server closed the connection${reason ? `: ${reason}` : ""} (${code}).`;
}
