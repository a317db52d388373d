// The player's page (/play/): sign in or sign up, join with a code, then play what the
// WebSocket says (docs/WEB.md). Views: auth → join → game; the game view draws the model
// of contest.js, which only server messages change.

import { ApiError, PlayerSession } from "./api.js";
import {
  answerText,
  applyMessage,
  closedResult,
  emptyContest,
  isCorrectChoice,
  leaderboardVisible,
} from "./contest.js";
import { ConnectionLost, ContestConnection } from "./protocol.js";
import {
  $,
  Countdown,
  SHAPES,
  announce,
  clockTime,
  focusOn,
  focusWithin,
  h,
  leaderboardList,
  ordinal,
  plural,
  points,
  showOnly,
} from "./ui.js";
import { JOIN_ERRORS, apiErrorText, closeText, socketErrorText } from "./words.js";

const session = new PlayerSession();
const views = ["#view-loading", "#view-auth", "#view-join", "#view-game"].map((s) => $(s));

// The game of the moment.
let connection = null;
let model = emptyContest();
let drawnKey = null;
let drawnQuestion = null; // the question on screen, to give a new one the focus
let drafts = new Map(); // questionId -> what the player typed or toggled, kept across redraws
let detailsAsked = false;
let outOfGame = false; // stopped for good (removed, refused): nothing left to play here
const countdown = new Countdown(null, null, { onSecond: secondPassed });

// --- Views ------------------------------------------------------------------------------

function showAuth(notice = "") {
  showOnly(views, $("#view-auth"));
  $("#auth-notice").textContent = notice;
  const field = $("#sign-in-form").hidden ? $("#register-username") : $("#sign-in-username");
  focusOn(notice ? $("#auth-title") : field);
}

function showJoin(error = "") {
  showOnly(views, $("#view-join"));
  $("#signed-in-as").textContent = session.username;
  $("#join-error").textContent = error;
  focusOn($("#join-code"));
}

for (const button of document.querySelectorAll("[data-show]")) {
  button.addEventListener("click", () => {
    const target = $(`#${button.dataset.show}`);
    $("#sign-in-form").hidden = target.id !== "sign-in-form";
    $("#register-form").hidden = target.id !== "register-form";
    focusOn(target.querySelector("input"));
  });
}

// --- Signing in and up --------------------------------------------------------------------

function busy(form, on) {
  for (const control of form.querySelectorAll("button, input")) control.disabled = on;
  form.setAttribute("aria-busy", on ? "true" : "false");
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const username = form.username.value.trim();
  const password = form.password.value;
  const error = $("#sign-in-error");
  if (!username || !password) {
    error.textContent = "Enter your username and your password.";
    focusOn(username ? form.password : form.username);
    return;
  }
  error.textContent = "";
  busy(form, true);
  try {
    await session.signIn(username, password);
    form.reset();
    showJoin();
  } catch (failure) {
    error.textContent = describeApiError(failure);
    focusOn(form.password);
  } finally {
    busy(form, false);
  }
});

$("#register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const fields = ["username", "display_name", "password"];
  for (const name of fields) {
    $(`#register-${name}-error`).textContent = "";
    form[name].removeAttribute("aria-invalid");
  }
  const error = $("#register-error");
  error.textContent = "";
  const username = form.username.value.trim();
  if (!username || !form.password.value) {
    error.textContent = "Choose a username and a password.";
    focusOn(username ? form.password : form.username);
    return;
  }
  busy(form, true);
  try {
    await session.register(username, form.display_name.value.trim(), form.password.value);
    form.reset();
    showJoin();
  } catch (failure) {
    let first = null;
    for (const name of fields) {
      const messages = failure.errors ? failure.errors[name] : null;
      if (!messages) continue;
      $(`#register-${name}-error`).textContent = messages.join(" ");
      form[name].setAttribute("aria-invalid", "true");
      first = first || form[name];
    }
    error.textContent = first ? "Please check the fields marked above." : describeApiError(failure);
    focusOn(first || form.username);
  } finally {
    busy(form, false);
  }
});

