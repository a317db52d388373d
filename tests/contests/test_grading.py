"""Grading and scoring, without a socket or a database: every type, both modes."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from contests.errors import InvalidAnswer
from contests.grading import (
    answer_is_correct,
    answer_normalize,
    correct_answer_of,
    normalize_text,
    points_for,
)
from contests.models import Choice, Contest, Question


def make_question(type_: str, **fields) -> Question:
    return Question(type=type_, text="?", points=1000, time_limit_seconds=20, **fields)


def make_choices(question: Question, *correct: bool) -> list[Choice]:
    return [
        Choice(id=uuid.uuid4(), question=question, text=str(i), is_correct=c)
        for i, c in enumerate(correct)
    ]


def grade(question: Question, choices: list[Choice], answer) -> bool:
    return answer_is_correct(question, choices, answer_normalize(question, choices, answer))


class TestSingleChoice:
    def setup_method(self):
        self.question = make_question(Question.Type.SINGLE_CHOICE)
        self.choices = make_choices(self.question, False, True, False)

    def test_it_accepts_the_correct_choice(self):
        assert grade(self.question, self.choices, str(self.choices[1].id)) is True

    def test_it_grades_another_choice_wrong(self):
        assert grade(self.question, self.choices, str(self.choices[0].id)) is False

    def test_it_accepts_an_uppercase_choice_id(self):
        assert grade(self.question, self.choices, str(self.choices[1].id).upper()) is True

    @pytest.mark.parametrize("answer", [None, 3, ["x"], "not-a-uuid", str(uuid.uuid4())])
    def test_it_rejects_an_answer_that_is_not_one_of_its_choices(self, answer):
        with pytest.raises(InvalidAnswer):
            answer_normalize(self.question, self.choices, answer)

    def test_its_correct_answer_is_the_correct_choice_id(self):
        assert correct_answer_of(self.question, self.choices) == str(self.choices[1].id)


class TestMultipleChoice:
    def setup_method(self):
        self.question = make_question(Question.Type.MULTIPLE_CHOICE)
        self.choices = make_choices(self.question, True, True, False)
        self.ids = [str(c.id) for c in self.choices]

    def test_it_accepts_exactly_the_correct_set_in_any_order(self):
        assert grade(self.question, self.choices, [self.ids[1], self.ids[0]]) is True

    def test_it_grades_a_partial_set_wrong(self):
        assert grade(self.question, self.choices, [self.ids[0]]) is False

    def test_it_grades_a_superset_wrong(self):
        assert grade(self.question, self.choices, self.ids) is False

    @pytest.mark.parametrize("answer", [[], "x", None, {"a": 1}])
    def test_it_rejects_a_non_list_or_empty_answer(self, answer):
        with pytest.raises(InvalidAnswer):
            answer_normalize(self.question, self.choices, answer)

    def test_it_rejects_a_repeated_choice(self):
        with pytest.raises(InvalidAnswer):
            answer_normalize(self.question, self.choices, [self.ids[0], self.ids[0]])

    def test_it_rejects_a_foreign_choice(self):
        with pytest.raises(InvalidAnswer):
            answer_normalize(self.question, self.choices, [self.ids[0], str(uuid.uuid4())])

    def test_its_correct_answer_is_the_sorted_correct_ids(self):
        assert correct_answer_of(self.question, self.choices) == sorted(self.ids[:2])


class TestNumeric:
    def setup_method(self):
        self.question = make_question(
            Question.Type.NUMERIC, numeric_answer=Decimal("3.14"), numeric_tolerance=Decimal("0.01")
        )

    @pytest.mark.parametrize("answer", [3.14, 3.13, 3.15, 3.149999])
    def test_it_accepts_answers_within_the_tolerance(self, answer):
        assert grade(self.question, [], answer) is True

    @pytest.mark.parametrize("answer", [3.16, 3, -3.14])
    def test_it_grades_answers_outside_the_tolerance_wrong(self, answer):
        assert grade(self.question, [], answer) is False

    @pytest.mark.parametrize("answer", ["3.14", True, None, [3.14], float("nan"), float("inf")])
    def test_it_rejects_anything_but_a_finite_number(self, answer):
        with pytest.raises(InvalidAnswer):
            answer_normalize(self.question, [], answer)

    def test_an_exact_integer_answer_needs_no_tolerance(self):
        question = make_question(Question.Type.NUMERIC, numeric_answer=Decimal("42"))
        assert grade(question, [], 42) is True
        assert grade(question, [], 42.0000001) is False
        assert correct_answer_of(question, []) == 42


class TestText:
    def setup_method(self):
        self.question = make_question(Question.Type.TEXT, accepted_answers=["New York", "NYC"])

    # The last one is "New York" in fullwidth letters (NFKC folds them).
    @pytest.mark.parametrize(
        "answer",
        ["new york", "  NEW   york ", "nyc", "\uff2e\uff45\uff57 \uff39\uff4f\uff52\uff4b"],
    )
    def test_it_ignores_case_and_spacing(self, answer):
        assert grade(self.question, [], answer) is True

    def test_it_grades_another_text_wrong(self):
        assert grade(self.question, [], "Newark") is False

    @pytest.mark.parametrize("answer", ["", "   ", 5, None, "x" * 201, "New\x00York"])
    def test_it_rejects_empty_non_string_or_too_long_answers(self, answer):
        with pytest.raises(InvalidAnswer):
            answer_normalize(self.question, [], answer)

    def test_a_200_character_answer_is_allowed(self):
        assert grade(self.question, [], "x" * 200) is False

    def test_its_correct_answer_is_the_first_accepted_answer(self):
        assert correct_answer_of(self.question, []) == "New York"

    def test_normalize_text_collapses_whitespace_and_case(self):
        assert normalize_text("  A\tb  C ") == "a b c"


class TestPoints:
    question = make_question(Question.Type.SINGLE_CHOICE)  # 1000 points, 20 s

    def speed(self, ms: int, *, correct: bool = True) -> int:
        return points_for(
            question=self.question,
            scoring_mode=Contest.ScoringMode.SPEED,
            is_correct=correct,
            response_time_ms=ms,
        )

    def test_a_wrong_answer_scores_nothing_in_both_modes(self):
        assert self.speed(100, correct=False) == 0
        assert (
            points_for(
                question=self.question,
                scoring_mode=Contest.ScoringMode.FIXED,
                is_correct=False,
                response_time_ms=100,
            )
            == 0
        )

    def test_fixed_mode_gives_full_points_whatever_the_time(self):
        assert (
            points_for(
                question=self.question,
                scoring_mode=Contest.ScoringMode.FIXED,
                is_correct=True,
                response_time_ms=19_999,
            )
            == 1000
        )

    def test_speed_mode_gives_full_points_under_half_a_second(self):
        assert self.speed(0) == 1000
        assert self.speed(499) == 1000

    @pytest.mark.parametrize(
        ("ms", "expected"),
        [
            (500, 988),  # 1000 * (1 - 0.025/2) = 987.5 → half up
            (10_000, 750),
            (20_000, 500),
            (1_000, 975),
            (15_000, 625),
        ],
    )
    def test_speed_mode_follows_kahoots_formula(self, ms, expected):
        assert self.speed(ms) == expected

    def test_an_answer_in_the_grace_period_scores_like_one_at_the_deadline(self):
        assert self.speed(20_400) == 500

    def test_a_zero_point_question_scores_zero(self):
        question = make_question(Question.Type.SINGLE_CHOICE)
        question.points = 0
        assert (
            points_for(
                question=question,
                scoring_mode=Contest.ScoringMode.SPEED,
                is_correct=True,
                response_time_ms=3000,
            )
            == 0
        )
