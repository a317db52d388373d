"""Reads of the contest domain for the REST API, the admin and the management commands."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber

from accounts.models import User
from contests.errors import ContestNotFound
from contests.models import Choice, Contest, Participant, Question, Submission
from core.types import ContestId, QuestionId

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class ContestCounts(TypedDict):
    question_count: int
    participant_count: int


class QuestionPosition(TypedDict):
    position: int  # 1-based, in play order


# The models with the fields that these reads' .annotate() adds. Quoted: django_stubs_ext
# is imported for the type checker only.
ContestWithCounts: TypeAlias = "WithAnnotations[Contest, ContestCounts]"
QuestionInPlay: TypeAlias = "WithAnnotations[Question, QuestionPosition]"


def _count_per_contest(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT(*): two joined Counts would multiply questions by participants."""
    counted = (
        queryset.filter(contest=OuterRef("pk"))
        .order_by()
        .values("contest")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _contests() -> QuerySet[ContestWithCounts]:
    return Contest.objects.annotate(
        question_count=_count_per_contest(Question.objects.all()),
        participant_count=_count_per_contest(Participant.objects.all()),
    )


def contest_list(
    *, status: str | None = None, join_code: str | None = None
) -> QuerySet[ContestWithCounts]:
    """Contests, newest first, with question_count and participant_count."""
    contests = _contests()
    if status:
        contests = contests.filter(status=status)
    if join_code:
        contests = contests.filter(join_code=join_code.strip().upper())
    return contests


def contest_questions(*, contest_id: ContestId) -> list[QuestionInPlay]:
    """A contest's questions in play order, each with `position` (1-based) and its choices."""
    return list(
        Question.objects.filter(contest_id=contest_id)
        .annotate(
            position=Window(RowNumber(), order_by=[F("order").asc(), F("id").asc()]),
        )
        .order_by("order", "id")
        .prefetch_related("choices")
    )


@dataclass(frozen=True)
class PlayedQuestion:
    question: Question
    position: int
    choices: tuple[Choice, ...]


# Questions of a contest that has started never change (editing is refused once a
# contest leaves "upcoming"), so each process loads them once per contest instead of
# three queries per answer. Bounded: the oldest contests fall out first.
_PLAYED_CACHE_SIZE = 256
_played: OrderedDict[str, dict[str, PlayedQuestion]] = OrderedDict()
_played_lock = threading.Lock()


def started_contest_questions(*, contest_id: ContestId) -> dict[str, PlayedQuestion]:
    """{question id: PlayedQuestion} of a contest the caller knows has started."""
    key = str(contest_id)
    with _played_lock:
        cached = _played.get(key)
        if cached is not None:
            _played.move_to_end(key)
            return cached
    played = {
        str(q.pk): PlayedQuestion(
            question=q, position=q.position, choices=tuple(q.ordered_choices())
        )
        for q in contest_questions(contest_id=contest_id)
    }
    with _played_lock:
        _played[key] = played
        while len(_played) > _PLAYED_CACHE_SIZE:
            _played.popitem(last=False)
    return played


@dataclass(frozen=True)
class QuestionStats:
    answered: int
    correct: int


def question_stats(*, question_id: QuestionId) -> QuestionStats:
    """Accepted answers of a question, and how many were correct (question_change)."""
    stats = Submission.objects.filter(question_id=question_id).aggregate(
        answered=Count("id"), correct=Count("id", filter=Q(is_correct=True))
    )
    return QuestionStats(answered=stats["answered"], correct=stats["correct"])


@dataclass(frozen=True)
class ContestDetail:
    contest: ContestWithCounts
    questions: list[QuestionInPlay]
    is_registered: bool


def contest_detail(*, contest_id: ContestId, user: User) -> ContestDetail:
    contest = _contests().filter(pk=contest_id).first()
    if contest is None:
        raise ContestNotFound()
    return ContestDetail(
        contest=contest,
        questions=contest_questions(contest_id=contest.pk),
        is_registered=Participant.objects.filter(contest=contest, user_id=user.pk).exists(),
    )


def contest_problems(*, contest_id: ContestId) -> list[str]:
    """What keeps an upcoming contest from being played as authored, e.g. a single-choice
    question whose choices were not added yet (the admin saves questions before choices)."""
    contest = Contest.objects.filter(pk=contest_id).first()
    if contest is None:
        raise ContestNotFound()
    questions = contest_questions(contest_id=contest.pk)
    if not questions:
        return ["The contest has no questions."]
    problems: list[str] = []
    for question in questions:
        question.contest = contest
        try:
            question.clean()
            Question.validate_choices(
                question.type, [(c.text, c.is_correct) for c in question.ordered_choices()]
            )
        except ValidationError as exc:
            problems.extend(f"Question {question.position}: {m}" for m in exc.messages)
    return problems


# --- The contest file format (docs/CONTEST_FORMAT.md) ----------------------------------


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _choice_export(choice: Choice) -> dict[str, Any]:
    return {"text": choice.text, "is_correct": choice.is_correct, "order": choice.order}


def _question_export(question: Question) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order": question.order,
        "type": question.type,
        "text": question.text,
        "points": question.points,
        "time_limit_seconds": question.time_limit_seconds,
    }
    if question.type in Question.CHOICE_TYPES:
        data["choices"] = [_choice_export(c) for c in question.ordered_choices()]
    elif question.type == Question.Type.NUMERIC:
        data["numeric_answer"] = _number(question.numeric_answer)
        data["numeric_tolerance"] = _number(question.numeric_tolerance)
    elif question.type == Question.Type.TEXT:
        data["accepted_answers"] = list(question.accepted_answers)
    return data


def contest_export(*, contest_id: ContestId) -> dict[str, Any]:
    """A contest as the JSON document that contest_create (and import_contest) reads."""
    contest = Contest.objects.filter(pk=contest_id).first()
    if contest is None:
        raise ContestNotFound()
    return {
        "title": contest.title,
        "description": contest.description,
        "start_time": contest.start_time.isoformat() if contest.start_time else None,
        "scoring_mode": contest.scoring_mode,
        "intermission_seconds": contest.intermission_seconds,
        "requires_registration": contest.requires_registration,
        "max_participants": contest.max_participants,
        "questions": [_question_export(q) for q in contest_questions(contest_id=contest.pk)],
    }
