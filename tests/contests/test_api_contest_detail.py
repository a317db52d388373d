"""GET /api/contests/{id}/: what each viewer may see of the questions."""

import uuid

import pytest

from contests.models import Contest
from contests.services import contest_end_now
from tests.factories import ContestFactory, ParticipantFactory, contest_of_every_type

pytestmark = pytest.mark.django_db


def url(contest) -> str:
    return f"/api/contests/{contest.id}/"


def set_live_state(contest: Contest, *, status: str, index: int = 0, open_: bool = False) -> None:
    Contest.objects.filter(pk=contest.pk).update(
        status=status, current_question_index=index, question_open=open_
    )


def has_answers(question: dict) -> bool:
    return "correct_answer" in question or any("is_correct" in c for c in question["choices"])


def test_it_shows_a_participant_no_question_of_an_upcoming_contest(participant_client):
    contest = contest_of_every_type()

    body = participant_client.get(url(contest)).json()

    assert body["status"] == "upcoming"
    assert len(body["questions"]) == 4
    assert body["questions"][0] == {
        "index": 1,
        "points": 1000,
        "time_limit_seconds": 10,
        "is_live": False,
        "is_closed": False,
    }
    assert body["estimated_duration_seconds"] == 4 * 10 + 3 * 1
    assert body["is_registered"] is False


def test_it_shows_the_open_question_without_its_answer(participant_client):
    contest = contest_of_every_type()
    set_live_state(contest, status="active", index=2, open_=True)

    questions = participant_client.get(url(contest)).json()["questions"]

    closed, open_, *later = questions
    assert closed["is_closed"] and has_answers(closed)
    assert closed["correct_answer"] == str(contest.ordered_questions()[0].ordered_choices()[0].id)
    assert open_["is_live"] and not open_["is_closed"]
    assert open_["text"] and [c["text"] for c in open_["choices"]] == ["2", "3", "4"]
    assert not has_answers(open_)
    assert all("text" not in q and "id" not in q for q in later)


def test_it_reveals_the_answer_once_the_current_question_has_closed(participant_client):
    contest = contest_of_every_type()
    set_live_state(contest, status="active", index=3, open_=False)

    numeric = participant_client.get(url(contest)).json()["questions"][2]

    assert numeric["is_closed"]
    assert numeric["correct_answer"] == 3.14
    assert "numeric_answer" not in numeric


def test_it_reveals_every_answer_of_a_completed_contest(participant_client):
    contest = contest_of_every_type()
    set_live_state(contest, status="completed", index=4)

    questions = participant_client.get(url(contest)).json()["questions"]

    assert [q["correct_answer"] for q in questions[2:]] == [3.14, "Paris"]
    assert all(q["is_closed"] for q in questions)


def test_after_an_early_end_the_questions_never_asked_stay_unshown(participant_client):
    contest = contest_of_every_type()
    set_live_state(contest, status="active", index=2, open_=True)

    contest_end_now(contest_id=contest.pk)
    questions = participant_client.get(url(contest)).json()["questions"]

    assert [(q["is_live"], q["is_closed"]) for q in questions] == [(True, True)] * 2 + [
        (False, False)
    ] * 2
    assert all(not {"text", "choices", "correct_answer"} & set(q) for q in questions[2:])


def test_it_shows_no_question_of_a_cancelled_contest(participant_client):
    contest = contest_of_every_type()
    set_live_state(contest, status="cancelled", index=2)

    questions = participant_client.get(url(contest)).json()["questions"]

    assert not any("text" in q for q in questions)


def test_it_shows_staff_everything_before_the_start(organizer_client):
    contest = contest_of_every_type()

    questions = organizer_client.get(url(contest)).json()["questions"]

    assert [q["is_live"] for q in questions] == [False] * 4
    single, multi, numeric, text = questions
    assert [c["is_correct"] for c in multi["choices"]] == [True, True, False]
    assert numeric["numeric_answer"] == 3.14
    assert numeric["numeric_tolerance"] == 0.01
    assert text["accepted_answers"] == ["Paris"]
    assert single["order"] == 1


def test_it_says_whether_the_viewer_is_registered(participant_client, participant):
    contest = ContestFactory()
    ParticipantFactory(contest=contest, user=participant)

    body = participant_client.get(url(contest)).json()

    assert body["is_registered"] is True
    assert body["participant_count"] == 1


def test_it_answers_an_unknown_contest_with_404(participant_client):
    response = participant_client.get(f"/api/contests/{uuid.uuid4()}/")

    assert response.status_code == 404
    assert response.json()["code"] == "CONTEST_NOT_FOUND"


def test_it_answers_a_malformed_contest_id_with_404(participant_client):
    response = participant_client.get("/api/contests/not-a-uuid/")

    assert response.status_code == 404
    assert response.json()["code"] == "CONTEST_NOT_FOUND"


def test_it_requires_authentication(api_client):
    response = api_client.get(url(ContestFactory()))

    assert response.status_code == 401
