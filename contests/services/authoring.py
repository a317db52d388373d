"""Authoring: contests, their questions and choices, validated as a whole. Every writer
locks the contest row and re-checks that it is still upcoming, so nothing changes once it
has started (its questions are then cached by every process)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from contests.errors import ContestLocked, ContestNotFound
from contests.locks import contest_lock
from contests.models import MAX_QUESTIONS_PER_CONTEST, Choice, Contest, Question
from core.time import db_now
from core.types import ContestId

CONTEST_FIELDS = (
    "title",
    "description",
    "start_time",
    "scoring_mode",
    "intermission_seconds",
    "requires_registration",
    "max_participants",
    *Contest.RULE_FIELDS,
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


def _freeze_check(contest: Contest, questions: int, errors: dict[str, list[str]]) -> None:
    """A freeze longer than the contest: checked where the document lists the questions
    (the admin adds them after the contest; contest_problems reports it there)."""
    if "leaderboard_freeze_last" in errors:
        return
    if isinstance(contest.leaderboard_freeze_last, int) and (
        contest.leaderboard_freeze_last > questions
    ):
        errors["leaderboard_freeze_last"] = [
            f"The contest has {questions} questions; it cannot freeze the last "
            f"{contest.leaderboard_freeze_last}."
        ]


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
    if "questions" in data:
        _freeze_check(contest, len(built), errors)
    if errors:
        raise ValidationError(errors)
    contest.save()
    _questions_save(built)
    return contest


@transaction.atomic
def contest_update(*, contest_id: ContestId, data: dict[str, Any]) -> Contest:
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
        _freeze_check(contest, len(built), errors)
    if errors:
        raise ValidationError(errors)
    # Only the fields given: an update never writes the live state (the clock's columns).
    contest.save(update_fields=[f for f in CONTEST_FIELDS if f in data])
    if built is not None:
        contest.questions.all().delete()
        _questions_save(built)
    return contest


def _contest_lock_for_authoring(contest_id: ContestId) -> Contest:
    """Lock an upcoming contest's row as the clock does, until the caller's transaction
    ends: the contest cannot start before the questions written meanwhile commit (once
    started, its questions are cached by every process)."""
    contest = contest_lock(contest_id)
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
