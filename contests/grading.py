"""Grading and scoring: plain functions of a question, its choices and an answer.

No database and no clock here, so every question type and both scoring modes are tested
without a socket (tests/contests/test_grading.py).
"""

from __future__ import annotations

import math
import unicodedata
import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from contests.errors import InvalidAnswer
from contests.models import MAX_TEXT_ANSWER_LENGTH, Choice, Contest, Question

# Kahoot's rule: an answer faster than this earns the question's full points.
FULL_POINTS_UNDER_MS = 500
# Kahoot's answer streak: +100 for each correct answer in a row after the first, at most
# +500 (docs/CONTEST_FORMAT.md).
STREAK_BONUS_STEP = 100
STREAK_BONUS_MAX = 500


def normalize_text(value: str) -> str:
    """Case- and spacing-insensitive form used to compare text answers."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _choice_id(value: Any, valid_ids: set[str]) -> str:
    if not isinstance(value, str):
        raise InvalidAnswer("A choice is given by its id, a string.")
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        raise InvalidAnswer("A choice id is a UUID string.") from None
    if canonical not in valid_ids:
        raise InvalidAnswer("This choice does not belong to the question.")
    return canonical


def answer_normalize(question: Question, choices: Sequence[Choice], answer: Any) -> Any:
    """Check an answer's shape for the question's type; return its canonical form.

    single_choice: "<choiceId>"; multiple_choice: ["<choiceId>", ...] (non-empty, no
    repeats); numeric: a finite number; text: a non-empty string of at most 200 characters.
    """
    valid_ids = {str(c.id) for c in choices}
    if question.type == Question.Type.SINGLE_CHOICE:
        return _choice_id(answer, valid_ids)
    if question.type == Question.Type.MULTIPLE_CHOICE:
        if not isinstance(answer, list) or not answer:
            raise InvalidAnswer("A multiple-choice answer is a non-empty list of choice ids.")
        picked = [_choice_id(item, valid_ids) for item in answer]
        if len(set(picked)) != len(picked):
            raise InvalidAnswer("A multiple-choice answer lists each choice at most once.")
        return sorted(picked)
    if question.type == Question.Type.NUMERIC:
        # bool is an int in Python, but never a number in JSON terms.
        if isinstance(answer, bool) or not isinstance(answer, int | float):
            raise InvalidAnswer("A numeric answer is a JSON number.")
        if isinstance(answer, float) and not math.isfinite(answer):
            raise InvalidAnswer("A numeric answer is a finite number.")
        return answer
    if question.type == Question.Type.TEXT:
        if not isinstance(answer, str):
            raise InvalidAnswer("A text answer is a string.")
        if len(answer) > MAX_TEXT_ANSWER_LENGTH:
            raise InvalidAnswer(f"A text answer is at most {MAX_TEXT_ANSWER_LENGTH} characters.")
        if not answer.strip():
            raise InvalidAnswer("A text answer cannot be empty.")
        if "\x00" in answer:
            # PostgreSQL's jsonb cannot store it; no one types it.
            raise InvalidAnswer("A text answer cannot contain a NUL character.")
        return answer
    raise InvalidAnswer(f"Unknown question type {question.type!r}.")


def answer_is_correct(question: Question, choices: Sequence[Choice], normalized: Any) -> bool:
    """Grade an answer already returned by answer_normalize."""
    if question.type == Question.Type.SINGLE_CHOICE:
        return any(str(c.id) == normalized and c.is_correct for c in choices)
    if question.type == Question.Type.MULTIPLE_CHOICE:
        return set(normalized) == {str(c.id) for c in choices if c.is_correct}
    if question.type == Question.Type.NUMERIC:
        if question.numeric_answer is None:
            return False
        try:
            given = Decimal(str(normalized))
        except InvalidOperation:
            return False
        return abs(given - question.numeric_answer) <= question.numeric_tolerance
    if question.type == Question.Type.TEXT:
        accepted = {normalize_text(a) for a in question.accepted_answers or []}
        return normalize_text(normalized) in accepted
    return False


def points_for(
    *,
    question: Question,
    scoring_mode: str,
    is_correct: bool,
    response_time_ms: int,
) -> int:
    """Points of one answer.

    speed: Kahoot's round(points * (1 - (t / T) / 2)), full points under 0.5 s, t capped
    at T (an answer inside the grace period scores like one at the deadline). Rounding is
    half up, computed exactly with fractions. fixed: full points for a correct answer.
    """
    if not is_correct:
        return 0
    if scoring_mode == Contest.ScoringMode.FIXED or response_time_ms < FULL_POINTS_UNDER_MS:
        return question.points
    limit_ms = question.time_limit_seconds * 1000
    elapsed = min(max(response_time_ms, 0), limit_ms)
    exact = Fraction(question.points) * (1 - Fraction(elapsed, limit_ms) / 2)
    return math.floor(exact + Fraction(1, 2))


def streak_after(*, is_correct: bool, previous: tuple[bool, int] | None) -> int:
    """Correct answers in a row ending with this one: 0 if it is wrong; otherwise one more
    than the previous question's streak, or 1 if that answer was wrong or missing.
    `previous` is (is_correct, streak) of the participant's answer to the question just
    before this one in play order, None if they did not answer it."""
    if not is_correct:
        return 0
    if previous is None or not previous[0]:
        return 1
    return previous[1] + 1


def streak_bonus_for(streak: int) -> int:
    """The bonus of a correct answer that makes a streak of `streak`:
    min(100 * (streak - 1), 500); nothing for a wrong answer (streak 0)."""
    if streak <= 1:
        return 0
    return min(STREAK_BONUS_STEP * (streak - 1), STREAK_BONUS_MAX)


def correct_answer_of(question: Question, choices: Sequence[Choice]) -> Any:
    """The correct answer in the same shape a client submits (sent only after closing)."""
    if question.type == Question.Type.SINGLE_CHOICE:
        return next((str(c.id) for c in choices if c.is_correct), None)
    if question.type == Question.Type.MULTIPLE_CHOICE:
        return sorted(str(c.id) for c in choices if c.is_correct)
    if question.type == Question.Type.NUMERIC:
        value = question.numeric_answer
        if value is None:
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if question.type == Question.Type.TEXT:
        return (question.accepted_answers or [None])[0]
    return None
