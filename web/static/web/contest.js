// What the pages know about a contest, as a plain object, and how each server message
// changes it. No DOM here: play.js and host.js draw from this model.
//
// Every field added by later protocol versions is optional: `rules`, `frozen`,
// `yourResult`, and grades that are null until the question closes ("reveal on close").

export function emptyContest() {
  return {
    contestId: null,
    title: "",
    status: "upcoming",
    // waiting | question | intermission | finished (contest_state's phases)
    phase: "waiting",
    startTime: null,
    totalQuestions: 0,
    questionIndex: 0,
    estimatedDuration: 0,
    question: null, // the open question (question_broadcast data)
    deadline: null,
    paused: false,
    pausedRemaining: null, // seconds left when paused (from timer_update)
    nextQuestionAt: null,
    closed: null, // the last question_change data
    closedQuestion: null, // the question it closed, when this page saw it open
    questions: new Map(), // questionId -> question data seen, to name choices later
    answer: null, // this player's answer to the open or last question (see below)
    result: null, // yourResult of question_change, when the server sends it
    you: null,
    leaderboard: { top: [], totalParticipants: 0, frozen: false },
    rules: null,
    final: null, // contest_end data
  };
}

// answer: {questionId, value, state, isCorrect, pointsAwarded, totalScore}
//   state: "sending" | "received" (stored; grade may be null) | "refused"

function answerFromSubmission(submission) {
  if (!submission) return null;
  return {
    questionId: submission.questionId,
    value: submission.answer,
    state: "received",
    isCorrect: submission.isCorrect ?? null,
    pointsAwarded: submission.pointsAwarded ?? null,
    totalScore: null,
  };
}

function board(data, previous) {
  return {
    top: data.top || [],
    totalParticipants: data.totalParticipants ?? previous.totalParticipants,
    frozen: Boolean(data.frozen),
  };
}

export function applyState(model, data) {
  const next = emptyContest();
  next.questions = model.questions;
  Object.assign(next, {
    contestId: data.contestId,
    title: data.title,
    status: data.status,
    phase: data.phase,
    startTime: data.startTime,
    totalQuestions: data.totalQuestions,
    questionIndex: data.questionIndex,
    estimatedDuration: data.estimatedDuration,
    paused: Boolean(data.paused),
    nextQuestionAt: data.nextQuestionAt,
    you: data.you,
    rules: data.rules || model.rules,
    leaderboard: board(data.leaderboard || {}, next.leaderboard),
  });
  if (data.currentQuestion) {
    next.question = data.currentQuestion;
    next.deadline = data.currentQuestion.deadline;
    next.questions.set(data.currentQuestion.questionId, data.currentQuestion);
  }
  const answer = answerFromSubmission(data.yourSubmission);
  // A reply to an answer this page sent may be lost with its socket; the stored one wins.
  next.answer = answer || keepOwnAnswer(model, data);
  if (data.lastQuestionChange) {
    next.closed = data.lastQuestionChange;
    next.closedQuestion = next.questions.get(data.lastQuestionChange.closedQuestionId) || null;
    next.result = data.lastQuestionChange.yourResult || null;
  }
  if (data.phase === "finished") {
    next.final = {
      status: data.status,
      finalLeaderboard: data.leaderboard ? data.leaderboard.top : [],
      totalParticipants: data.leaderboard ? data.leaderboard.totalParticipants : 0,
      you: data.you,
      endedAt: data.endedAt,
    };
  }
  return next;
}

function keepOwnAnswer(model, data) {
  const open = data.currentQuestion;
  if (model.answer && open && model.answer.questionId === open.questionId) return model.answer;
  return null;
}

