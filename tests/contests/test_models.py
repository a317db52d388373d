import pytest
from django.core.exceptions import ValidationError

from contests.models import Question
from tests.factories import ContestFactory, QuestionFactory


def test_it_rejects_single_choice_with_two_correct_choices():
    with pytest.raises(ValidationError):
        Question.validate_choices(Question.Type.SINGLE_CHOICE, [("a", True), ("b", True)])


@pytest.mark.django_db
def test_it_rejects_editing_a_question_of_an_active_contest():
    contest = ContestFactory(status="active")
    question = QuestionFactory.build(contest=contest)
    with pytest.raises(ValidationError):
        question.clean()
