"""Writes of the contest domain. Every entry point (REST API, WebSocket consumer, admin,
management commands, Celery tasks) goes through these functions.

Broadcasts and leaderboard updates are queued with transaction.on_commit, so clients
never hear of a change that did not commit.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Window
from django.db.models.functions import RowNumber

from accounts.models import User
from contests import grading
from contests.clock import db_now
from contests.errors import (
    ContestClosed,
    ContestFull,
    ContestHasNoQuestions,
    ContestLocked,
    ContestNotActive,
    ContestNotFound,
    ContestNotReady,
    DuplicateSubmission,
    InvalidTransition,
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
from contests.selectors import contest_problems, started_contest_questions
from realtime import broadcast, payloads

logger = logging.getLogger(__name__)

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


def _contest_check(
    contest: Contest, errors: dict[str, list[str]], *, check_start_time: bool
) -> None:
    try:
        contest.full_clean(exclude=["created_by"])
    except ValidationError as exc:
        errors.update(
            {k.removeprefix("contest."): v for k, v in _errors_at("contest", exc).items()}
        )
    # An unparsable start_time is already in errors and still a string here.
    start_time = contest.start_time
    if check_start_time and isinstance(start_time, datetime) and start_time < db_now():
        errors.setdefault("start_time", []).append("The start time is in the past.")


def _questions_build(
    contest: Contest, questions_data: list[dict[str, Any]], errors: dict[str, list[str]]
) -> list[tuple[Question, list[Choice]]]:
    """Unsaved questions and choices of `contest`, validated; problems go into errors."""
    if len(questions_data) > MAX_QUESTIONS_PER_CONTEST:
        errors["questions"] = [f"A contest has at most {MAX_QUESTIONS_PER_CONTEST} questions."]
        return []

    built: list[tuple[Question, list[Choice]]] = []
    seen_orders: dict[int, int] = {}
    for i, item in enumerate(questions_data):
        prefix = f"questions.{i}"
        fields = {f: item[f] for f in QUESTION_FIELDS if f in item}
        fields.setdefault("order", i + 1)
        for name in ("numeric_answer", "numeric_tolerance"):
            if isinstance(fields.get(name), float):
                # A JSON number means its shortest decimal form, not the float's expansion.
                fields[name] = Decimal(str(fields[name]))
        question = Question(contest=contest, **fields)
        try:
            question.full_clean(exclude=["contest"], validate_unique=False)
        except ValidationError as exc:
            errors.update(_errors_at(prefix, exc))
        if question.order in seen_orders:
            errors.setdefault(f"{prefix}.order", []).append(
                f"questions.{seen_orders[question.order]} has the same order."
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
    return built


def _questions_save(built: list[tuple[Question, list[Choice]]]) -> None:
    for question, choices in built:
        question.save()
        Choice.objects.bulk_create(choices)


@transaction.atomic
def contest_create(*, data: dict[str, Any], created_by: User | None) -> Contest:
    """A contest with its questions and choices, validated as a whole.

    `data` uses the models' field names (docs/CONTEST_FORMAT.md). Raises a
    ValidationError whose message_dict is keyed by path ("questions.2.choices").
    """
    errors: dict[str, list[str]] = {}
    contest = Contest(created_by=created_by, **{f: data[f] for f in CONTEST_FIELDS if f in data})
    _contest_check(contest, errors, check_start_time=True)
    built = _questions_build(contest, list(data.get("questions") or []), errors)
    if errors:
        raise ValidationError(errors)
    contest.save()
    _questions_save(built)
    return contest


@transaction.atomic
def contest_update(*, contest_id: object, data: dict[str, Any]) -> Contest:
    """Change an upcoming contest, validated like contest_create.

    The fields present in `data` replace the contest's; `questions`, when present,
    replaces all of its questions and choices. Raises ContestLocked once the contest has
    left 'upcoming' (the row lock makes this exclusive with contest_start).
    """
    contest = Contest.objects.select_for_update().filter(pk=contest_id).first()
    if contest is None:
        raise ContestNotFound()
    if not contest.is_editable:
        raise ContestLocked()
    for field in CONTEST_FIELDS:
        if field in data:
            setattr(contest, field, data[field])
    errors: dict[str, list[str]] = {}
    _contest_check(contest, errors, check_start_time="start_time" in data)
    if isinstance(contest.max_participants, int) and "max_participants" not in errors:
        registered = contest.participants.count()
        if registered > contest.max_participants:
            errors["max_participants"] = [f"{registered} participants are already registered."]
    built = None
    if "questions" in data:
        built = _questions_build(contest, list(data["questions"] or []), errors)
    if errors:
        raise ValidationError(errors)
    # Only the fields given: an update never writes the live state (the clock's columns).
    contest.save(update_fields=[f for f in CONTEST_FIELDS if f in data])
    if built is not None:
        contest.questions.all().delete()
        _questions_save(built)
    return contest


def _contest_lock_for_authoring(contest_id: object) -> Contest:
    """Lock an upcoming contest's row as the clock does, until the caller's transaction
    ends: the contest cannot start before the questions written meanwhile commit (once
    started, its questions are cached by every process)."""
    contest = Contest.objects.select_for_update(no_key=True).filter(pk=contest_id).first()
    if contest is None:
        raise ContestNotFound()
    if not contest.is_editable:
        raise ContestLocked()
    return contest


@transaction.atomic
def question_save(*, question: Question) -> Question:
    """Save one question, validated by the caller (the admin's form), of an upcoming
    contest. Raises ContestLocked once the contest has started, or a ValidationError on
    `order` if another of its questions has that order.

    The contest row stays locked until the caller's transaction ends, so the caller can
    write the question's choices after it under the same lock (the admin does).
    """
    contest = _contest_lock_for_authoring(question.contest_id)
    # Every writer of questions locks the contest row first, so this check holds.
    if contest.questions.filter(order=question.order).exclude(pk=question.pk).exists():
        raise ValidationError({"order": ["Another question of this contest has this order."]})
    question.save()
    return question


@transaction.atomic
def question_delete(*, question: Question) -> None:
    """Delete a question of an upcoming contest; raises ContestLocked once it has started."""
    _contest_lock_for_authoring(question.contest_id)
    question.delete()


# --- Participants ----------------------------------------------------------------------


def _contest_for_registration(contest_id: object) -> tuple[uuid.UUID, str, int | None] | None:
    """The contest's id, status and max_participants. On PostgreSQL the row is read FOR SHARE
    until the registration commits: completing the contest locks the row for update, so
    a registration either commits first (and gets its final standing) or sees the
    contest over."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, status, max_participants FROM contests_contest WHERE id = %s FOR SHARE",
                [str(contest_id)],
            )
            return cursor.fetchone()
    return (
        Contest.objects.filter(pk=contest_id)
        .values_list("id", "status", "max_participants")
        .first()
    )