function describeApiError(failure) {
  return failure instanceof ApiError ? apiErrorText(failure) : "Something went wrong. Please try again.";
}

$("#sign-out").addEventListener("click", () => {
  session.signOut();
  showAuth("You are signed out.");
});

// --- Joining ----------------------------------------------------------------------------

$("#join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const code = form.join_code.value.trim().toUpperCase();
  const error = $("#join-error");
  if (!code) {
    error.textContent = "Enter the join code shown on the big screen.";
    focusOn(form.join_code);
    return;
  }
  error.textContent = "";
  busy(form, true);
  try {
    const found = await session.call(`/api/contests/?join_code=${encodeURIComponent(code)}`);
    const contest = found.results && found.results[0];
    if (!contest) {
      error.textContent = `No contest has the join code ${code}. Check it on the big screen.`;
      focusOn(form.join_code);
      return;
    }
    // Registering is what joining means to a player; it also admits them to contests that
    // require registration, and makes an organizer who wants to play a player (the
    // WebSocket would make them a viewer). Already registered: the same participant.
    if (contest.status === "upcoming" || contest.status === "active") {
      await session.call(`/api/contests/${contest.id}/register/`, { method: "POST", body: {} });
    }
    session.contest = { id: contest.id, code, title: contest.title };
    enterGame();
  } catch (failure) {
    if (failure.code === "TOKEN_NOT_VALID") {
      session.signOut();
      showAuth(apiErrorText(failure));
      return;
    }
    error.textContent = describeApiError(failure);
    focusOn(form.join_code);
  } finally {
    busy(form, false);
  }
});

$("#leave").addEventListener("click", () => {
  leaveGame();
  session.contest = null;
  $("#join-code").value = "";
  showJoin();
});

// --- The game ---------------------------------------------------------------------------

function enterGame() {
  leaveGame();
  const contest = session.contest;
  model = emptyContest();
  model.title = contest.title;
  drafts = new Map();
  drawnKey = null;
  drawnQuestion = null;
  detailsAsked = false;
  outOfGame = false;
  showOnly(views, $("#view-game"));
  $("#game-alert").textContent = "";
  connection = new ContestConnection({
    contestId: contest.id,
    tokens: { access: async () => session.access(), refresh: () => session.refresh() },
  });
  countdown.clock = connection.clock;
  countdown.follow(countdownTarget);
  connection.on("message", received);
  connection.on("ready", resendAnswer);
  connection.on("status", showStatus);
  connection.on("error", (data) => alertPlayer(socketErrorText(data.code, data.message)));
  connection.on("fatal", stopped);
  // For the curious and for the browser tests: the live connection of this tab.
  window.quiz = { get connection() { return connection; }, get model() { return model; } };
  render();
  focusOn($("#game-title"));
  connection.start();
}

function leaveGame() {
  if (connection) connection.stop();
  connection = null;
  countdown.stop();
}

function received(envelope) {
  const before = model;
  model = applyMessage(model, envelope);
  const { event } = envelope;
  if (event === "question_broadcast") {
    $("#game-alert").textContent = "";
    announce(`Question ${model.questionIndex} of ${model.totalQuestions}.`);
  } else if (event === "question_change" && before.phase === "question") {
    announceResult();
  } else if (event === "contest_end") {
    announce(model.final.status === "cancelled" ? "The contest was cancelled." : "The contest is over. Final standings.");
  } else if (event === "contest_state" && model.closed && !model.closedQuestion) {
    fetchQuestionTexts();
  }
  render();
}

