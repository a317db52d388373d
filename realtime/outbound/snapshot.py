"""The contest_state snapshot (docs/PROTOCOL.md): a fixed handful of queries, none per
participant or per question."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from contests.errors import ContestNotFound
from contests.models import Contest, Question, Submission
from contests.selectors import question_stats
from core.time import db_now, iso
from core.types import ContestId, ParticipantId
from realtime.outbound import payloads
from realtime.outbound.personalize import leaderboard

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


def contest_state(
    *, contest_id: ContestId, participant_id: ParticipantId | None, seq: int, epoch: str
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
        last_question_change = payloads.question_change_payload(
            contest,
            current,
            stats=question_stats(question_id=current.pk),
            next_question_id=next_question.pk if next_question else None,
            next_starts_at=contest.next_question_at if next_question else None,
        )

    your_submission = None
    you = None
    if participant_id is not None:
        participant = str(participant_id)
        if current is not None:
            submission = Submission.objects.filter(
                participant_id=participant, question_id=current.pk
            ).first()
            if submission is not None:
                your_submission = payloads.your_submission_payload(submission)
        ranks = leaderboard().ranks(contest_id=contest.pk, participant_ids=[participant])
        you = ranks.get(participant)
    board = leaderboard().top(contest_id=contest.pk, limit=settings.LEADERBOARD_TOP_N)
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
        "yourSubmission": your_submission,
        "you": {"rank": you["rank"], "score": you["score"]} if you else None,
        "leaderboard": {"top": board["top"], "totalParticipants": board["totalParticipants"]},
        "serverTime": iso(now),
        "seq": seq,
        "epoch": epoch,
    }