def _lock_contest_registrations(contest_id: object) -> None:
    """Serialise registrations of one contest (the max_participants check): the contest
    row's FOR SHARE lock does not exclude other registrations."""
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
            contest = _contest_for_registration(contest_id)
            if contest is None:
                raise ContestNotFound()
            pk, status, max_participants = contest
            if status in (Contest.Status.COMPLETED, Contest.Status.CANCELLED):
                raise ContestClosed()
            if max_participants is not None:
                _lock_contest_registrations(pk)
                count = Participant.objects.filter(contest_id=pk).count()
                if count >= max_participants:
                    raise ContestFull()
            participant = Participant.objects.create(
                contest_id=pk,
                user=user,
                display_name=(display_name or user.get_display_name())[:50],
            )
            transaction.on_commit(
                lambda: _leaderboard_record(contest_id=pk, participant_id=participant.pk),
                robust=True,
            )
    except IntegrityError:
        # The same user registered from another request at the same instant.
        return Participant.objects.get(contest_id=contest_id, user=user), False
    return participant, True


def _leaderboard_record(*, contest_id: object, participant_id: object) -> None:
    from leaderboard.services import leaderboard_record

    leaderboard_record(contest_id=contest_id, participant_id=participant_id)


def _leaderboard_discard(*, contest_id: object) -> None:
    from leaderboard.services import leaderboard_discard

    leaderboard_discard(contest_id=contest_id)


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
    scoring_mode: str
    now: datetime
    participant_id: object | None


