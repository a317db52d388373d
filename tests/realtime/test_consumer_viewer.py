"""Staff viewers: the host screen joins a contest's room without becoming a player."""

from __future__ import annotations

import pytest

from contests.models import Participant
from contests.services import participant_register
from tests.factories import contest_with_questions, open_question, staff_user
from tests.realtime.conftest import connected, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_organizer_joins_as_a_viewer_and_is_not_registered(organizer, participant):
    contest = contest_with_questions(questions=2)
    participant_register(contest_id=contest.pk, user=participant)

    async def scenario():
        async with connected(organizer) as client:
            return await client.join(contest.pk)

    state = run(scenario)
    assert (state["status"], state["phase"]) == ("upcoming", "waiting")
    assert state["you"] is None and state["yourSubmission"] is None
    assert state["leaderboard"]["totalParticipants"] == 1
    assert [row["displayName"] for row in state["leaderboard"]["top"]] == ["Player One"]
    assert not Participant.objects.filter(contest=contest, user=organizer).exists()


def test_a_viewer_sees_the_open_question_but_cannot_answer_it(organizer):
    contest = open_question(contest_with_questions(questions=2), index=1)
    question = contest.ordered_questions()[0]
    answer = {
        "contestId": str(contest.pk),
        "questionId": str(question.pk),
        "answer": str(question.choices.get(text="A").pk),
    }

    async def scenario():
        async with connected(organizer) as client:
            state = await client.join(contest.pk)
            return state, await client.request("submit_answer", answer)

    state, reply = run(scenario)
    assert state["currentQuestion"]["questionId"] == str(question.pk)
    assert (reply["event"], reply["data"]["code"]) == ("error", "NOT_REGISTERED")


def test_a_viewer_may_watch_a_contest_that_requires_registration(organizer):
    contest = contest_with_questions(questions=1, requires_registration=True)

    async def scenario():
        async with connected(organizer) as client:
            return await client.join(contest.pk)

    assert run(scenario)["you"] is None


def test_a_registered_organizer_plays_like_anyone(organizer):
    contest = contest_with_questions(questions=1)
    participant_register(contest_id=contest.pk, user=organizer)

    async def scenario():
        async with connected(organizer) as client:
            return await client.join(contest.pk)

    assert run(scenario)["you"] == {"rank": 1, "score": 0}


def test_staff_without_the_view_permission_join_as_players():
    contest = contest_with_questions(questions=1)
    helper = staff_user(display_name="Helper")

    async def scenario():
        async with connected(helper) as client:
            return await client.join(contest.pk)

    assert run(scenario)["you"] == {"rank": 1, "score": 0}
    assert Participant.objects.filter(contest=contest, user=helper).exists()
