"""POST /api/contests/{id}/register/"""

import uuid

import pytest

from contests.models import Participant
from tests.factories import ContestFactory, ParticipantFactory

pytestmark = pytest.mark.django_db


def url(contest) -> str:
    return f"/api/contests/{contest.id}/register/"


def test_it_registers_the_user_with_their_display_name(participant_client, participant):
    contest = ContestFactory()

    response = participant_client.post(url(contest))

    assert response.status_code == 201
    body = response.json()
    assert body["contest_id"] == str(contest.id)
    assert body["display_name"] == "Player One"
    assert Participant.objects.get(pk=body["id"]).user == participant


def test_it_takes_a_display_name_for_this_contest(participant_client):
    response = participant_client.post(
        url(ContestFactory()), {"display_name": "Ace"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["display_name"] == "Ace"


def test_it_answers_200_with_the_same_participant_when_already_registered(participant_client):
    contest = ContestFactory()
    first = participant_client.post(url(contest)).json()

    response = participant_client.post(url(contest))

    assert response.status_code == 200
    assert response.json()["id"] == first["id"]
    assert Participant.objects.count() == 1


def test_it_takes_late_joiners_of_an_active_contest(participant_client):
    assert participant_client.post(url(ContestFactory(status="active"))).status_code == 201


def test_it_answers_409_when_the_contest_is_full(participant_client):
    contest = ContestFactory(max_participants=1)
    ParticipantFactory(contest=contest)

    response = participant_client.post(url(contest))

    assert response.status_code == 409
    assert response.json()["code"] == "CONTEST_FULL"


@pytest.mark.parametrize("status", ["completed", "cancelled"])
def test_it_answers_409_when_the_contest_is_over(participant_client, status):
    response = participant_client.post(url(ContestFactory(status=status)))

    assert response.status_code == 409
    assert response.json()["code"] == "CONTEST_NOT_ACTIVE"
    assert Participant.objects.count() == 0


@pytest.mark.parametrize("display_name", ["", "x" * 51, ["Ace"], None])
def test_it_rejects_a_bad_display_name(participant_client, display_name):
    response = participant_client.post(
        url(ContestFactory()), {"display_name": display_name}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["display_name"]


def test_it_answers_an_unknown_contest_with_404(participant_client):
    response = participant_client.post(f"/api/contests/{uuid.uuid4()}/register/")

    assert response.status_code == 404
    assert response.json()["code"] == "CONTEST_NOT_FOUND"


def test_it_requires_authentication(api_client):
    assert api_client.post(url(ContestFactory())).status_code == 401