export function applyMessage(model, envelope) {
  const { event, data } = envelope;
  switch (event) {
    case "contest_state":
      return applyState(model, data);
    case "contest_start":
      return {
        ...model,
        status: "active",
        phase: "intermission",
        title: data.title || model.title,
        startTime: data.startTime,
        totalQuestions: data.totalQuestions,
        estimatedDuration: data.estimatedDuration,
      };
    case "question_broadcast":
      model.questions.set(data.questionId, data);
      return {
        ...model,
        status: "active",
        phase: "question",
        question: data,
        deadline: data.deadline,
        questionIndex: data.index,
        totalQuestions: data.totalQuestions,
        nextQuestionAt: null,
        pausedRemaining: null,
        closed: null,
        closedQuestion: null,
        answer: null,
        result: null,
      };
    case "timer_update":
      return applyTimer(model, data);
    case "question_change":
      return {
        ...model,
        phase: model.phase === "finished" ? "finished" : "intermission",
        closed: data,
        closedQuestion: model.questions.get(data.closedQuestionId) || model.question,
        question: null,
        deadline: null,
        nextQuestionAt: data.nextStartsAt,
        result: data.yourResult || null,
        you: data.yourResult ? mergeScore(model.you, data.yourResult.totalScore) : model.you,
      };
    case "submission_result":
      return applySubmission(model, data);
    case "leaderboard_update":
      return { ...model, leaderboard: board(data, model.leaderboard), you: data.you ?? model.you };
    case "contest_end":
      return {
        ...model,
        status: data.status,
        phase: "finished",
        question: null,
        deadline: null,
        nextQuestionAt: null,
        final: data,
        you: data.you ?? null,
      };
    default:
      return model;
  }
}

function mergeScore(you, totalScore) {
  if (typeof totalScore !== "number") return you;
  return { rank: you ? you.rank : null, score: totalScore };
}

function applyTimer(model, data) {
  const next = { ...model, paused: Boolean(data.paused) };
  if (model.phase === "question" && model.question && data.questionId === model.question.questionId) {
    next.deadline = data.deadline;
    next.pausedRemaining = data.paused ? data.remainingSeconds : null;
  }
  if (model.phase === "intermission") next.nextQuestionAt = data.nextQuestionAt ?? model.nextQuestionAt;
  return next;
}

export function applySubmission(model, data) {
  if (!model.answer || model.answer.questionId !== data.questionId) {
    // Acknowledges an answer this page did not draw (another tab of the same player).
    return {
      ...model,
      answer: { questionId: data.questionId, value: null, state: "received", ...grade(data) },
    };
  }
  return { ...model, answer: { ...model.answer, state: "received", ...grade(data) } };
}

function grade(data) {
  return {
    isCorrect: data.isCorrect ?? null,
    pointsAwarded: data.pointsAwarded ?? null,
    totalScore: data.totalScore ?? null,
  };
}

// The player's result for the question that closed: question_change's yourResult is the
// authority when present, else the submission_result seen earlier.
export function closedResult(model) {
  if (!model.closed) return null;
  const id = model.closed.closedQuestionId;
  if (model.result) {
    return { ...model.result, questionId: id, value: model.answer?.value ?? null };
  }
  if (model.answer && model.answer.questionId === id && model.answer.state === "received") {
    return { answered: true, ...model.answer };
  }
  return { answered: false, questionId: id, isCorrect: null, pointsAwarded: 0 };
}

export function leaderboardVisible(model) {
  return !model.rules || model.rules.leaderboardVisible !== false;
}

// The text of an answer in a question's terms (choice ids become their texts).
export function answerText(question, value) {
  if (value === null || value === undefined) return "";
  if (question && question.choices && question.choices.length) {
    const texts = new Map(question.choices.map((c) => [c.id, c.text]));
    const ids = Array.isArray(value) ? value : [value];
    return ids.map((id) => texts.get(id) ?? "?").join(", ");
  }
  return Array.isArray(value) ? value.join(", ") : String(value);
}

export function isCorrectChoice(closed, choiceId) {
  if (!closed) return false;
  const correct = closed.correctAnswer;
  return Array.isArray(correct) ? correct.includes(choiceId) : correct === choiceId;
}
