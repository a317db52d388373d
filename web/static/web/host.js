// The host's big screen (/host/<id>/): the room as a viewer sees it over the WebSocket,
// the players who joined (polled from the REST list of participants, while the protocol
// announces no joins), each with a Remove button, and the organizer controls.
// The admin's session is the only sign-in: socket tokens come from
// POST /api/auth/session-token/, controls are POSTs with the CSRF token.

import { ApiError, request } from "./api.js";
import { answerText, applyMessage, emptyContest, isCorrectChoice, leaderboardVisible } from "./contest.js";
import { ContestConnection } from "./protocol.js";
import { $, Countdown, SHAPES, announce, focusOn, h, leaderboardList, ordinal, plural, points } from "./ui.js";
import { apiErrorText, closeText, socketErrorText } from "./words.js";

const config = JSON.parse($("#host-config").textContent);
const CONTROLS_PATH = `/api/contests/${config.contestId}`;
// The lobby fills up fast; later, late joiners are rare.
const PLAYERS_POLL_MS = { waiting: 2000, other: 10000 };
// The most names the side panel shows (one page of the API); the rest are counted.
const PLAYERS_SHOWN = 100;

let model = emptyContest();
model.title = config.title;
let drawnKey = null;
// The players still in (removed ones are left out), as the last poll found them.
let players = { list: [], total: null };
let playersTimer = null;
let playersPoll = 0; // the latest poll: an older answer arriving later is stale
let playersDrawnKey = null;
let socketTotal = 0;

async function sessionToken() {
  const reply = await request("/api/auth/session-token/", { method: "POST", csrf: config.csrfToken });
  return reply.access;
}

const connection = new ContestConnection({
  contestId: config.contestId,
  tokens: { access: sessionToken, refresh: sessionToken },
});
const countdown = new Countdown(null, connection.clock);
window.quiz = { connection, get model() { return model; } };

connection.on("message", (envelope) => {
  const before = model;
  model = applyMessage(model, envelope);
  if (envelope.event === "question_broadcast") announce(`Question ${model.questionIndex} of ${model.totalQuestions}.`);
  if (envelope.event === "question_change" && before.phase === "question") announce("Time is up.");
  if (envelope.event === "contest_end") announce("The contest is over.");
  if (envelope.event === "contest_state" && model.closed && !model.closedQuestion) fetchQuestions();
  render();
});
connection.on("status", ({ state, retryInMs }) => {
  const box = $("#connection");
  box.dataset.state = state;
  if (state === "connected") box.textContent = "Live";
  else if (state === "connecting") box.textContent = "Connecting…";
  else box.textContent = `Connection lost: retrying in ${Math.max(1, Math.round(retryInMs / 1000))} s`;
});
connection.on("error", (data) => showAlert(socketErrorText(data.code, data.message)));
connection.on("fatal", ({ kind, code, reason, message }) => {
  countdown.stop();
  $("#connection").textContent = "Not connected";
  if (kind === "signed-out") {
    showAlert("Your admin session has ended.", signInAgainLink());
  } else if (kind === "join") {
    showAlert(socketErrorText(code, message));
  } else {
    showAlert(closeText(code, reason), h("button", { type: "button", class: "button", on: { click: () => location.reload() } }, "Reconnect"));
  }
});

function signInAgainLink() {
  return h("a", { href: `/admin/login/?next=${encodeURIComponent(location.pathname)}` }, "Sign in to the admin again");
}

function showAlert(text, ...extra) {
  $("#game-alert").replaceChildren(h("p", { text }), ...extra);
}

// --- Players -----------------------------------------------------------------------------

