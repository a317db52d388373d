"""contests.services.contest_update"""

import uuid

import pytest
from django.core.exceptions import ValidationError

from contests.errors import ContestLocked, ContestNotFound
from contests.models import Contest, Question
from contests.services import contest_create, contest_update
from tests.factories import ParticipantFactory, contest_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def contest() -> Contest:
    return contest_create(data=contest_document(), created_by=None)


def test_it_changes_only_the_fields_it_is_given(contest):
    contest_update(contest_id=contest.pk, data={"title": "Renamed", "scoring_mode": "fixed"})

    contest.refresh_from_db()
    assert (contest.title, contest.scoring_mode) == ("Renamed", "fixed")
    assert contest.description == "Four questions."
    assert contest.questions.count() == 4


def test_it_replaces_all_questions_when_questions_are_given(contest):
    old_ids = set(contest.questions.values_list("id", flat=True))
    new_question = contest_document()["questions"][3]

    contest_update(contest_id=contest.pk, data={"questions": [new_question]})

    questions = list(Question.objects.filter(contest=contest))
    assert [q.text for q in questions] == ["Capital of France?"]
    assert questions[0].id not in old_ids


def test_it_validates_like_contest_create_and_changes_nothing_on_error(contest):
    document = contest_document(title="")
    document["questions"][0]["choices"] = []

    with pytest.raises(ValidationError) as raised:
        contest_update(contest_id=contest.pk, data=document)

    assert set(raised.value.message_dict) == {"title", "questions.0.choices"}
    contest.refresh_from_db()
    assert contest.title == "General knowledge"
    assert contest.questions.count() == 4


def test_it_refuses_a_maximum_below_the_registered_participants(contest):
    ParticipantFactory.create_batch(2, contest=contest)

    with pytest.raises(ValidationError) as raised:
        contest_update(contest_id=contest.pk, data={"max_participants": 1})

    assert raised.value.message_dict == {
        "max_participants": ["2 participants are already registered."]
    }


@pytest.mark.parametrize("status", ["active", "completed", "cancelled"])
def test_it_refuses_to_edit_a_contest_that_is_no_longer_upcoming(contest, status):
    Contest.objects.filter(pk=contest.pk).update(status=status)

    with pytest.raises(ContestLocked):
        contest_update(contest_id=contest.pk, data={"title": "Too late"})

    contest.refresh_from_db()
    assert contest.title == "General knowledge"


def test_it_raises_not_found_for_an_unknown_contest():
    with pytest.raises(ContestNotFound):
        contest_update(contest_id=uuid.uuid4(), data={"title": "x"})
