"""Writes of the contest domain. Every entry point (REST API, WebSocket consumer, admin,
management commands, Celery tasks) goes through these functions.

Broadcasts and leaderboard updates are queued with transaction.on_commit, so clients
never hear of a change that did not commit.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from contests import grading
from contests.clock import db_now
from contests.errors import (
    ContestClosed,
    ContestFull,
    ContestNotActive,
    ContestNotFound,
    DuplicateSubmission,
    NotRegistered,
    QuestionClosed,
    QuestionNotFound,
)
from contests.models import (
    MAX_QUESTIONS_PER_CONTEST,
    Choice,
    Contest,
    Participant,
    Question,
    Submission,
)

# --- Authoring -------------------------------------------------------------------------

CONTEST_FIELDS = (
    "title",
    "description",
    "start_time",
    "scoring_mode",
    "intermission_seconds",
    "requires_registration",
    "max_participants",
)
QUESTION_FIELDS = (
    "order",
    "type",
    "text",
    "points",
    "time_limit_seconds",
    "numeric_answer",
    "numeric_tolerance",
    "accepted_answers",
)


def _errors_at(prefix: str, error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            f"{prefix}.{field}" if field != "__all__" else prefix: [str(m) for m in msgs]
            for field, msgs in error.message_dict.items()
        }
    return {prefix: [str(m) for m in error.messages]}


@transaction.atomic
def contest_create(*, data: dict[str, Any], created_by: User | None) -> Contest:
    """A contest with its questions and choices, validated as a whole.

    `data` uses the models' field names (docs/CONTEST_FORMAT.md). Raises a
    ValidationError whose message_dict is keyed by path ("questions.2.choices").
    """
    errors: dict[str, list[str]] = {}
    contest = Contest(created_by=created_by, **{f: data[f] for f in CONTEST_FIELDS if f in data})
    try:
        contest.full_clean(exclude=["created_by"])
    except ValidationError as exc:
        errors.update(_errors_at("contest", exc))
        errors = {k.removeprefix("contest."): v for k, v in errors.items()}
    if contest.start_time is not None and contest.start_time < timezone.now():
        errors.setdefault("start_time", []).append("The start time is in the past.")

    questions_data = list(data.get("questions") or [])
    if len(questions_data) > MAX_QUESTIONS_PER_CONTEST:
        errors["questions"] = [f"A contest has at most {MAX_QUESTIONS_PER_CONTEST} questions."]
        questions_data = []

    built: list[tuple[Question, list[Choice]]] = []
    seen_orders: dict[int, int] = {}
    for i, item in enumerate(questions_data):
        prefix = f"questions.{i}"
        fields = {f: item[f] for f in QUESTION_FIELDS if f in item}
        fields.setdefault("order", i + 1)
        question = Question(contest=contest, **fields)
        try:
            question.full_clean(exclude=["contest"], validate_unique=False)
        except ValidationError as exc:
            errors.update(_errors_at(prefix, exc))
        if question.order in seen_orders:
            errors.setdefault(f"{prefix}.order", []).append(
                f"Question {seen_orders[question.order]} has the same order."
            )
        seen_orders.setdefault(question.order, i)
        choices = [
            Choice(
                question=question,
                text=c.get("text", ""),
                is_correct=bool(c.get("is_correct", False)),
                order=c.get("order", j + 1),
            )
            for j, c in enumerate(item.get("choices") or [])
        ]
        for j, choice in enumerate(choices):
            try:
                choice.full_clean(exclude=["question"])
            except ValidationError as exc:
                errors.update(_errors_at(f"{prefix}.choices.{j}", exc))
        try:
            Question.validate_choices(question.type, [(c.text, c.is_correct) for c in choices])
        except ValidationError as exc:
            errors.setdefault(f"{prefix}.choices", []).extend(exc.messages)
        built.append((question, choices))

    if errors:
        raise ValidationError(errors)
    contest.save()
    for question, choices in built:
        question.save()
        Choice.objects.bulk_create(choices)
    return contest


# --- Participants ----------------------------------------------------------------------


def _lock_contest_registrations(contest_id: object) -> None:
    """Serialise registrations of one contest (the max_participants check) without
    touching the contest row, which submissions and the clock lock."""
    if connection.vendor == "postgresql":
        key = zlib.crc32(f"register:{contest_id}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def participant_register(
    *, contest_id: object, user: User, display_name: str | None = None
) -> tuple[Participant, bool]:
    """Register a user for a contest; returns (participant, created).

    Registering twice returns the existing participant. A contest that is over, or
    full, takes nobody new; an active contest takes late joiners.
    """
    existing = Participant.objects.filter(contest_id=contest_id, user=user).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            contest = Contest.objects.filter(pk=contest_id).first()
            if contest is None:
                raise ContestNotFound()
            if contest.status in (Contest.Status.COMPLETED, Contest.Status.CANCELLED):
                raise ContestClosed()
            _lock_contest_registrations(contest.pk)
            if contest.max_participants is not None:
                count = Participant.objects.filter(contest=contest).count()
                if count >= contest.max_participants:
                    raise ContestFull()
            participant = Participant.objects.create(
                contest=contest,
                user=user,
                display_name=(display_name or user.get_display_name())[:50],
                registered_at=db_now(),
            )
            transaction.on_commit(
                lambda: _leaderboard_record(contest_id=contest.pk, participant_id=participant.pk)
            )
    except IntegrityError:
        # The same user registered from another request at the same instant.
        return Participant.objects.get(contest_id=contest_id, user=user), False
    return participant, True


def _leaderboard_record(*, contest_id: object, participant_id: object) -> None:
    from leaderboard.services import leaderboard_record

    leaderboard_record(contest_id=contest_id, participant_id=participant_id)


# --- Submissions -----------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionOutcome:
    submission: Submission
    total_score: int


@dataclass(frozen=True)
class _LiveState:
    status: str
    current_question_index: int
    question_open: bool
    question_started_at: datetime | None
    question_deadline: datetime | None
    paused_at: datetime | None
    now: datetime


def _live_state_for_submission(contest_id: object) -> _LiveState | None:
    """The contest's live state and the database's clock in one read.

    On PostgreSQL the row is read FOR SHARE: submissions do not block each other, but
    closing the question (an UPDATE of this row) waits for those in flight, so the
    question's stats count exactly the answers that were accepted.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT status, current_question_index, question_open, question_started_at,"
                " question_deadline, paused_at, clock_timestamp()"
                " FROM contests_contest WHERE id = %s FOR SHARE",
                [str(contest_id)],
            )
            row = cursor.fetchone()
        return _LiveState(*row) if row else None
    contest = Contest.objects.filter(pk=contest_id).first()
    if contest is None:
        return None
    return _LiveState(
        contest.status,
        contest.current_question_index,
        contest.question_open,
        contest.question_started_at,
        contest.question_deadline,
        contest.paused_at,
        db_now(),
    )