async function pollPlayers() {
  clearTimeout(playersTimer);
  if (model.phase === "finished") return;
  const poll = ++playersPoll;
  try {
    const page = await request(`${CONTROLS_PATH}/participants/?removed=false&page_size=${PLAYERS_SHOWN}`);
    if (poll !== playersPoll) return; // a later poll (after a removal, say) is on its way
    players = { list: page.results, total: page.count };
    drawPlayers();
  } catch {
    // The next poll tries again; the list shown stays meanwhile.
  }
  if (poll !== playersPoll) return;
  const wait = model.phase === "waiting" ? PLAYERS_POLL_MS.waiting : PLAYERS_POLL_MS.other;
  playersTimer = setTimeout(pollPlayers, wait);
}

// Removing is for a contest that has not ended (once completed, the admin can still do it:
// the final standings are rewritten, which this screen would not show).
function canRemove() {
  return config.canControl && (model.status === "upcoming" || model.status === "active");
}

function drawPlayers({ focusIndex = null } = {}) {
  if (players.total === null) return;
  const removable = canRemove();
  const key = JSON.stringify([removable, players.total, players.list.map((p) => [p.id, p.display_name])]);
  if (key === playersDrawnKey && focusIndex === null) return;
  playersDrawnKey = key;
  const list = $("#player-names");
  // A redraw must not take the keyboard focus away from the button it was on.
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.participantId : null;
  $("#player-count").textContent = String(players.total);
  list.classList.toggle("with-controls", removable);
  list.replaceChildren(
    ...players.list.map((player) =>
      h("li", { class: "player" }, h("span", { class: "player-name", text: player.display_name }), removable ? removeButton(player) : null),
    ),
  );
  const shown = players.list.length;
  if (players.total > shown) list.append(h("li", { class: "muted", text: `and ${players.total - shown} more` }));
  const buttons = [...list.querySelectorAll("button[data-participant-id]")];
  if (focusIndex !== null) {
    // After a removal: the next player's button, so several can go in a row.
    focusOn(buttons[Math.min(focusIndex, buttons.length - 1)] || $("#players-title"));
  } else if (focused) {
    focusOn(buttons.find((b) => b.dataset.participantId === focused) || $("#players-title"));
  }
}

function removeButton(player) {
  // Its name says whom it removes ("Remove Ada"); the screen shows "Remove" beside the name.
  return h(
    "button",
    { type: "button", class: "remove-player", "data-participant-id": player.id, on: { click: (event) => removePlayer(player, event.currentTarget) } },
    "Remove",
    h("span", { class: "visually-hidden", text: ` ${player.display_name}` }),
  );
}

async function removePlayer(player, button) {
  const name = player.display_name;
  const question =
    `Remove ${name} from the contest? Their connection closes at once and they cannot join again; ` +
    "their answers stay stored, but they leave the leaderboard and the final standings.";
  if (!window.confirm(question)) return;
  const message = $("#control-message");
  message.textContent = "";
  button.disabled = true;
  const index = players.list.findIndex((p) => p.id === player.id);
  try {
    await request(`${CONTROLS_PATH}/participants/${player.id}/remove/`, { method: "POST", csrf: config.csrfToken });
    // Shown at once; the poll below confirms it (and ignores any older answer).
    players = { list: players.list.filter((p) => p.id !== player.id), total: Math.max(0, players.total - 1) };
    drawPlayers({ focusIndex: Math.max(0, index) });
    announce(`${name} was removed from the contest.`);
  } catch (failure) {
    button.disabled = false;
    controlFailed(failure);
  }
  pollPlayers();
}

// --- Controls ----------------------------------------------------------------------------

const CONFIRM = { end: "End the contest now? The final standings are written at once." };

for (const button of document.querySelectorAll("[data-control]")) {
  button.addEventListener("click", async () => {
    const control = button.dataset.control;
    if (CONFIRM[control] && !window.confirm(CONFIRM[control])) return;
    const message = $("#control-message");
    message.textContent = "";
    button.disabled = true;
    try {
      await request(`${CONTROLS_PATH}/${control}/`, { method: "POST", csrf: config.csrfToken });
      // What changed arrives over the WebSocket, like for every player.
    } catch (failure) {
      controlFailed(failure);
    } finally {
      drawControls();
    }
  });
}

