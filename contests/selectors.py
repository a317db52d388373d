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
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
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
        # Removed players are out of the contest (its board, its standings): not counted.
        participant_count=_count_per_contest(Participant.objects.filter(removed_at=None)),
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
class LiveBoardRules:
    """What the live leaderboard of a contest shows now (docs/LEADERBOARD.md)."""

    status: str
    visible: bool  # leaderboard_visible: false shows players only the final standings
    frozen: bool  # the freeze of the last questions has begun
    # The questions whose points it counts (Contest.live_board_through); None: every one.
    counted_question_ids: list[str] | None


def live_board_rules(*, contest_id: ContestId) -> LiveBoardRules:
    """Raises ContestNotFound."""
    contest = (
        Contest.objects.filter(pk=contest_id)
        .only(
            "status",
            "leaderboard_visible",
            "answer_reveal",
            "leaderboard_freeze_last",
            "current_question_index",
            "question_open",
        )
        .first()
    )
    if contest is None:
        raise ContestNotFound()
    return contest_board_rules(contest)


def contest_board_rules(contest: Contest) -> LiveBoardRules:
    """live_board_rules of a contest the caller has read already (at least the fields
    live_board_rules reads)."""
    # Only a started contest's questions are frozen (and cached); an upcoming one has no
    # answers, a finished one is ranked by its final standings.
    if contest.status != Contest.Status.ACTIVE:
        return LiveBoardRules(contest.status, contest.leaderboard_visible, False, None)
    played = started_contest_questions(contest_id=contest.pk)
    through = contest.live_board_through(len(played))
    counted = (
        None if through is None else [qid for qid, p in played.items() if p.position <= through]
    )
    return LiveBoardRules(
        contest.status,
        contest.leaderboard_visible,
        contest.leaderboard_is_frozen(len(played)),
        counted,
    )


# From this many ids on, reading the whole contest and filtering here beats an IN list.
MANY_IDS = 500


@dataclass(frozen=True)
class QuestionResult:
    """One participant's result of a closed question (question_change's `yourResult`)."""

    answered: bool
    is_correct: bool | None
    points_awarded: int
    total_score: int
    streak: int


def question_results(
    *, contest_id: ContestId, question_id: QuestionId, participant_ids: list[str]
) -> dict[str, QuestionResult]:
    """{participant id: their result of this question and their total}, one query for
    any number of participants (those not in the contest are left out)."""
    this = Q(submissions__question_id=question_id)
    rows = Participant.objects.filter(contest_id=contest_id)
    if len(participant_ids) < MANY_IDS:
        rows = rows.filter(pk__in=participant_ids)
    wanted = set(participant_ids)
    results: dict[str, QuestionResult] = {}
    for pk, total, answered, correct, points, streak in (
        rows.order_by()
        .annotate(
            total=Coalesce(Sum("submissions__points_awarded"), 0),
            answered=Count("submissions", filter=this),
            correct=Count("submissions", filter=this & Q(submissions__is_correct=True)),
            points=Coalesce(Sum("submissions__points_awarded", filter=this), 0),
            streak=Coalesce(Max("submissions__streak", filter=this), 0),
        )
        .values_list("pk", "total", "answered", "correct", "points", "streak")
    ):
        if str(pk) in wanted:
            results[str(pk)] = QuestionResult(
                answered=bool(answered),
                is_correct=bool(correct) if answered else None,
                points_awarded=points,
                total_score=total,
                streak=streak,
            )
    return results


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


def participant_list(
    *, contest_id: ContestId, removed: bool | None = None
) -> QuerySet[Participant]:
    """A contest's participants in registration order (the host screen's list of players);
    `removed` True keeps only those an organizer removed, False only those still in.
    Raises ContestNotFound."""
    if not Contest.objects.filter(pk=contest_id).exists():
        raise ContestNotFound()
    participants = Participant.objects.filter(contest_id=contest_id).order_by("registered_at", "id")
    if removed is not None:
        participants = participants.filter(removed_at__isnull=not removed)
    return participants


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
    if contest.leaderboard_freeze_last > len(questions):
        problems.append(
            f"The leaderboard freezes for the last {contest.leaderboard_freeze_last} "
            f"questions, but the contest has {len(questions)}."
        )
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
        **{field: getattr(contest, field) for field in Contest.RULE_FIELDS},
        "questions": [_question_export(q) for q in contest_questions(contest_id=contest.pk)],
    }
