"""GET /api/contests/{id}/participants/: the host screen's list of players, with the
participant ids that removing one needs (docs/API.md)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from contests.models import Contest, Participant
from tests.conftest import client_for
from tests.factories import ParticipantFactory, UserFactory, contest_with_questions, staff_user
from tests.web.test_api import csrf_token, session_client

pytestmark = pytest.mark.django_db


def url(contest: Contest) -> str:
    return f"/api/contests/{contest.pk}/participants/"


def three_players(contest: Contest) -> list[Participant]:
    """Ada, Bo and Cy, registered in that order a second apart; Bo was removed."""
    start = timezone.now() - timedelta(minutes=1)
    ada, bo, cy = (
        ParticipantFactory(
            contest=contest,
            user=UserFactory(display_name=name),
            registered_at=start + timedelta(seconds=i),
        )
        for i, name in enumerate(["Ada", "Bo", "Cy"])
    )
    Participant.objects.filter(pk=bo.pk).update(removed_at=timezone.now())
    return [ada, bo, cy]


def test_staff_get_every_participant_in_registration_order_with_their_ids(organizer):
    contest = contest_with_questions(questions=1)
    ada, bo, cy = three_players(contest)
    ParticipantFactory(display_name="Elsewhere")  # of another contest

    response = client_for(organizer).get(url(contest))

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [str(p.pk) for p in (ada, bo, cy)]
    assert [row["display_name"] for row in body["results"]] == ["Ada", "Bo", "Cy"]
    assert set(body["results"][0]) == {"id", "display_name", "registered_at", "removed_at"}
    assert [row["removed_at"] is not None for row in body["results"]] == [False, True, False]


def test_removed_false_lists_only_the_players_still_in_and_removed_true_the_others(organizer):
    contest = contest_with_questions(questions=1)
    three_players(contest)
    client = client_for(organizer)

    still_in = client.get(url(contest), {"removed": "false"}).json()
    removed = client.get(url(contest), {"removed": "true"}).json()

    assert [row["display_name"] for row in still_in["results"]] == ["Ada", "Cy"]
    assert still_in["count"] == 2
    assert [row["display_name"] for row in removed["results"]] == ["Bo"]


def test_the_list_comes_in_pages(organizer):
    contest = contest_with_questions(questions=1)
    three_players(contest)

    body = client_for(organizer).get(url(contest), {"page_size": 2, "page": 2}).json()

    assert body["count"] == 3
    assert [row["display_name"] for row in body["results"]] == ["Cy"]
    assert body["next"] is None and body["previous"]


def test_a_removed_filter_that_is_no_boolean_is_a_validation_error(organizer):
    contest = contest_with_questions(questions=1)

    response = client_for(organizer).get(url(contest), {"removed": "maybe"})

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert set(response.json()["errors"]) == {"removed"}


@pytest.mark.parametrize("contest_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_an_unknown_contest_is_a_404(organizer, contest_id):
    response = client_for(organizer).get(f"/api/contests/{contest_id}/participants/")

    assert response.status_code == 404
    assert response.json()["code"] == "CONTEST_NOT_FOUND"


def test_players_may_not_list_participants(participant):
    contest = contest_with_questions(questions=1)
    ParticipantFactory(contest=contest, user=participant)

    response = client_for(participant).get(url(contest))

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_staff_need_the_permission_to_view_contests():
    contest = contest_with_questions(questions=1)
    three_players(contest)

    refused = client_for(staff_user()).get(url(contest))
    allowed = client_for(staff_user("contests.view_contest")).get(url(contest))

    assert refused.status_code == 403
    assert allowed.status_code == 200 and allowed.json()["count"] == 3


def test_anonymous_visitors_are_asked_to_sign_in(api_client):
    contest = contest_with_questions(questions=1)

    response = api_client.get(url(contest))

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_the_host_screen_lists_players_and_removes_one_with_the_admin_session(organizer):
    contest = contest_with_questions(questions=1)
    ada, _, cy = three_players(contest)
    client = session_client(organizer)

    listed = client.get(url(contest), {"removed": "false"})
    removed = client.post(f"{url(contest)}{cy.pk}/remove/", HTTP_X_CSRFTOKEN=csrf_token(client))

    assert [row["id"] for row in listed.json()["results"]] == [str(ada.pk), str(cy.pk)]
    assert removed.status_code == 200
    after = client.get(url(contest), {"removed": "false"}).json()
    assert [row["id"] for row in after["results"]] == [str(ada.pk)]


def test_the_schema_describes_the_participant_list(api_client):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    get = paths["/api/contests/{contest_id}/participants/"]["get"]

    assert {"200", "400", "401", "403", "404"} <= set(get["responses"])
    assert {"removed", "page", "page_size"} <= {p["name"] for p in get["parameters"]}