// A page that (re)joined after a question closed has not seen its choices: the REST
// detail shows them once a question has been live.
async function fetchQuestionTexts() {
  if (detailsAsked) return;
  detailsAsked = true;
  try {
    const detail = await session.call(`/api/contests/${model.contestId}/`);
    for (const q of detail.questions || []) {
      if (!q.id) continue;
      model.questions.set(q.id, { questionId: q.id, type: q.type, text: q.text, choices: q.choices || [] });
    }
    if (model.closed) model = { ...model, closedQuestion: model.questions.get(model.closed.closedQuestionId) || null };
    drawnKey = null;
    render();
  } catch {
    // The result still shows, only without the question's text.
  }
}

function showStatus({ state, retryInMs }) {
  const box = $("#connection");
  box.replaceChildren();
  box.dataset.state = state;
  if (state === "connecting" && model.contestId) box.append("Connecting…");
  if (state === "waiting") {
    const seconds = Math.max(1, Math.round(retryInMs / 1000));
    box.append(
      `Connection lost. Trying again in ${plural(seconds, "second")}… `,
      h("button", { type: "button", class: "link", on: { click: () => connection && connection.reconnectNow() } }, "Reconnect now"),
    );
  }
}

function stopped({ kind, code, reason, message }) {
  countdown.stop();
  if (kind === "signed-out") {
    // After signing in again, the join code is there to get back in.
    $("#join-code").value = session.contest ? session.contest.code : "";
    session.signOut();
    showAuth(closeText(code, reason));
    return;
  }
  if (kind === "join") {
    // Refused at join time (full, over, removed…): this contest is not for this player.
    session.contest = null;
    showJoin(socketErrorText(code, message, JOIN_ERRORS));
    return;
  }
  const text = kind === "removed" ? JOIN_ERRORS.PARTICIPANT_REMOVED : closeText(code, reason);
  $("#connection").replaceChildren();
  const actions = [];
  if (kind === "too-many" || kind === "too-big") {
    actions.push(h("button", { type: "button", class: "button", on: { click: () => enterGame() } }, "Try again"));
  } else {
    // Removed, deactivated, or refused by the server's configuration: no way back in here,
    // so the question and its answers go too (they could only be sent nowhere).
    session.contest = null;
    outOfGame = true;
    actions.push(playAgainButton());
  }
  alertPlayer(text, ...actions);
  if (outOfGame) {
    render();
    focusOn($("#game-alert p"));
  }
}

function alertPlayer(text, ...actions) {
  const box = $("#game-alert");
  box.replaceChildren(h("p", { text }), ...actions);
}

// --- Answering --------------------------------------------------------------------------

async function submitAnswer(value) {
  const question = model.question;
  if (!question || (model.answer && model.answer.state !== "refused")) return;
  $("#game-alert").textContent = "";
  model = { ...model, answer: { questionId: question.questionId, value, state: "sending" } };
  render();
  focusOn($("#answer-status"));
  await sendAnswer(false);
}

async function sendAnswer(resent) {
  const answer = model.answer;
  if (!answer || answer.state !== "sending" || !connection) return;
  try {
    await connection.request("submit_answer", {
      contestId: model.contestId,
      questionId: answer.questionId,
      answer: answer.value,
    });
    // The submission_result itself came through received().
  } catch (failure) {
    if (failure instanceof ConnectionLost) {
      render(); // "sending": it goes again once the connection is back (resendAnswer).
      return;
    }
    answerRefused(failure, resent);
  }
}

function answerRefused(failure, resent) {
  const code = failure.code;
  const current = model.answer;
  if (!current) return;
  if (code === "DUPLICATE_SUBMISSION") {
    // Sent again after a lost connection: the first one had arrived. Otherwise another
    // tab of this player answered first.
    model = { ...model, answer: { ...current, state: "received", isCorrect: null, pointsAwarded: null } };
    if (!resent) alertPlayer(socketErrorText(code, failure.message));
  } else if (code === "NOT_JOINED") {
    return; // The connection joins again and resends (resendAnswer).
  } else if (code === "QUESTION_CLOSED") {
    model = { ...model, answer: { ...current, state: "late" } };
    alertPlayer(socketErrorText(code, failure.message));
  } else {
    // Nothing was stored (SERVICE_UNAVAILABLE, INTERNAL_ERROR, RATE_LIMITED,
    // INVALID_ANSWER…): the controls come back so the player can answer again.
    model = { ...model, answer: { ...current, state: "refused" } };
    const wait = failure.data && failure.data.retryAfterMs;
    alertPlayer(socketErrorText(code, failure.message) + (wait ? ` (in ${Math.ceil(wait / 1000)} s)` : ""));
  }
  render();
  if (model.answer && model.answer.state === "refused") focusOn($("#stage .answers button, #stage .answers input"));
}

