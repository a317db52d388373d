"""POST /api/contests/{id}/{start,end,cancel,pause,resume,skip}/: the organizer controls."""

import uuid

import pytest

from contests import services
from contests.models import Contest
from tests.conftest import client_for
from tests.factories import ContestFactory, contest_with_questions, staff_user

pytestmark = pytest.mark.django_db

ACTIONS = ["start", "end", "cancel", "pause", "resume", "skip"]


def post(client, contest: Contest, action: str):
    return client.post(f"/api/contests/{contest.id}/{action}/")


@pytest.fixture
def upcoming() -> Contest:
    return contest_with_questions(questions=2)


@pytest.fixture
def active(upcoming) -> Contest:
    return services.contest_start(contest_id=upcoming.pk)


def reloaded(contest: Contest) -> Contest:
    return Contest.objects.get(pk=contest.pk)


def test_start_opens_the_first_question(organizer_client, upcoming):
    response = post(organizer_client, upcoming, "start")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active"
    assert body["current_question_index"] == 1
    assert body["question_open"] is True
    assert body["questions"][0]["is_live"] is True


def test_start_answers_409_for_a_contest_without_questions(organizer_client):
    contest = ContestFactory()

    response = post(organizer_client, contest, "start")

    assert response.status_code == 409
    assert response.json()["code"] == "CONTEST_HAS_NO_QUESTIONS"
    assert reloaded(contest).status == "upcoming"


def test_start_answers_409_for_a_contest_already_running(organizer_client, active):
    response = post(organizer_client, active, "start")

    assert response.status_code == 409
    assert response.json()["code"] == "INVALID_TRANSITION"


def test_end_completes_a_running_contest(organizer_client, active):
    response = post(organizer_client, active, "end")

    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert reloaded(active).ended_at is not None


def test_end_answers_409_for_an_upcoming_contest(organizer_client, upcoming):
    response = post(organizer_client, upcoming, "end")

    assert response.status_code == 409
    assert response.json()["code"] == "INVALID_TRANSITION"
    assert reloaded(upcoming).status == "upcoming"


def test_cancel_calls_off_an_upcoming_contest(organizer_client, upcoming):
    response = post(organizer_client, upcoming, "cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_cancel_answers_409_for_a_completed_contest(organizer_client):
    contest = ContestFactory(status="completed")

    assert post(organizer_client, contest, "cancel").status_code == 409


def test_pause_and_resume_stop_and_restart_the_clock(organizer_client, active):
    paused = post(organizer_client, active, "pause")
    assert paused.status_code == 200
    assert paused.json()["paused_at"] is not None

    resumed = post(organizer_client, active, "resume")
    assert resumed.status_code == 200
    assert resumed.json()["paused_at"] is None
    assert resumed.json()["question_open"] is True


def test_resume_answers_409_when_not_paused(organizer_client, active):
    response = post(organizer_client, active, "resume")

    assert response.status_code == 409
    assert response.json()["code"] == "INVALID_TRANSITION"


def test_pause_answers_409_for_an_upcoming_contest(organizer_client, upcoming):
    assert post(organizer_client, upcoming, "pause").status_code == 409


def test_skip_closes_the_open_question(organizer_client, active):
    response = post(organizer_client, active, "skip")

    assert response.status_code == 200
    body = response.json()
    assert body["question_open"] is False
    assert body["current_question_index"] == 1
    assert body["next_question_at"] is not None


def test_skip_answers_409_when_no_question_is_open(organizer_client, upcoming):
    assert post(organizer_client, upcoming, "skip").status_code == 409


@pytest.mark.parametrize("action", ACTIONS)
def test_controls_are_for_staff_only(participant_client, upcoming, action):
    response = post(participant_client, upcoming, action)

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    assert reloaded(upcoming).status == "upcoming"


@pytest.mark.parametrize("action", ACTIONS)
def test_controls_need_the_change_permission_not_just_staff(upcoming, action):
    viewer = client_for(staff_user("contests.view_contest", "contests.add_contest"))

    response = post(viewer, upcoming, action)

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    assert reloaded(upcoming).status == "upcoming"


def test_the_change_permission_is_enough_to_run_a_contest(upcoming):
    organizer = client_for(staff_user("contests.change_contest"))

    assert post(organizer, upcoming, "start").status_code == 200
    assert post(organizer, upcoming, "end").status_code == 200
    assert reloaded(upcoming).status == "completed"


@pytest.mark.parametrize("action", ACTIONS)
def test_controls_require_authentication(api_client, upcoming, action):
    assert post(api_client, upcoming, action).status_code == 401


@pytest.mark.parametrize("action", ACTIONS)
def test_controls_answer_an_unknown_contest_with_404(organizer_client, action):
    response = organizer_client.post(f"/api/contests/{uuid.uuid4()}/{action}/")

    assert response.status_code == 404
    assert response.json()["code"] == "CONTEST_NOT_FOUND"


def test_controls_take_post_only(organizer_client, upcoming):
    response = organizer_client.get(f"/api/contests/{upcoming.id}/start/")

    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