def _live_state_for_submission(contest_id: object, user: User) -> _LiveState | None:
    """The contest's live state, the database's clock and the user's participant id, in
    one round trip: this is the hot path of a contest.

    On PostgreSQL the contest row is read FOR SHARE: submissions do not block each other,
    but closing the question (which locks the row for update) waits for those in flight,
    so the question's stats count exactly the answers that were accepted.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.status, c.current_question_index, c.question_open,"
                " c.question_started_at, c.question_deadline, c.paused_at, c.scoring_mode,"
                " clock_timestamp(), p.id"
                " FROM contests_contest c LEFT JOIN contests_participant p"
                " ON p.contest_id = c.id AND p.user_id = %s"
                " WHERE c.id = %s FOR SHARE OF c",
                [str(user.pk), str(contest_id)],
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
        contest.scoring_mode,
        db_now(),
        Participant.objects.filter(contest=contest, user=user).values_list("pk", flat=True).first(),
    )


def submission_create(
    *, contest_id: object, question_id: object, user: User, answer: Any
) -> SubmissionOutcome:
    """Grade, score and store one answer; committed before this returns.

    Lateness and response time come from the stored question start and deadline and the
    database's clock, never from the client. While a contest is paused its clock stands
    still: an answer sent during the pause is timed at the moment of the pause.
    Four statements: the live state, the insert, the participant's new totals (for the
    reply and the leaderboard) and the commit.
    """
    from leaderboard.selectors import totals_from_database
    from leaderboard.services import leaderboard_record

    try:
        with transaction.atomic():
            state = _live_state_for_submission(contest_id, user)
            if state is None:
                raise ContestNotFound()
            if state.status != Contest.Status.ACTIVE:
                raise ContestNotActive()
            if state.participant_id is None:
                raise NotRegistered()
            # The contest is active, so its questions are frozen and may come from cache.
            played = started_contest_questions(contest_id=contest_id).get(str(question_id))
            if played is None:
                raise QuestionNotFound()
            if not state.question_open or played.position != state.current_question_index:
                raise QuestionClosed()
            grace = timedelta(milliseconds=settings.SUBMISSION_GRACE_MS)
            # A pause stops the clock, but not one that came after the deadline passed.
            if (state.paused_at or state.now) > state.question_deadline + grace:
                raise QuestionClosed("The deadline of this question has passed.")

            question, choices = played.question, played.choices
            normalized = grading.answer_normalize(question, choices, answer)
            is_correct = grading.answer_is_correct(question, choices, normalized)
            clock = state.paused_at or state.now
            response_ms = max(0, int((clock - state.question_started_at).total_seconds() * 1000))
            points = grading.points_for(
                question=question,
                scoring_mode=state.scoring_mode,
                is_correct=is_correct,
                response_time_ms=response_ms,
            )
            # The last write of the transaction: a duplicate fails it as a whole (no
            # savepoint needed), caught below.
            submission = Submission.objects.create(
                participant_id=state.participant_id,
                question=question,
                answer=normalized,
                is_correct=is_correct,
                points_awarded=points,
                response_time_ms=response_ms,
                received_at=state.now,
            )
            (totals,) = totals_from_database(
                contest_id=contest_id, participant_id=state.participant_id
            )
            # robust: the answer is committed whatever happens to the leaderboard's
            # cache (it is rebuilt from the database), so its reply must still go out.
            transaction.on_commit(
                lambda: leaderboard_record(
                    contest_id=contest_id, participant_id=state.participant_id, totals=totals
                ),
                robust=True,
            )
    except IntegrityError:
        raise DuplicateSubmission() from None
    return SubmissionOutcome(submission=submission, total_score=totals.score)


# --- Lifecycle: the contest clock ------------------------------------------------------
# docs/CLOCK.md. Every transition locks the contest row (FOR NO KEY UPDATE: registrations
# and submission inserts, which only key-share the row, go on), checks on the locked row
# that the state it starts from still holds, writes, and queues its broadcasts with
# on_commit. Two ticks, a retried task, or a tick racing an organizer serialise on the
# lock; the later one finds the state moved on and does nothing, so each step happens
# once. The lock also waits for submissions in flight (they read the row FOR SHARE), so
# the stats of a closing question count exactly the answers it accepted.

_LIVE_FIELDS = ["status", *Contest.LIVE_STATE_FIELDS]


def _grace() -> timedelta:
    return timedelta(milliseconds=settings.SUBMISSION_GRACE_MS)


def _contest_lock(contest_id: object) -> Contest | None:
    return Contest.objects.select_for_update(no_key=True).filter(pk=contest_id).first()


def _contest_lock_or_404(contest_id: object) -> Contest:
    contest = _contest_lock(contest_id)
    if contest is None:
        raise ContestNotFound()
    return contest


def _questions_of(contest: Contest) -> list[Question]:
    return list(contest.questions.order_by("order", "id").prefetch_related("choices"))


def _send_on_commit(contest_id: object, event: str, data: dict[str, Any]) -> None:
    # robust: a broadcast that fails after the commit is logged, and must not stop the
    # events queued after it or the tick's other contests.
    transaction.on_commit(
        lambda: broadcast.send_to_contest(contest_id, event, data),
        robust=True,
    )


def _timer_update_on_commit(contest: Contest, now: datetime) -> None:
    question_id = contest.questions.order_by("order", "id").values_list("id", flat=True)[
        contest.current_question_index - 1
    ]
    data = payloads.timer_update_payload(contest, question_id=question_id, now=now)
    transaction.on_commit(
        lambda: broadcast.send_ephemeral(contest.pk, "timer_update", data), robust=True
    )


def _start_is_due(contest: Contest, now: datetime) -> bool:
    return (
        contest.status == Contest.Status.UPCOMING
        and contest.start_time is not None
        and contest.start_time <= now
    )


def _close_is_due(contest: Contest, now: datetime) -> bool:
    return (
        contest.status == Contest.Status.ACTIVE
        and contest.question_open
        and contest.paused_at is None
        and now > contest.question_deadline + _grace()
    )


def _open_next_is_due(contest: Contest, now: datetime) -> bool:
    return (
        contest.status == Contest.Status.ACTIVE
        and not contest.question_open
        and contest.paused_at is None
        and contest.next_question_at is not None
        and contest.next_question_at <= now
    )


def _question_open(contest: Contest, questions: list[Question], index: int, now: datetime) -> None:
    question = questions[index - 1]
    contest.current_question_index = index
    contest.question_open = True
    contest.question_started_at = now
    contest.question_deadline = now + timedelta(seconds=question.time_limit_seconds)
    contest.next_question_at = None
    contest.save(update_fields=_LIVE_FIELDS)
    data = payloads.question_broadcast_payload(
        contest, question, index=index, total_questions=len(questions), now=now
    )
    _send_on_commit(contest.pk, "question_broadcast", data)


def _contest_start(contest: Contest, questions: list[Question], now: datetime) -> None:
    contest.status = Contest.Status.ACTIVE
    contest.started_at = now
    contest.paused_at = None
    _send_on_commit(contest.pk, "contest_start", payloads.contest_start_payload(contest, questions))
    _question_open(contest, questions, 1, now)


def _question_close(
    contest: Contest, questions: list[Question], now: datetime, *, last: bool
) -> None:
    """Close the open question; the contest completes after its last one (or if `last`)."""
    index = contest.current_question_index
    question = questions[index - 1]
    final = last or index == len(questions)
    contest.question_open = False
    if final:
        contest.next_question_at = None
    else:
        closed_at = now
        if contest.paused_at is not None:
            # Skipped during a pause: the whole intermission waits for the resume.
            contest.paused_at = now
        else:
            # Counted from when the question was due to close, not from the tick that
            # closed it (up to one tick later), so intermissions keep their length; after
            # a tick late by more than the intermission, the next tick opens the question.
            closed_at = min(now, contest.question_deadline + _grace())
        contest.next_question_at = closed_at + timedelta(seconds=contest.intermission_seconds)
    contest.save(update_fields=_LIVE_FIELDS)
    # After the lock: every submission to this question has committed or been refused.
    stats = Submission.objects.filter(question=question).aggregate(
        answered=Count("id"), correct=Count("id", filter=Q(is_correct=True))
    )
    data = payloads.question_change_payload(
        contest,
        closed_question_id=question.pk,
        correct_answer=grading.correct_answer_of(question, question.ordered_choices()),
        answered=stats["answered"],
        correct=stats["correct"],
        next_question_id=None if final else questions[index].pk,
        next_starts_at=contest.next_question_at,
    )
    _send_on_commit(contest.pk, "question_change", data)
    if final:
        _contest_complete(contest, now)


def _contest_complete(contest: Contest, now: datetime) -> None:
    from leaderboard.services import final_standings_write

    contest.status = Contest.Status.COMPLETED
    contest.ended_at = now
    contest.question_open = False
    contest.next_question_at = None
    contest.paused_at = None
    contest.save(update_fields=_LIVE_FIELDS)
    final_standings_write(contest_id=contest.pk)
    transaction.on_commit(lambda: _contest_end_send(contest), robust=True)


def _contest_end_send(contest: Contest) -> None:
    from leaderboard.selectors import leaderboard_top

    board = leaderboard_top(contest_id=contest.pk, limit=settings.LEADERBOARD_TOP_N)
    data = payloads.contest_end_payload(
        contest, final_leaderboard=board["top"], total_participants=board["totalParticipants"]
    )
    broadcast.send_to_contest(contest.pk, "contest_end", data)


def contest_start(*, contest_id: object, now: datetime | None = None) -> Contest:
    """upcoming → active, question 1 open ("Start now"; the tick does it at start_time).

    Raises InvalidTransition unless the contest is upcoming, ContestHasNoQuestions if it
    has nothing to play, ContestNotReady if a question is incomplete (both are
    InvalidTransitions).
    """
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status != Contest.Status.UPCOMING:
            raise InvalidTransition("Only an upcoming contest can start.")
        questions = _questions_of(contest)
        if not questions:
            raise ContestHasNoQuestions()
        problems = contest_problems(contest_id=contest.pk)
        if problems:
            raise ContestNotReady(" ".join(problems))
        _contest_start(contest, questions, now or db_now())
    return contest


def contest_end_now(*, contest_id: object, now: datetime | None = None) -> Contest:
    """Organizer: end a running contest now. An open question closes first (its answer
    and stats are shown), then the contest completes with final standings."""
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status != Contest.Status.ACTIVE:
            raise InvalidTransition("Only a running contest can be ended.")
        now = now or db_now()
        if contest.question_open:
            _question_close(contest, _questions_of(contest), now, last=True)
        else:
            _contest_complete(contest, now)
    return contest


def contest_cancel(*, contest_id: object, now: datetime | None = None) -> Contest:
    """Organizer: call off an upcoming or running contest. No standings are written;
    players get contest_end with status "cancelled" and an empty finalLeaderboard."""
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status not in (Contest.Status.UPCOMING, Contest.Status.ACTIVE):
            raise InvalidTransition("Only an upcoming or running contest can be cancelled.")
        contest.status = Contest.Status.CANCELLED
        contest.ended_at = now or db_now()
        contest.question_open = False
        contest.next_question_at = None
        contest.paused_at = None
        contest.save(update_fields=_LIVE_FIELDS)
        data = payloads.contest_end_payload(
            contest, final_leaderboard=[], total_participants=contest.participants.count()
        )
        _send_on_commit(contest.pk, "contest_end", data)
        transaction.on_commit(lambda: _leaderboard_discard(contest_id=contest.pk), robust=True)
    return contest


def question_skip(*, contest_id: object, now: datetime | None = None) -> Contest:
    """Organizer: close the open question now, whatever its deadline (also while paused)."""
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status != Contest.Status.ACTIVE or not contest.question_open:
            raise InvalidTransition("No question is open.")
        _question_close(contest, _questions_of(contest), now or db_now(), last=False)
    return contest


def contest_pause(*, contest_id: object, now: datetime | None = None) -> Contest:
    """Organizer: stop the clock of the open question or of the intermission."""
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status != Contest.Status.ACTIVE or contest.paused_at is not None:
            raise InvalidTransition("Only a running contest that is not paused can pause.")
        now = now or db_now()
        contest.paused_at = now
        contest.save(update_fields=_LIVE_FIELDS)
        _timer_update_on_commit(contest, now)
    return contest


def contest_resume(*, contest_id: object, now: datetime | None = None) -> Contest:
    """Organizer: restart the clock; the open question keeps the time it had left, so its
    start, deadline and the end of the intermission move by the paused duration."""
    with transaction.atomic():
        contest = _contest_lock_or_404(contest_id)
        if contest.status != Contest.Status.ACTIVE or contest.paused_at is None:
            raise InvalidTransition("Only a paused contest can resume.")
        now = now or db_now()
        paused_for = max(now - contest.paused_at, timedelta(0))
        if contest.question_open:
            contest.question_started_at += paused_for
            contest.question_deadline += paused_for
        if contest.next_question_at is not None:
            contest.next_question_at += paused_for
        contest.paused_at = None
        contest.save(update_fields=_LIVE_FIELDS)
        _timer_update_on_commit(contest, now)
    return contest


def _contest_advance(*, contest_id: object, now: datetime | None) -> None:
    """The tick's step for one contest: whichever transition is due on the locked row."""
    with transaction.atomic():
        contest = _contest_lock(contest_id)
        if contest is None:
            return
        now = now or db_now()
        if _start_is_due(contest, now):
            problems = contest_problems(contest_id=contest.pk)
            if problems:
                # Players would get a question they cannot answer: wait for the fix
                # (the admin shows the same problems on the contest's page).
                logger.warning("Contest %s is due but not ready: %s", contest.pk, problems)
                return
            _contest_start(contest, _questions_of(contest), now)
        elif _close_is_due(contest, now):
            _question_close(contest, _questions_of(contest), now, last=False)
        elif _open_next_is_due(contest, now):
            questions = _questions_of(contest)
            _question_open(contest, questions, contest.current_question_index + 1, now)


