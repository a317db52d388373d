"""The contest_state snapshot (docs/PROTOCOL.md): a fixed handful of queries, none per
participant or per question."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, Q

from contests.clock import db_now, iso
from contests.errors import ContestNotFound
from contests.grading import correct_answer_of
from contests.models import Contest, Question, Submission
from leaderboard.selectors import leaderboard_ranks, leaderboard_top
from realtime import payloads

PHASE_WAITING = "waiting"
PHASE_QUESTION = "question"
PHASE_INTERMISSION = "intermission"
PHASE_FINISHED = "finished"


def _phase(contest: Contest) -> str:
    if contest.status == Contest.Status.UPCOMING:
        return PHASE_WAITING
    if contest.status == Contest.Status.ACTIVE:
        return PHASE_QUESTION if contest.question_open else PHASE_INTERMISSION
    return PHASE_FINISHED


def _question_change(
    contest: Contest, question: Question, next_question: Question | None
) -> dict[str, Any]:
    stats = Submission.objects.filter(question=question).aggregate(
        answered=Count("id"), correct=Count("id", filter=Q(is_correct=True))
    )
    return payloads.question_change_payload(
        contest,
        closed_question_id=question.id,
        correct_answer=correct_answer_of(question, question.ordered_choices()),
        answered=stats["answered"],
        correct=stats["correct"],
        next_question_id=next_question.id if next_question else None,
        next_starts_at=contest.next_question_at if next_question else None,
    )


def _your_submission(participant_id: str, question: Question) -> dict[str, Any] | None:
    submission = Submission.objects.filter(
        participant_id=participant_id, question_id=question.id
    ).first()
    if submission is None:
        return None
    return {
        "questionId": str(question.id),
        "submissionId": str(submission.id),
        "answer": submission.answer,
        "accepted": True,
        "isCorrect": submission.is_correct,
        "pointsAwarded": submission.points_awarded,
    }


def contest_state(
    *, contest_id: object, participant_id: object | None, seq: int, epoch: str
) -> dict[str, Any]:
    """Everything a participant needs to (re)draw the contest; a viewer (no
    participant_id) gets no `you` and no `yourSubmission`.

    `seq`/`epoch` must be read before this is called: the snapshot then includes every
    room event up to `seq`, and the client applies only later ones.
    """
    contest = Contest.objects.filter(pk=contest_id).first()
    if contest is None:
        raise ContestNotFound()
    now = db_now()
    questions = list(
        Question.objects.filter(contest_id=contest.pk)
        .order_by("order", "id")
        .only("id", "order", "time_limit_seconds")
    )
    index = contest.current_question_index
    current: Question | None = None
    if 1 <= index <= len(questions):
        current = (
            Question.objects.select_related("contest")
            .prefetch_related("choices")
            .get(pk=questions[index - 1].pk)
        )
    phase = _phase(contest)

    current_question = None
    last_question_change = None
    if current is not None and phase == PHASE_QUESTION:
        current_question = payloads.question_broadcast_payload(
            contest, current, index=index, total_questions=len(questions), now=now
        )
    elif current is not None and phase == PHASE_INTERMISSION and contest.question_is_closed(index):
        next_question = questions[index] if index < len(questions) else None
        last_question_change = _question_change(contest, current, next_question)

    participant = str(participant_id) if participant_id is not None else None
    board = leaderboard_top(contest_id=contest.pk, limit=settings.LEADERBOARD_TOP_N)
    you = None
    if participant is not None:
        ranks = leaderboard_ranks(contest_id=contest.pk, participant_ids=[participant])
        you = ranks.get(participant)
    return {
        "contestId": str(contest.pk),
        "title": contest.title,
        "status": contest.status,
        "phase": phase,
        "startTime": iso(contest.started_at or contest.start_time),
        "endedAt": iso(contest.ended_at),
        "totalQuestions": len(questions),
        "estimatedDuration": contest.estimated_duration_seconds(questions),
        "questionIndex": index,
        "currentQuestion": current_question,
        "nextQuestionAt": iso(contest.next_question_at) if phase == PHASE_INTERMISSION else None,
        "paused": contest.is_paused,
        "lastQuestionChange": last_question_change,
        "yourSubmission": (
            _your_submission(participant, current) if current and participant else None
        ),
        "you": {"rank": you["rank"], "score": you["score"]} if you else None,
        "leaderboard": {"top": board["top"], "totalParticipants": board["totalParticipants"]},
        "serverTime": iso(now),
        "seq": seq,
        "epoch": epoch,
    }