function resendAnswer() {
  const answer = model.answer;
  if (answer && answer.state === "sending" && model.question && model.question.questionId === answer.questionId) {
    sendAnswer(true);
  }
}

// --- Drawing ----------------------------------------------------------------------------

function countdownTarget() {
  if (model.phase === "question" && model.deadline) {
    // Paused: the time left as the server froze it, or none until it says.
    if (model.paused) return model.pausedRemaining !== null ? { frozen: model.pausedRemaining } : null;
    return { at: model.deadline };
  }
  if (model.phase === "intermission" && model.nextQuestionAt) return { at: model.nextQuestionAt };
  return null;
}

function secondPassed(seconds) {
  if (model.phase !== "question" || model.paused) return;
  if (seconds === 10 || seconds === 5) announce(`${seconds} seconds left.`);
  if (seconds === 0) announce("Time is up.");
}

function stageKey() {
  const answer = model.answer ? model.answer.state : "none";
  const question = model.question ? model.question.questionId : "";
  const closed = model.closed ? model.closed.closedQuestionId : "";
  const named = model.closedQuestion ? "named" : "";
  // The lobby shows the number of players; elsewhere it must not redraw a question.
  const players = model.phase === "waiting" ? model.leaderboard.totalParticipants : "";
  return [model.contestId, model.phase, question, answer, closed, named, model.paused, model.status, players, model.startTime].join("|");
}

function render() {
  $("#game-title").textContent = model.title || "Contest";
  $("#game-progress").textContent =
    model.totalQuestions && model.questionIndex && model.phase !== "finished"
      ? `Question ${model.questionIndex} of ${model.totalQuestions}`
      : "";
  $("#you-line").textContent = youLine();
  const stage = $("#stage");
  if (outOfGame) {
    drawnKey = null;
    $("#game-progress").textContent = "";
    $("#you-line").textContent = "";
    stage.replaceChildren();
    $("#board-section").hidden = true;
    $("#leave").hidden = true;
    return;
  }
  const key = stageKey();
  if (key !== drawnKey) {
    const hadFocus = focusWithin(stage) && document.activeElement !== document.body;
    const shownQuestion = model.phase === "question" ? model.question.questionId : null;
    const newQuestion = shownQuestion !== null && shownQuestion !== drawnQuestion;
    drawnQuestion = shownQuestion;
    drawnKey = key;
    stage.replaceChildren(drawStage());
    countdown.attach($(".countdown-value", stage));
    if (newQuestion) focusOn($(".question-text", stage));
    else if (hadFocus && !stage.contains(document.activeElement)) {
      // Redrawn under the player's focus: back to where they were in the question (its
      // text before answering, the answer's status after), else the new heading.
      const answered = model.answer && model.answer.state !== "refused";
      focusOn((answered && $("#answer-status", stage)) || $(".question-text", stage) || $("h2", stage));
    }
  }
  drawBoard();
  $("#leave").hidden = model.phase === "finished";
}

// The player's score, and their place when a board tells it: the final standings, or the
// live board unless it is hidden (no rank at all) or frozen (its rank is of then, the
// score of now).
function youLine() {
  const you = model.you;
  if (!you || typeof you.score !== "number") return "";
  const score = points(you.score);
  if (typeof you.rank !== "number") return score;
  if (model.phase === "finished") {
    const total = model.final && model.final.totalParticipants;
    return total ? `${score} · ${ordinal(you.rank)} of ${total}` : score;
  }
  if (!leaderboardVisible(model) || model.leaderboard.frozen) return score;
  return `${score} · ${ordinal(you.rank)} of ${model.leaderboard.totalParticipants}`;
}