function controlFailed(failure) {
  const message = $("#control-message");
  if (failure instanceof ApiError && (failure.status === 401 || failure.status === 403)) {
    message.replaceChildren("Your admin session cannot do this any more. ", signInAgainLink());
  } else {
    message.textContent = failure instanceof ApiError ? apiErrorText(failure) : String(failure);
  }
}

function drawControls() {
  const allowed = {
    start: model.status === "upcoming",
    pause: model.status === "active" && !model.paused,
    resume: model.status === "active" && model.paused,
    skip: model.status === "active" && model.phase === "question",
    end: model.status === "active",
  };
  const ready = connection.ready || model.contestId !== null;
  for (const button of document.querySelectorAll("[data-control]")) {
    button.disabled = !ready || !allowed[button.dataset.control];
  }
}

// --- Drawing -----------------------------------------------------------------------------

async function fetchQuestions() {
  try {
    const detail = await request(`${CONTROLS_PATH}/`);
    for (const q of detail.questions || []) {
      model.questions.set(q.id, { questionId: q.id, type: q.type, text: q.text, choices: q.choices || [] });
    }
    if (model.closed) model = { ...model, closedQuestion: model.questions.get(model.closed.closedQuestionId) || null };
    drawnKey = null;
    render();
  } catch {
    // Shown without the question's text.
  }
}

function countdownTarget() {
  if (model.phase === "question" && model.deadline) {
    // Paused: the time left as the server froze it, or none until it says.
    if (model.paused) return model.pausedRemaining !== null ? { frozen: model.pausedRemaining } : null;
    return { at: model.deadline };
  }
  if (model.phase === "intermission" && model.nextQuestionAt && !model.paused) return { at: model.nextQuestionAt };
  return null;
}

function render() {
  const key = [
    model.contestId,
    model.phase,
    model.question ? model.question.questionId : "",
    model.closed ? model.closed.closedQuestionId : "",
    model.closedQuestion ? "named" : "",
    model.paused,
    model.status,
    model.startTime,
  ].join("|");
  if (key !== drawnKey) {
    drawnKey = key;
    $("#stage").replaceChildren(drawStage());
    countdown.attach($(".countdown-value", $("#stage")));
  }
  // The socket's count of players moved (someone joined, or left the board): ask now.
  // The count shown is the list's: a frozen or hidden board stops the socket's.
  const total = model.leaderboard.totalParticipants;
  if (total !== socketTotal && model.phase !== "finished") {
    socketTotal = total;
    pollPlayers();
  }
  drawPlayers();
  drawBoard();
  drawControls();
  document.body.dataset.phase = model.phase;
}

function drawStage() {
  if (!model.contestId) return h("p", { class: "host-card muted", text: "Connecting to the contest…" });
  switch (model.phase) {
    case "waiting":
      return h(
        "div",
        { class: "host-card lobby" },
        h("h2", { class: "stage-title", text: "Waiting for players" }),
        h("p", { class: "lead" }, "Open ", h("strong", { text: $(".join-url").textContent }), " on your phone and enter the code ", h("strong", { class: "code", text: $("#join-code").textContent }), "."),
        model.startTime
          ? h("p", { text: `Starts by itself at ${new Date(model.startTime).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.` })
          : h("p", { text: config.canControl ? "Press Start when everyone is in." : "The organizer starts it." }),
      );
    case "question":
      return drawQuestion(model.question, null);
    case "intermission":
      if (!model.closed) {
        return h("div", { class: "host-card" }, h("h2", { class: "stage-title", text: model.paused ? "Paused" : "Get ready!" }));
      }
      return drawQuestion(model.closedQuestion, model.closed);
    case "finished":
      return drawPodium();
    default:
      return h("p", { text: "Connecting…" });
  }
}

