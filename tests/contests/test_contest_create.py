"""contests.services.contest_create and the domain rules it enforces (issue 2)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contests.models import Contest, Question
from contests.services import contest_create
from tests.factories import contest_document

pytestmark = pytest.mark.django_db


def errors_of(data: dict) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        contest_create(data=data, created_by=None)
    assert Contest.objects.count() == 0, "nothing is saved when the document is invalid"
    return raised.value.message_dict


def question(**fields) -> dict:
    base = {"type": "single_choice", "text": "Q?", "choices": []}
    base.update(fields)
    return base


def choices(*correct: bool) -> list[dict]:
    return [{"text": f"c{i}", "is_correct": flag} for i, flag in enumerate(correct)]


def test_it_creates_a_contest_with_its_questions_and_choices(organizer):
    contest = contest_create(data=contest_document(), created_by=organizer)

    assert contest.status == Contest.Status.UPCOMING
    assert contest.created_by == organizer
    assert len(contest.join_code) == 6
    questions = contest.ordered_questions()
    assert [q.type for q in questions] == ["single_choice", "multiple_choice", "numeric", "text"]
    assert [c.text for c in questions[0].ordered_choices()] == ["Mars", "Venus"]
    assert questions[2].numeric_answer == Decimal("3.14")
    assert questions[3].accepted_answers == ["Paris"]


def test_it_numbers_questions_and_choices_by_position_when_order_is_missing():
    data = contest_document(
        questions=[
            question(text="first", choices=choices(True, False)),
            question(text="second", choices=choices(False, True)),
        ]
    )
    contest = contest_create(data=data, created_by=None)

    assert [(q.order, q.text) for q in contest.ordered_questions()] == [(1, "first"), (2, "second")]
    assert [c.order for c in contest.ordered_questions()[1].ordered_choices()] == [1, 2]


def test_it_rejects_single_choice_with_two_correct_choices():
    errors = errors_of(contest_document(questions=[question(choices=choices(True, True))]))
    assert errors == {
        "questions.0.choices": [
            "A single-choice question needs exactly one correct choice (it has 2)."
        ]
    }


def test_it_rejects_single_choice_with_no_correct_choice():
    errors = errors_of(contest_document(questions=[question(choices=choices(False, False))]))
    assert "questions.0.choices" in errors


def test_it_rejects_single_choice_with_one_choice():
    errors = errors_of(contest_document(questions=[question(choices=choices(True))]))
    assert errors["questions.0.choices"] == ["A single-choice question needs at least two choices."]


def test_it_rejects_multiple_choice_with_no_correct_choice():
    data = contest_document(
        questions=[question(type="multiple_choice", choices=choices(False, False, False))]
    )
    assert errors_of(data)["questions.0.choices"] == [
        "A multiple-choice question needs at least one correct choice."
    ]


def test_it_accepts_multiple_choice_with_every_choice_correct():
    data = contest_document(
        questions=[question(type="multiple_choice", choices=choices(True, True))]
    )
    assert contest_create(data=data, created_by=None).questions.count() == 1


def test_it_rejects_numeric_without_its_answer():
    data = contest_document(questions=[question(type="numeric")])
    assert errors_of(data) == {
        "questions.0.numeric_answer": ["A numeric question needs its answer."]
    }


def test_it_rejects_text_without_an_accepted_answer():
    data = contest_document(questions=[question(type="text", accepted_answers=[])])
    assert list(errors_of(data)) == ["questions.0.accepted_answers"]


def test_it_rejects_text_with_a_blank_accepted_answer():
    data = contest_document(questions=[question(type="text", accepted_answers=["Paris", "  "])])
    assert list(errors_of(data)) == ["questions.0.accepted_answers"]


def test_it_rejects_choices_on_a_numeric_question():
    data = contest_document(
        questions=[question(type="numeric", numeric_answer=1, choices=choices(True, False))]
    )
    assert errors_of(data) == {"questions.0.choices": ["A numeric question has no choices."]}


@pytest.mark.parametrize(
    ("field", "value"),
    [("points", 10_001), ("time_limit_seconds", 4), ("time_limit_seconds", 601)],
)
def test_it_rejects_points_and_time_limits_out_of_range(field, value):
    data = contest_document()
    data["questions"][0][field] = value
    assert list(errors_of(data)) == [f"questions.0.{field}"]


def test_it_rejects_two_questions_with_the_same_order():
    data = contest_document()
    data["questions"][1]["order"] = 1
    assert errors_of(data) == {"questions.1.order": ["questions.0 has the same order."]}


def test_it_reports_every_problem_at_once_keyed_by_path():
    data = contest_document(title="", intermission_seconds=601)
    data["questions"][0]["choices"] = choices(True, True)
    data["questions"][3]["accepted_answers"] = []

    assert set(errors_of(data)) == {
        "title",
        "intermission_seconds",
        "questions.0.choices",
        "questions.3.accepted_answers",
    }


def test_it_rejects_a_start_time_in_the_past():
    data = contest_document(start_time=timezone.now() - timedelta(minutes=1))
    assert errors_of(data) == {"start_time": ["The start time is in the past."]}


def test_it_rejects_more_than_the_maximum_number_of_questions():
    data = contest_document(questions=[question(choices=choices(True, False))] * 101)
    assert list(errors_of(data)) == ["questions"]


def test_it_allows_a_contest_without_questions_which_cannot_start_yet():
    contest = contest_create(data=contest_document(questions=[]), created_by=None)
    assert contest.questions.count() == 0


def test_it_rejects_editing_a_question_or_choice_of_a_started_contest():
    contest = contest_create(data=contest_document(), created_by=None)
    Contest.objects.filter(pk=contest.pk).update(status=Contest.Status.ACTIVE)
    question = Question.objects.filter(contest=contest).first()
    choice = question.choices.first()

    with pytest.raises(ValidationError, match="cannot be edited"):
        question.full_clean()
    with pytest.raises(ValidationError, match="cannot be edited"):
        choice.full_clean()


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_it_keeps_questions_of_a_finished_contest_frozen(status):
    contest = contest_create(data=contest_document(), created_by=None)
    Contest.objects.filter(pk=contest.pk).update(status=status)
    question = Question.objects.filter(contest=contest).first()

    with pytest.raises(ValidationError, match="cannot be edited"):
        question.full_clean()