function drawStage() {
  if (!model.contestId) return h("p", { class: "card muted", text: "Connecting to the contest…" });
  switch (model.phase) {
    case "waiting":
      return drawLobby();
    case "question":
      return drawQuestion();
    case "intermission":
      return model.closed ? drawResult() : drawGetReady();
    case "finished":
      return drawFinal();
    default:
      return h("p", { text: "Connecting…" });
  }
}

function drawLobby() {
  const facts = h("dl", { class: "facts" });
  const fact = (term, value) => facts.append(h("div", {}, h("dt", { text: term }), h("dd", { text: value })));
  // A hidden board's contest_state has no count of players.
  if (leaderboardVisible(model)) fact("Players so far", String(model.leaderboard.totalParticipants || 1));
  if (model.startTime) fact("Starts at", clockTime(model.startTime));
  else fact("Starts", "when the host starts it");
  if (model.totalQuestions) {
    const minutes = Math.max(1, Math.round(model.estimatedDuration / 60));
    fact("Questions", `${model.totalQuestions}, about ${plural(minutes, "minute")}`);
  }
  const card = h(
    "div",
    { class: "card lobby" },
    h("h2", { text: "You're in!" }),
    h("p", { class: "lead", text: "Waiting for the host to start. Keep this page open." }),
    facts,
  );
  if (!leaderboardVisible(model)) card.append(h("p", { class: "muted", text: "The leaderboard stays hidden until the end." }));
  return card;
}

function drawGetReady() {
  return h(
    "div",
    { class: "card get-ready" },
    h("h2", { text: model.paused ? "Paused by the host" : "Get ready!" }),
    h("p", { class: "lead" }, "The next question is coming", model.nextQuestionAt ? [" in ", h("span", { class: "countdown-value" }), " s."] : "."),
  );
}

function drawQuestion() {
  const question = model.question;
  const answer = model.answer;
  const locked = Boolean(answer && answer.state !== "refused");
  const card = h(
    "div",
    { class: "card question", "data-question-id": question.questionId },
    h(
      "div",
      { class: "question-top" },
      h("p", { class: "question-meta", text: `For up to ${points(question.points)}` }),
      h(
        "div",
        { class: "timer", role: "timer", "aria-label": "Seconds left" },
        h("span", { class: "countdown-value" }),
        h("span", { class: "timer-unit", "aria-hidden": "true", text: "s" }),
      ),
    ),
    model.paused ? h("p", { class: "paused", text: "Paused by the host: the clock has stopped." }) : null,
    h("h2", { class: "question-text", text: question.text }),
    drawAnswers(question, locked),
    h("p", { id: "answer-status", class: "answer-status", tabindex: "-1", text: answerStatus(answer, question) }),
  );
  return card;
}

function answerStatus(answer, question) {
  if (!answer || answer.state === "refused") {
    return { single_choice: "Tap an answer.", multiple_choice: "Pick every right answer, then Submit." }[question.type] || "Type your answer, then Submit.";
  }
  if (answer.state === "sending") return "Sending your answer…";
  if (answer.state === "late") return "Time was up before your answer arrived.";
  if (answer.isCorrect === null || answer.isCorrect === undefined) return "Answer received — results when time is up.";
  return answer.isCorrect
    ? `Answer received: correct! +${points(answer.pointsAwarded)}.`
    : "Answer received: not this time.";
}