def _timer_updates_send(now: datetime | None) -> None:
    """One timer_update per open question (paused ones too, showing the pause)."""
    position = Window(
        RowNumber(), partition_by=F("contest_id"), order_by=[F("order").asc(), F("id").asc()]
    )
    current = list(
        Question.objects.filter(contest__status=Contest.Status.ACTIVE, contest__question_open=True)
        .annotate(position=position)
        .filter(position=F("contest__current_question_index"))
        .select_related("contest")
        .only("id", "contest")
    )
    if not current:
        return
    now = now or db_now()
    for question in current:
        data = payloads.timer_update_payload(question.contest, question_id=question.pk, now=now)
        try:
            broadcast.send_ephemeral(question.contest_id, "timer_update", data)
        except Exception:
            logger.exception("timer_update for contest %s was not sent", question.contest_id)


def contest_tick(*, now: datetime | None = None) -> None:
    """One beat of the contest clock (Celery beat, or the embedded loop).

    Starts due scheduled contests, performs the due transition of every active contest,
    then sends one timer_update per open question. It reads a constant number of rows
    per active contest and writes only where something is due. A contest whose start
    time passed while it has no questions stays upcoming until it has one.
    """
    due_at = now or db_now()
    has_questions = Exists(Question.objects.filter(contest=OuterRef("pk")))
    due = Contest.objects.filter(
        Q(status=Contest.Status.UPCOMING, start_time__lte=due_at) & Q(has_questions)
        | Q(
            status=Contest.Status.ACTIVE,
            paused_at=None,
            question_open=True,
            question_deadline__lt=due_at - _grace(),
        )
        | Q(
            status=Contest.Status.ACTIVE,
            paused_at=None,
            question_open=False,
            next_question_at__lte=due_at,
        )
    )
    for contest_id in due.values_list("pk", flat=True):
        # One broken contest must not stop the clock of the others.
        try:
            _contest_advance(contest_id=contest_id, now=now)
        except Exception:
            logger.exception("The contest clock could not advance contest %s", contest_id)
    _timer_updates_send(now)
