"""Builders of the server events' `data` payloads (docs/PROTOCOL.md), in camelCase.

Pure functions of model instances already loaded by the caller: no queries here, so a
broadcast costs the same for one recipient or ten thousand. Nothing built before a
question closes carries its correct answer or any is_correct flag.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from contests.clock import iso
from contests.models import Contest, Question


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


def timer_update_payload(contest: Contest, *, question_id: object, now: datetime) -> dict[str, Any]:
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
    *,
    closed_question_id: object,
    correct_answer: Any,
    answered: int,
    correct: int,
    next_question_id: object | None,
    next_starts_at: datetime | None,
) -> dict[str, Any]:
    return {
        "contestId": str(contest.id),
        "closedQuestionId": str(closed_question_id),
        "correctAnswer": correct_answer,
        "stats": {"answered": answered, "correct": correct},
        "nextQuestionId": str(next_question_id) if next_question_id is not None else None,
        "nextStartsAt": iso(next_starts_at),
    }


def leaderboard_update_payload(
    contest_id: object, *, top: list[dict[str, Any]], total_participants: int
) -> dict[str, Any]:
    # "you" stays last and null: the hub fills it per recipient (broadcast.YOU_PLACEHOLDER).
    return {
        "contestId": str(contest_id),
        "top": top,
        "totalParticipants": total_participants,
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