function drawAnswers(question, locked) {
  const answer = model.answer;
  const chosen = answer ? answer.value : null;
  if (question.type === "single_choice") {
    return h(
      "div",
      { class: "answers choices" },
      question.choices.map((choice, i) =>
        h(
          "button",
          {
            type: "button",
            class: `answer answer-${i % 4}${chosen === choice.id ? " is-chosen" : ""}`,
            disabled: locked,
            "aria-pressed": locked ? String(chosen === choice.id) : null,
            on: { click: () => submitAnswer(choice.id) },
          },
          h("span", { class: "shape", "aria-hidden": "true", text: SHAPES[i % SHAPES.length] }),
          h("span", { class: "answer-text", text: choice.text }),
        ),
      ),
    );
  }
  if (question.type === "multiple_choice") {
    const picked = drafts.get(question.questionId) || new Set(Array.isArray(chosen) ? chosen : []);
    drafts.set(question.questionId, picked);
    const toggles = question.choices.map((choice, i) =>
      h(
        "button",
        {
          type: "button",
          class: `answer answer-${i % 4}`,
          "aria-pressed": String(picked.has(choice.id)),
          disabled: locked,
          on: {
            click: (event) => {
              if (picked.has(choice.id)) picked.delete(choice.id);
              else picked.add(choice.id);
              event.currentTarget.setAttribute("aria-pressed", String(picked.has(choice.id)));
            },
          },
        },
        h("span", { class: "shape", "aria-hidden": "true", text: SHAPES[i % SHAPES.length] }),
        h("span", { class: "answer-text", text: choice.text }),
        h("span", { class: "check", "aria-hidden": "true" }),
      ),
    );
    const submit = h(
      "button",
      {
        type: "button",
        class: "button primary wide",
        disabled: locked,
        on: {
          click: () => {
            if (!picked.size) {
              alertPlayer("Pick at least one answer first.");
              return;
            }
            submitAnswer(question.choices.map((c) => c.id).filter((id) => picked.has(id)));
          },
        },
      },
      "Submit",
    );
    return h("div", { class: "answers" }, h("div", { class: "choices", role: "group", "aria-label": "Answers: pick all that are right" }, toggles), submit);
  }
  // numeric and text: one field and Submit, in a form so Enter submits.
  const numeric = question.type === "numeric";
  const id = `answer-${question.questionId}`;
  const input = h("input", {
    id,
    name: "answer",
    class: "answer-input",
    type: "text",
    inputmode: numeric ? "decimal" : "text",
    autocomplete: "off",
    maxlength: numeric ? "40" : "200",
    disabled: locked,
    value: drafts.get(question.questionId) ?? (chosen ?? ""),
    on: { input: (event) => drafts.set(question.questionId, event.currentTarget.value) },
  });
  const form = h(
    "form",
    {
      class: "answers answer-form",
      novalidate: true,
      on: {
        submit: (event) => {
          event.preventDefault();
          const raw = input.value.trim();
          if (!raw) {
            alertPlayer(numeric ? "Type a number first." : "Type your answer first.");
            focusOn(input);
            return;
          }
          if (numeric) {
            // Either decimal mark: "3,14" is what many keyboards type.
            const value = Number(raw.replace(",", "."));
            if (!Number.isFinite(value)) {
              alertPlayer("That is not a number. Use digits, with . or , for decimals.");
              focusOn(input);
              return;
            }
            submitAnswer(value);
          } else submitAnswer(raw);
        },
      },
    },
    h("label", { for: id, text: numeric ? "Your answer (a number)" : "Your answer" }),
    h("div", { class: "answer-row" }, input, h("button", { type: "submit", class: "button primary", disabled: locked }, "Submit")),
  );
  return form;
}

function announceResult() {
  const result = closedResult(model);
  if (!result || !result.answered) announce("Time is up. You did not answer.");
  else if (result.isCorrect === true) announce(`Correct! ${points(result.pointsAwarded)}.`);
  else if (result.isCorrect === false) announce("Time is up. Not this time.");
  else announce("Time is up.");
}