def submission_create(
    *, contest_id: object, question_id: object, user: User, answer: Any
) -> SubmissionOutcome:
    """Grade, score and store one answer; committed before this returns.

    Lateness and response time come from the stored question start and deadline and the
    database's clock, never from the client. While a contest is paused its clock stands
    still: an answer sent during the pause is timed at the moment of the pause.
    """
    with transaction.atomic():
        state = _live_state_for_submission(contest_id)
        if state is None:
            raise ContestNotFound()
        if state.status != Contest.Status.ACTIVE:
            raise ContestNotActive()
        participant = Participant.objects.filter(contest_id=contest_id, user=user).first()
        if participant is None:
            raise NotRegistered()
        question = (
            Question.objects.filter(pk=question_id, contest_id=contest_id)
            .select_related("contest")
            .prefetch_related("choices")
            .first()
        )
        if question is None:
            raise QuestionNotFound()
        position = (
            Question.objects.filter(contest_id=contest_id).filter(order__lt=question.order).count()
            + 1
        )
        if not state.question_open or position != state.current_question_index:
            raise QuestionClosed()
        grace = timedelta(milliseconds=settings.SUBMISSION_GRACE_MS)
        if state.paused_at is None and state.now > state.question_deadline + grace:
            raise QuestionClosed("The deadline of this question has passed.")

        choices = list(question.choices.all())
        normalized = grading.answer_normalize(question, choices, answer)
        is_correct = grading.answer_is_correct(question, choices, normalized)
        clock = state.paused_at or state.now
        response_ms = max(0, int((clock - state.question_started_at).total_seconds() * 1000))
        points = grading.points_for(
            question=question,
            scoring_mode=question.contest.scoring_mode,
            is_correct=is_correct,
            response_time_ms=response_ms,
        )
        try:
            with transaction.atomic():
                submission = Submission.objects.create(
                    participant=participant,
                    question=question,
                    answer=normalized,
                    is_correct=is_correct,
                    points_awarded=points,
                    response_time_ms=response_ms,
                    received_at=state.now,
                )
        except IntegrityError:
            raise DuplicateSubmission() from None
        total = Submission.objects.filter(participant=participant).aggregate(
            total=Sum("points_awarded")
        )["total"]
        transaction.on_commit(
            lambda: _leaderboard_record(contest_id=contest_id, participant_id=participant.pk)
        )
    return SubmissionOutcome(submission=submission, total_score=total or 0)
