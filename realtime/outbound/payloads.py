"""The `data` of every server event (docs/PROTOCOL.md, "Server events"), in camelCase:
room events and direct replies alike, one builder per event.

Pure functions of what the caller already loaded: no queries here, so a broadcast costs
the same for one recipient or ten thousand. Nothing built before a question closes
carries its correct answer or any is_correct flag, and in a contest that reveals answers
on close, nothing carries a grade or score of the open question. The per-recipient
fields (`you`, `yourResult`) are built as null, last, here and filled per socket by
realtime.outbound.personalize.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from contests.grading import correct_answer_of
from contests.models import Contest, Question, Submission
from contests.selectors import QuestionResult, QuestionStats
from core.time import iso
from core.types import ContestId, QuestionId


def contest_start_payload(contest: Contest, questions: list[Question]) -> dict[str, Any]:
    return {
        "contestId": str(contest.id),
        "title": contest.title,
        "startTime": iso(contest.started_at or contest.start_time),
        "totalQuestions": len(questions),
        "estimatedDuration": contest.estimated_duration_seconds(questions),
    }


def question_broadcast_payload(
    contest: Contest,
    question: Question,
    *,
    index: int,
    total_questions: int,
    now: datetime,
) -> dict[str, Any]:
    """The question as players see it while it is open: choices without is_correct."""
    return {
        "contestId": str(contest.id),
        "questionId": str(question.id),
        "index": index,
        "totalQuestions": total_questions,
        "type": question.type,
        "text": question.text,
        "choices": [{"id": str(c.id), "text": c.text} for c in question.ordered_choices()],
        "points": question.points,
        "timeLimitSeconds": question.time_limit_seconds,
        "startedAt": iso(contest.question_started_at),
        "deadline": iso(contest.question_deadline),
        "serverTime": iso(now),
    }


def remaining_seconds(contest: Contest, now: datetime) -> int:
    """Whole seconds left on the open question, rounded up; frozen while paused."""
    if contest.question_deadline is None:
        return 0
    reference = contest.paused_at or now
    left = (contest.question_deadline - reference).total_seconds()
    return max(0, math.ceil(left))


def timer_update_payload(
    contest: Contest, *, question_id: QuestionId, now: datetime
) -> dict[str, Any]:
    # During an intermission a resume moves the next question's start: say when it is.
    return {
        "contestId": str(contest.id),
        "questionId": str(question_id),
        "remainingSeconds": remaining_seconds(contest, now),
        "deadline": iso(contest.question_deadline),
        "paused": contest.is_paused,
        "nextQuestionAt": None if contest.question_open else iso(contest.next_question_at),
        "serverTime": iso(now),
    }


def question_change_payload(
    contest: Contest,
    question: Question,
    *,
    stats: QuestionStats,
    next_question_id: QuestionId | None,
    next_starts_at: datetime | None,
) -> dict[str, Any]:
    """A question closed: now, and not before, its correct answer is public."""
    return {
        "contestId": str(contest.id),
        "closedQuestionId": str(question.id),
        "correctAnswer": correct_answer_of(question, question.ordered_choices()),
        "stats": {"answered": stats.answered, "correct": stats.correct},
        "nextQuestionId": str(next_question_id) if next_question_id is not None else None,
        "nextStartsAt": iso(next_starts_at),
        # Last and null: filled per recipient (realtime.outbound.personalize).
        "yourResult": None,
    }


def your_result_payload(result: QuestionResult) -> dict[str, Any]:
    """question_change's `yourResult` for one participant."""
    return {
        "answered": result.answered,
        "isCorrect": result.is_correct,
        "pointsAwarded": result.points_awarded,
        "totalScore": result.total_score,
        "streak": result.streak,
    }


def rules_payload(contest: Contest) -> dict[str, Any]:
    """contest_state's `rules`: what players learn, and when."""
    return {
        "answerReveal": contest.answer_reveal,
        "leaderboardVisible": contest.leaderboard_visible,
        "leaderboardFreezeLast": contest.leaderboard_freeze_last,
        "closeWhenAllAnswered": contest.close_when_all_answered,
        "streakBonus": contest.streak_bonus,
    }


def leaderboard_update_payload(
    contest_id: ContestId, *, top: list[dict[str, Any]], total_participants: int, frozen: bool
) -> dict[str, Any]:
    # "you" stays last and null: filled per recipient (realtime.outbound.personalize).
    return {
        "contestId": str(contest_id),
        "top": top,
        "totalParticipants": total_participants,
        "frozen": frozen,
        "you": None,
    }


def contest_end_payload(
    contest: Contest, *, final_leaderboard: list[dict[str, Any]], total_participants: int
) -> dict[str, Any]:
    return {
        "contestId": str(contest.id),
        "status": contest.status,
        "endedAt": iso(contest.ended_at),
        "finalLeaderboard": final_leaderboard,
        "totalParticipants": total_participants,
        "you": None,
    }


# --- Direct replies ------------------------------------------------------------------------


def submission_result_payload(
    contest_id: ContestId, submission: Submission, *, total_score: int | None
) -> dict[str, Any]:
    """The acknowledgement of an answer; `total_score` None: the contest reveals grades
    when the question closes, so the grade and the score are null now."""
    revealed = total_score is not None
    return {
        "contestId": str(contest_id),
        "questionId": str(submission.question_id),
        "submissionId": str(submission.id),
        "accepted": True,
        "isCorrect": submission.is_correct if revealed else None,
        "pointsAwarded": submission.points_awarded if revealed else None,
        "totalScore": total_score,
        "responseTimeMs": submission.response_time_ms,
    }


def your_submission_payload(submission: Submission, *, graded: bool) -> dict[str, Any]:
    """contest_state's `yourSubmission`: your answer to the current question; without
    its grade (`graded` false) while it is open in a contest that reveals on close."""
    return {
        "questionId": str(submission.question_id),
        "submissionId": str(submission.id),
        "answer": submission.answer,
        "accepted": True,
        "isCorrect": submission.is_correct if graded else None,
        "pointsAwarded": submission.points_awarded if graded else None,
    }


def resync_complete_payload(
    contest_id: str, *, replayed: int, seq: int, epoch: str
) -> dict[str, Any]:
    return {"contestId": contest_id, "replayed": replayed, "seq": seq, "epoch": epoch}


def resync_required_payload(contest_id: str, *, reason: str) -> dict[str, Any]:
    return {"contestId": contest_id, "reason": reason}


def pong_payload(now: datetime) -> dict[str, Any]:
    return {"serverTime": iso(now)}


def error_payload(
    *, code: str, message: str, event: str | None, field: str | None, retry_after_ms: int | None
) -> dict[str, Any]:
    data: dict[str, Any] = {"code": code, "message": message, "event": event, "field": field}
    if retry_after_ms is not None:
        data["retryAfterMs"] = retry_after_ms
    return data
