// The host's big screen (/host/<id>/): the room as a viewer sees it over the WebSocket,
// the players who joined (polled from the REST leaderboard, which lists everyone
// registered, while the protocol announces no joins), and the organizer controls.
// The admin's session is the only sign-in: socket tokens come from
// POST /api/auth/session-token/, controls are POSTs with the CSRF token.

import { ApiError, request } from "./api.js";
import { answerText, applyMessage, emptyContest, isCorrectChoice, leaderboardVisible } from "./contest.js";
import { ContestConnection } from "./protocol.js";
import { $, Countdown, SHAPES, announce, h, leaderboardList, ordinal, plural, points } from "./ui.js";
import { apiErrorText, closeText, socketErrorText } from "./words.js";

const config = JSON.parse($("#host-config").textContent);
const CONTROLS_PATH = `/api/contests/${config.contestId}`;
// The lobby fills up fast; later, late joiners are rare.
const PLAYERS_POLL_MS = { waiting: 2000, other: 10000 };

let model = emptyContest();
model.title = config.title;
let drawnKey = null;
let playersTimer = null;
let playersShown = 0;

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
  try {
    const board = await request(`${CONTROLS_PATH}/leaderboard/?limit=100`);
    drawPlayers(board.top.map((row) => row.display_name), board.total_participants);
  } catch {
    // The next poll tries again; the count from the socket stays meanwhile.
  }
  const wait = model.phase === "waiting" ? PLAYERS_POLL_MS.waiting : PLAYERS_POLL_MS.other;
  playersTimer = setTimeout(pollPlayers, wait);
}

function drawPlayers(names, total) {
  playersShown = total;
  $("#player-count").textContent = String(total);
  const list = $("#player-names");
  list.replaceChildren(...names.map((name) => h("li", { text: name })));
  if (total > names.length) list.append(h("li", { class: "muted", text: `and ${total - names.length} more` }));
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
      if (failure instanceof ApiError && (failure.status === 401 || failure.status === 403)) {
        message.replaceChildren("Your admin session cannot do this any more. ", signInAgainLink());
      } else {
        message.textContent = failure instanceof ApiError ? apiErrorText(failure) : String(failure);
      }
    } finally {
      drawControls();
    }
  });
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
  const total = model.leaderboard.totalParticipants;
  if (total) $("#player-count").textContent = String(total);
  // The socket says someone joined whom the list does not show yet: ask now.
  if (total > playersShown && model.phase !== "finished") {
    playersShown = total;
    pollPlayers();
  }
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
  $("#board").replaceChildren(
    model.leaderboard.top.length
      ? leaderboardList(model.leaderboard.top, null, { label: "Leaderboard" })
      : h("p", { class: "muted", text: "Scores appear after the first answers." }),
  );
}

countdown.follow(countdownTarget);
render();
connection.start();
pollPlayers();
