"""GET /api/contests/"""

import pytest

from tests.factories import ContestFactory, ParticipantFactory, contest_with_questions

pytestmark = pytest.mark.django_db

URL = "/api/contests/"


def test_it_lists_contests_newest_first_with_counts(participant_client):
    older = contest_with_questions(questions=2)
    ParticipantFactory(contest=older)
    newer = ContestFactory()

    response = participant_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [c["id"] for c in body["results"]] == [str(newer.id), str(older.id)]
    first = body["results"][1]
    assert first["question_count"] == 2
    assert first["participant_count"] == 1
    assert first["join_code"] == older.join_code
    assert "questions" not in first


def test_it_filters_by_status(participant_client):
    ContestFactory(status="upcoming")
    active = ContestFactory(status="active")

    body = participant_client.get(URL, {"status": "active"}).json()

    assert [c["id"] for c in body["results"]] == [str(active.id)]


def test_it_finds_a_contest_by_join_code_ignoring_case(participant_client):
    wanted = ContestFactory()
    ContestFactory()

    body = participant_client.get(URL, {"join_code": wanted.join_code.lower()}).json()

    assert [c["id"] for c in body["results"]] == [str(wanted.id)]


def test_it_rejects_an_unknown_status(participant_client):
    response = participant_client.get(URL, {"status": "running"})

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert list(response.json()["errors"]) == ["status"]


def test_it_paginates(participant_client):
    for _ in range(3):
        ContestFactory()

    body = participant_client.get(URL, {"page_size": 2, "page": 2}).json()

    assert body["count"] == 3
    assert len(body["results"]) == 1
    assert body["previous"] is not None
    assert body["next"] is None


def test_it_answers_a_page_past_the_end_with_a_json_404(participant_client):
    response = participant_client.get(URL, {"page": 5})

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_it_requires_authentication(api_client):
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_it_rejects_a_bad_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_NOT_VALID"


def test_options_describes_the_create_input_to_staff(organizer_client):
    response = organizer_client.options(URL)

    assert response.status_code == 200
    assert "title" in response.json()["actions"]["POST"]


def test_options_works_for_players_too(participant_client):
    response = participant_client.options(URL)

    assert response.status_code == 200
    assert response.json()["name"]