function drawQuestion(question, closed) {
  const index = closed ? model.questionIndex : question.index;
  const card = h(
    "div",
    { class: `host-card question${closed ? " is-closed" : ""}` },
    h(
      "div",
      { class: "question-top" },
      h("p", { class: "question-meta", text: `Question ${index} of ${model.totalQuestions}` }),
      closed
        ? null
        : h("div", { class: "timer big", role: "timer", "aria-label": "Seconds left" }, h("span", { class: "countdown-value" }), h("span", { class: "timer-unit", "aria-hidden": "true", text: "s" })),
    ),
    model.paused ? h("p", { class: "paused", text: "Paused" }) : null,
    h("h2", { class: "question-text", text: question ? question.text : `Question ${index}` }),
  );
  if (question && question.choices && question.choices.length) {
    card.append(
      h(
        "ul",
        { class: "host-choices" },
        question.choices.map((choice, i) => {
          const right = closed && isCorrectChoice(closed, choice.id);
          return h(
            "li",
            { class: `host-choice answer-${i % 4}${closed ? (right ? " is-right" : " is-dim") : ""}` },
            h("span", { class: "shape", "aria-hidden": "true", text: SHAPES[i % SHAPES.length] }),
            h("span", { class: "answer-text", text: choice.text }),
            right ? h("strong", { class: "tag tag-right", text: "Correct" }) : null,
          );
        }),
      ),
    );
  } else if (closed) {
    card.append(h("p", { class: "correct-answer" }, "Correct answer: ", h("strong", { text: answerText(question, closed.correctAnswer) })));
  } else {
    card.append(h("p", { class: "muted", text: question.type === "numeric" ? "Players type a number." : "Players type their answer." }));
  }
  if (closed) {
    const { answered, correct } = closed.stats || { answered: 0, correct: 0 };
    const share = answered ? Math.round((100 * correct) / answered) : 0;
    card.append(
      h(
        "div",
        { class: "stats-panel" },
        h("p", { class: "stats", text: `${correct} of ${plural(answered, "answer")} right (${share}%)` }),
        h("div", { class: "bar", role: "img", "aria-label": `${share}% right` }, h("span", { class: "bar-fill", style: `width: ${share}%` })),
        h("p", { class: "next" }, closed.nextQuestionId ? (model.paused ? "Paused." : ["Next question in ", h("span", { class: "countdown-value" }), " s"]) : "That was the last question."),
      ),
    );
  }
  return card;
}

function drawPodium() {
  const final = model.final || { status: model.status, finalLeaderboard: [] };
  if (final.status === "cancelled") {
    return h("div", { class: "host-card" }, h("h2", { class: "stage-title", text: "Contest cancelled" }));
  }
  const rows = final.finalLeaderboard || [];
  return h(
    "div",
    { class: "host-card podium-card" },
    h("h2", { class: "stage-title", text: "Final standings" }),
    h(
      "ol",
      { class: "podium", "aria-label": "Podium" },
      rows.slice(0, 3).map((row) =>
        h(
          "li",
          { class: `podium-step place-${row.rank}` },
          h("span", { class: "podium-name", text: row.displayName }),
          h("span", { class: "podium-score", text: points(row.score) }),
          h("span", { class: "podium-place", text: ordinal(row.rank) }),
        ),
      ),
    ),
    rows.length > 3 ? leaderboardList(rows.slice(3), null, { label: "The rest of the standings" }) : null,
  );
}

function drawBoard() {
  const section = $("#board-section");
  const visible = leaderboardVisible(model) && model.phase !== "finished";
  section.hidden = !visible;
  $("#board-note").textContent = model.leaderboard.frozen ? "Leaderboard frozen" : "";
  // Answers revealed on close (the default) reach the board only when their question closes.
  const onClose = !model.rules || model.rules.answerReveal !== "immediate";
  $("#board").replaceChildren(
    model.leaderboard.top.length
      ? leaderboardList(model.leaderboard.top, null, { label: "Leaderboard" })
      : h("p", { class: "muted", text: onClose ? "Scores appear when the first question closes." : "Scores appear after the first answers." }),
  );
}

countdown.follow(countdownTarget);
render();
connection.start();
pollPlayers();
