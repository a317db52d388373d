from __future__ import annotations

import csv
import io
import uuid

import pytest

from contests.models import Contest
from contests.services import participant_register
from leaderboard.services import final_standings_write
from tests.conftest import client_for
from tests.factories import staff_user
from tests.leaderboard.conftest import active_contest, answer, at, join

pytestmark = pytest.mark.django_db


@pytest.fixture
def contest(participant, committed):
    """Running; the `participant` user (Player One) has 300 points, in second place."""
    contest = active_contest()
    question = contest.ordered_questions()[0]
    me, _ = committed(participant_register, contest_id=contest.pk, user=participant)
    answer(me, question, points=300)
    for i, points in enumerate([900, 100]):
        answer(join(contest, f"P{i}", registered_at=at(i)), question, points=points)
    return contest


def url(contest_id: object, limit: object = None) -> str:
    query = "" if limit is None else f"?limit={limit}"
    return f"/api/contests/{contest_id}/leaderboard/{query}"


def csv_url(contest_id: object) -> str:
    return f"/api/contests/{contest_id}/standings.csv"


def complete(contest: Contest) -> None:
    Contest.objects.filter(pk=contest.pk).update(status=Contest.Status.COMPLETED)
    final_standings_write(contest_id=contest.pk)


# --- GET /api/contests/{id}/leaderboard/ ----------------------------------------------------


def test_it_shows_the_live_board_with_my_own_rank(contest, participant_client):
    response = participant_client.get(url(contest.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["contest_id"] == str(contest.pk)
    assert body["status"] == "active"
    assert [(e["rank"], e["display_name"], e["score"]) for e in body["top"]] == [
        (1, "P0", 900),
        (2, "Player One", 300),
        (3, "P1", 100),
    ]
    assert body["total_participants"] == 3
    assert body["you"] == {"rank": 2, "score": 300}


def test_it_follows_new_answers_while_the_contest_runs(contest, participant_client):
    answer(join(contest, "Fast"), contest.ordered_questions()[0], points=1000)

    body = participant_client.get(url(contest.pk)).json()

    assert body["top"][0]["display_name"] == "Fast"
    assert body["you"] == {"rank": 3, "score": 300}


def test_it_shows_the_final_standings_once_the_contest_completed(
    contest, participant_client, redis_client
):
    complete(contest)
    redis_client.flushdb()

    body = participant_client.get(url(contest.pk)).json()

    assert body["status"] == "completed"
    assert [e["display_name"] for e in body["top"]] == ["P0", "Player One", "P1"]
    assert body["you"] == {"rank": 2, "score": 300}


def test_anonymous_visitors_see_the_board_without_a_rank(contest, api_client):
    response = api_client.get(url(contest.pk))

    assert response.status_code == 200
    assert response.json()["you"] is None
    assert len(response.json()["top"]) == 3


def test_a_user_who_does_not_play_gets_no_rank(contest, outsider_client):
    assert outsider_client.get(url(contest.pk)).json()["you"] is None


def test_it_shows_ten_places_by_default_and_at_most_the_limit(contest, participant_client):
    for i in range(12):
        join(contest, f"Extra {i}", registered_at=at(100 + i))

    assert len(participant_client.get(url(contest.pk)).json()["top"]) == 10
    assert len(participant_client.get(url(contest.pk, 1)).json()["top"]) == 1
    assert len(participant_client.get(url(contest.pk, 100)).json()["top"]) == 15


@pytest.mark.parametrize("limit", [0, -1, 101, "ten", "1.5", "1e3"])
def test_it_rejects_a_bad_limit_with_a_field_error(contest, participant_client, limit):
    response = participant_client.get(url(contest.pk, limit))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert list(body["errors"]) == ["limit"]


@pytest.mark.parametrize("contest_id", [uuid.uuid4(), "not-a-uuid"])
def test_it_answers_404_for_an_unknown_contest(participant_client, contest_id):
    response = participant_client.get(url(contest_id))

    assert response.status_code == 404
    assert response.json()["code"] == "CONTEST_NOT_FOUND"


def test_a_bad_token_is_refused_rather_than_treated_as_anonymous(contest, api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")

    assert api_client.get(url(contest.pk)).status_code == 401


# --- GET /api/contests/{id}/standings.csv ---------------------------------------------------


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_staff_download_every_final_standing_as_csv(contest, organizer_client, participant):
    complete(contest)

    response = organizer_client.get(csv_url(contest.pk))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"standings-{contest.pk}.csv" in response["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header == [
        "rank",
        "participant_id",
        "user_id",
        "username",
        "display_name",
        "score",
        "correct_count",
        "total_response_ms",
        "registered_at",
        "removed_at",
    ]
    assert [(r[0], r[4], r[5], r[6], r[7]) for r in rows] == [
        ("1", "P0", "900", "1", "1000"),
        ("2", "Player One", "300", "1", "1000"),
        ("3", "P1", "100", "1", "1000"),
    ]
    me = contest.participants.get(user=participant)
    assert rows[1][1:4] == [str(me.pk), str(participant.pk), "player"]
    assert rows[0][8] == "2030-01-01T12:00:00.000Z"


def test_the_csv_answers_with_json_errors_even_to_a_csv_client(contest, organizer_client):
    response = organizer_client.get(csv_url(contest.pk), HTTP_ACCEPT="text/csv")

    assert response.status_code == 409
    assert response.json()["code"] == "CONTEST_NOT_COMPLETED"


def test_the_csv_neutralises_names_a_spreadsheet_would_run_as_formulas(contest, organizer_client):
    join(contest, "=HYPERLINK(1)", registered_at=at(50))
    complete(contest)

    rows = read_csv(organizer_client.get(csv_url(contest.pk)))

    assert rows[-1][4] == "'=HYPERLINK(1)"


def test_the_csv_is_refused_before_the_contest_completes(contest, organizer_client):
    response = organizer_client.get(csv_url(contest.pk))

    assert response.status_code == 409
    assert response.json()["code"] == "CONTEST_NOT_COMPLETED"


def test_the_csv_of_an_unknown_contest_is_404(organizer_client):
    assert organizer_client.get(csv_url(uuid.uuid4())).status_code == 404


def test_the_csv_requires_authentication(contest, api_client):
    complete(contest)

    response = api_client.get(csv_url(contest.pk))

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_the_csv_is_for_staff_only(contest, participant_client):
    complete(contest)

    response = participant_client.get(csv_url(contest.pk))

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_the_csv_needs_the_permission_to_view_contests(contest, api_client):
    complete(contest)
    without = client_for(staff_user())
    with_it = client_for(staff_user("contests.view_contest"))

    assert without.get(csv_url(contest.pk)).status_code == 403
    assert with_it.get(csv_url(contest.pk)).status_code == 200