function drawResult() {
  const closed = model.closed;
  const question = model.closedQuestion;
  const result = closedResult(model);
  let title = "No answer";
  let tone = "none";
  if (result.answered && result.isCorrect === true) [title, tone] = ["Correct!", "correct"];
  else if (result.answered && result.isCorrect === false) [title, tone] = ["Not this time", "wrong"];
  else if (result.answered) [title, tone] = ["Answer received", "none"];
  const card = h("div", { class: `card result result-${tone}` }, h("h2", { class: "result-title", text: title }));
  if (result.answered && typeof result.pointsAwarded === "number") {
    const total = typeof result.totalScore === "number" ? ` · total ${points(result.totalScore)}` : "";
    card.append(h("p", { class: "result-points", text: `+${points(result.pointsAwarded)}${total}` }));
  }
  if (question) card.append(h("p", { class: "result-question", text: question.text }));
  if (question && question.choices && question.choices.length) {
    const mine = new Set([].concat(result.value ?? []));
    card.append(
      h(
        "ul",
        { class: "reveal" },
        question.choices.map((choice, i) => {
          const right = isCorrectChoice(closed, choice.id);
          return h(
            "li",
            { class: right ? "is-right" : "" },
            h("span", { class: "shape", "aria-hidden": "true", text: SHAPES[i % SHAPES.length] }),
            h("span", { text: choice.text }),
            h(
              "span",
              { class: "tags" },
              right ? h("strong", { class: "tag tag-right", text: "Correct answer" }) : null,
              mine.has(choice.id) ? h("span", { class: "tag", text: "Your answer" }) : null,
            ),
          );
        }),
      ),
    );
  } else {
    card.append(h("p", {}, "Correct answer: ", h("strong", { text: answerText(question, closed.correctAnswer) })));
    if (result.answered && result.value !== null && result.value !== undefined) {
      card.append(h("p", { text: `Your answer: ${answerText(question, result.value)}` }));
    }
  }
  const stats = closed.stats || { answered: 0, correct: 0 };
  card.append(h("p", { class: "stats", text: `${stats.correct} of ${plural(stats.answered, "answer")} ${stats.correct === 1 ? "was" : "were"} right.` }));
  if (closed.nextQuestionId) {
    card.append(h("p", { class: "next" }, model.paused ? "Paused by the host." : ["Next question in ", h("span", { class: "countdown-value" }), " s."]));
  } else {
    card.append(h("p", { class: "next", text: "That was the last question. Final standings coming up…" }));
  }
  return card;
}

function drawFinal() {
  const final = model.final || { status: model.status, finalLeaderboard: [], you: model.you };
  if (final.status === "cancelled") {
    return h(
      "div",
      { class: "card final" },
      h("h2", { text: "Contest cancelled" }),
      h("p", { text: "The organizer called this contest off. There are no standings." }),
      playAgainButton(),
    );
  }
  const you = final.you;
  const total = final.totalParticipants || final.finalLeaderboard.length;
  return h(
    "div",
    { class: "card final" },
    h("h2", { text: "Final standings" }),
    you ? h("p", { class: "lead", text: `You finished ${ordinal(you.rank)} of ${total} with ${points(you.score)}.` }) : null,
    leaderboardList(final.finalLeaderboard, you, { label: "Final standings" }),
    playAgainButton(),
  );
}

function playAgainButton() {
  return h(
    "button",
    {
      type: "button",
      class: "button",
      on: {
        click: () => {
          leaveGame();
          session.contest = null;
          $("#join-code").value = "";
          showJoin();
        },
      },
    },
    "Join another contest",
  );
}

function drawBoard() {
  const section = $("#board-section");
  const show = leaderboardVisible(model) && model.phase === "intermission" && model.closed;
  section.hidden = !show;
  if (!show) return;
  $("#board-note").textContent = model.leaderboard.frozen ? "Leaderboard frozen: the final standings will tell." : "";
  $("#board").replaceChildren(leaderboardList(model.leaderboard.top, model.you, { label: "Leaderboard" }));
}

// --- Start ------------------------------------------------------------------------------

if (!session.signedIn) showAuth();
else if (session.contest) enterGame();
else showJoin();
