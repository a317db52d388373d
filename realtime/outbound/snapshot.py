"""The contest_state snapshot (docs/PROTOCOL.md): a fixed handful of queries, none per
participant or per question. A started contest's questions come from the per-process
cache of played questions (they no longer change), and the contest row is read once: a
join storm builds thousands of these at once (docs/PERFORMANCE.md, "Joins")."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from contests.errors import ContestNotFound, ParticipantRemoved
from contests.models import Contest, Participant, Question, Submission
from contests.selectors import (
    contest_board_rules,
    question_results,
    question_stats,
    started_contest_questions,
)
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


def _questions(contest: Contest) -> list[Question]:
    """The contest's questions in play order. An upcoming contest's may still be edited,
    so they are read; a started one's never change again (contests.selectors)."""
    if contest.status == Contest.Status.UPCOMING:
        # None is shown yet (questionIndex 0): what the state needs of them is their count
        # and time limits.
        return list(
            Question.objects.filter(contest_id=contest.pk)
            .order_by("order", "id")
            .only("id", "order", "time_limit_seconds")
        )
    return [p.question for p in started_contest_questions(contest_id=contest.pk).values()]


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
    # None for a viewer (staff on the host screen).
    participant = str(participant_id) if participant_id is not None else None
    # Read after the socket joined the room: a removal that committed before its join
    # was checked here is caught now (the removal's command may have found no socket).
    if (
        participant is not None
        and Participant.objects.filter(pk=participant, removed_at__isnull=False).exists()
    ):
        raise ParticipantRemoved()
    now = db_now()
    questions = _questions(contest)
    index = contest.current_question_index
    # With its choices (the cache prefetched them).
    current = questions[index - 1] if 1 <= index <= len(questions) else None
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
        result = None
        if participant is not None:
            result = question_results(
                contest_id=contest.pk, question_id=current.pk, participant_ids=[participant]
            ).get(participant)
        last_question_change["yourResult"] = (
            payloads.your_result_payload(result) if result is not None else None
        )

    your_submission = None
    if current is not None and participant is not None:
        submission = Submission.objects.filter(
            participant_id=participant, question_id=current.pk
        ).first()
        if submission is not None:
            # While its question is open, a contest that reveals on close keeps the grade.
            graded = not (contest.reveals_on_close and phase == PHASE_QUESTION)
            your_submission = payloads.your_submission_payload(submission, graded=graded)
    rules = contest_board_rules(contest)
    board = you = None
    # A hidden board shows players nothing until the final standings.
    if rules.visible or contest.status not in (Contest.Status.UPCOMING, Contest.Status.ACTIVE):
        top = leaderboard().top(
            contest_id=contest.pk, limit=settings.LEADERBOARD_TOP_N, status=contest.status
        )
        board = {
            "top": top["top"],
            "totalParticipants": top["totalParticipants"],
            "frozen": rules.frozen,
        }
        if participant is not None:
            ranks = leaderboard().ranks(
                contest_id=contest.pk, participant_ids=[participant], status=contest.status
            )
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
        "yourSubmission": your_submission,
        "rules": payloads.rules_payload(contest),
        "you": {"rank": you["rank"], "score": you["score"]} if you else None,
        "leaderboard": board,
        "serverTime": iso(now),
        "seq": seq,
        "epoch": epoch,
    }
