"""PUT and PATCH /api/contests/{id}/"""

import uuid

import pytest

from contests.models import Contest
from contests.services import contest_create
from tests.conftest import client_for
from tests.factories import contest_document, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def contest() -> Contest:
    return contest_create(data=contest_document(), created_by=None)


def url(contest) -> str:
    return f"/api/contests/{contest.id}/"


def test_put_replaces_the_document(organizer_client, contest):
    document = contest_document(
        title="Second edition", questions=contest_document()["questions"][:2]
    )

    response = organizer_client.put(url(contest), document, format="json")

    assert response.status_code == 200
    assert response.json()["title"] == "Second edition"
    assert len(response.json()["questions"]) == 2
    assert contest.questions.count() == 2


def test_put_requires_the_required_fields(organizer_client, contest):
    response = organizer_client.put(url(contest), {"description": "x"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"title": ["This field is required."]}


def test_patch_changes_only_the_given_fields(organizer_client, contest):
    response = organizer_client.patch(url(contest), {"intermission_seconds": 10}, format="json")

    assert response.status_code == 200
    contest.refresh_from_db()
    assert contest.intermission_seconds == 10
    assert contest.title == "General knowledge"
    assert contest.questions.count() == 4


def test_patch_answers_domain_errors_with_field_paths(organizer_client, contest):
    questions = contest_document()["questions"]
    questions[1]["choices"] = [{"text": "only", "is_correct": False}]

    response = organizer_client.patch(url(contest), {"questions": questions}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["questions.1.choices"]
    assert contest.questions.count() == 4


def test_patch_requires_whole_questions(organizer_client, contest):
    response = organizer_client.patch(
        url(contest), {"questions": [{"text": "Which?"}]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"questions.0.type": ["This field is required."]}


@pytest.mark.parametrize("status", ["active", "completed"])
def test_it_answers_409_once_the_contest_has_started(organizer_client, contest, status):
    Contest.objects.filter(pk=contest.pk).update(status=status)

    response = organizer_client.patch(url(contest), {"title": "Too late"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "CONTEST_LOCKED"


def test_it_is_for_staff_only(participant_client, contest):
    response = participant_client.patch(url(contest), {"title": "Mine"}, format="json")

    assert response.status_code == 403
    contest.refresh_from_db()
    assert contest.title == "General knowledge"


def test_it_needs_the_change_permission_not_just_staff(contest):
    viewer = client_for(staff_user("contests.view_contest", "contests.add_contest"))
    editor = client_for(staff_user("contests.change_contest"))

    refused = viewer.patch(url(contest), {"title": "Mine"}, format="json")
    changed = editor.patch(url(contest), {"title": "Ours"}, format="json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "PERMISSION_DENIED"
    assert changed.status_code == 200
    contest.refresh_from_db()
    assert contest.title == "Ours"


def test_it_requires_authentication(api_client, contest):
    assert api_client.patch(url(contest), {"title": "x"}, format="json").status_code == 401


def test_it_answers_an_unknown_contest_with_404(organizer_client):
    response = organizer_client.patch(
        f"/api/contests/{uuid.uuid4()}/", {"title": "x"}, format="json"
    )

    assert response.status_code == 404
