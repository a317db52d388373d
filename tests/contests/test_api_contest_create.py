"""POST /api/contests/"""

import pytest

from contests.models import Contest
from tests.conftest import client_for
from tests.factories import contest_document, staff_user

pytestmark = pytest.mark.django_db

URL = "/api/contests/"


def test_it_creates_a_contest_with_nested_questions_and_choices(organizer_client, organizer):
    response = organizer_client.post(URL, contest_document(), format="json")

    assert response.status_code == 201
    body = response.json()
    contest = Contest.objects.get(pk=body["id"])
    assert body["join_code"] == contest.join_code
    assert contest.created_by == organizer
    assert contest.questions.count() == 4
    assert [q["type"] for q in body["questions"]] == [
        "single_choice",
        "multiple_choice",
        "numeric",
        "text",
    ]
    assert body["questions"][0]["choices"][0] == {
        "id": str(contest.ordered_questions()[0].ordered_choices()[0].id),
        "text": "Mars",
        "is_correct": True,
        "order": 1,
    }


def test_it_answers_domain_errors_with_field_paths(organizer_client):
    document = contest_document()
    document["questions"][2]["choices"] = [{"text": "x", "is_correct": True}]
    document["questions"][0]["choices"][1]["is_correct"] = True

    response = organizer_client.post(URL, document, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert set(body["errors"]) == {"questions.0.choices", "questions.2.choices"}
    assert Contest.objects.count() == 0


def test_it_answers_wrong_types_with_field_paths(organizer_client):
    document = contest_document(max_participants="many", questions=[{"type": "essay"}])

    response = organizer_client.post(URL, document, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {
        "max_participants",
        "questions.0.type",
        "questions.0.text",
    }


def test_it_rejects_unknown_fields_instead_of_ignoring_them(organizer_client):
    document = contest_document()
    document["questions"][0]["time_limit"] = 30

    response = organizer_client.post(URL, document, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"questions.0.time_limit": ["Unknown field."]}


@pytest.mark.parametrize(
    "body",
    [[], "a string", {"title": "t", "questions": "not a list"}, {"title": "t", "questions": [7]}],
)
def test_it_answers_a_body_of_the_wrong_shape_with_400(organizer_client, body):
    response = organizer_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_it_answers_malformed_json_with_400(organizer_client):
    response = organizer_client.post(URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "PARSE_ERROR"


def test_it_answers_a_non_json_body_with_415(organizer_client):
    response = organizer_client.post(URL, "title=x", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_it_is_for_staff_only(participant_client):
    response = participant_client.post(URL, contest_document(), format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    assert Contest.objects.count() == 0


def test_it_needs_the_add_permission_not_just_staff():
    editor = client_for(staff_user("contests.view_contest", "contests.change_contest"))
    author = client_for(staff_user("contests.add_contest"))

    refused = editor.post(URL, contest_document(), format="json")
    created = author.post(URL, contest_document(), format="json")

    assert refused.status_code == 403
    assert refused.json()["code"] == "PERMISSION_DENIED"
    assert created.status_code == 201
    assert Contest.objects.count() == 1


def test_it_requires_authentication(api_client):
    response = api_client.post(URL, contest_document(), format="json")

    assert response.status_code == 401
