"""What the live leaderboard shows: a freeze of the last questions (one frozen update,
then nothing until the final standings) and a hidden board (nothing but the final
standings), to players on real sockets, over REST and in contest_state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contests.models import Contest
from contests.services import (
    contest_start,
    contest_tick,
    participant_register,
    question_skip,
    submission_create,
)
from tests.conftest import client_for
from tests.factories import UserFactory, contest_with_questions, open_question
from tests.fairplay.conftest import beat_flush, db, played, player_on
from tests.realtime.conftest import run

pytestmark = pytest.mark.django_db(transaction=True)


def open_next(contest: Contest) -> None:
    """The intermission's end, as the clock sees it."""
    contest = Contest.objects.get(pk=contest.pk)
    contest_tick(now=contest.next_question_at)


def rest_board(contest: Contest, user) -> dict:
    return client_for(user).get(f"/api/contests/{contest.pk}/leaderboard/").json()


def scores(board: dict) -> dict[str, int]:
    """Name → score, from a WebSocket board (camelCase) or a REST one (snake_case)."""
    return {e.get("displayName", e.get("display_name")): e["score"] for e in board["top"]}


@pytest.mark.e2e
def test_the_board_freezes_for_the_last_questions_and_the_end_reveals_it(web_server):
    contest = contest_with_questions(questions=4, leaderboard_freeze_last=2)
    questions = played(contest)
    ada, bob = UserFactory(display_name="Ada"), UserFactory(display_name="Bob")
    picks = {0: ("A", "B"), 1: ("B", "A"), 2: ("A", "A"), 3: ("A", "B")}

    async def scenario():
        async with player_on(web_server, ada) as a, player_on(web_server, bob) as b:
            await a.join(contest)
            await b.join(contest)
            await db(contest_start)(contest_id=contest.pk)
            rest, results = {}, []
            for i, question in enumerate(questions):
                if i:
                    await db(open_next)(contest)
                await a.event("question_broadcast")
                await db(beat_flush)()  # Q3: the freeze has begun: one update
                for player, pick in zip((a, b), picks[i], strict=True):
                    await player.answer(contest, question, pick)
                await db(beat_flush)()  # answers of an open question: nothing
                if i == 2:
                    rest["frozen"] = await db(rest_board)(contest, ada)
                    state = (await a.request("resync", {"contestId": str(contest.pk)}))["data"]
                await db(question_skip)(contest_id=contest.pk)
                change = await a.event("question_change")
                results.append(change["data"]["yourResult"])
                await db(beat_flush)()  # Q1, Q2: the close moves the board
            end = await a.event("contest_end")
            return rest, state, results, end, a.room_events("leaderboard_update")

    rest, state, results, end, updates = run(scenario)
    # Q1 and Q2 each moved the board when they closed; Q3's opening froze it as it was.
    assert [u["data"]["frozen"] for u in updates] == [False, False, False, True]
    first, after_q1, after_q2, frozen = (u["data"] for u in updates)
    assert set(scores(first).values()) == {0}
    assert scores(after_q1)["Bob"] == 0 < scores(after_q1)["Ada"]
    assert scores(after_q2)["Bob"] > 0
    assert frozen["top"] == after_q2["top"]
    assert frozen["you"] == after_q2["you"]
    # While frozen: the REST board and contest_state say so, and show the frozen scores.
    assert rest["frozen"]["frozen"] is True
    assert scores(rest["frozen"]) == scores(after_q2)
    assert state["leaderboard"]["frozen"] is True
    assert scores(state["leaderboard"]) == scores(after_q2)
    assert state["rules"]["leaderboardFreezeLast"] == 2
    # Each player's own result keeps coming, with their real total.
    assert [r["isCorrect"] for r in results] == [True, False, True, True]
    assert results[3]["totalScore"] == sum(r["pointsAwarded"] for r in results)
    assert results[3]["totalScore"] > scores(frozen)["Ada"]
    # The end reveals everything.
    final = {e["displayName"]: e["score"] for e in end["data"]["finalLeaderboard"]}
    assert final["Ada"] == results[3]["totalScore"]
    assert end["data"]["you"]["score"] == results[3]["totalScore"]


@pytest.mark.e2e
def test_a_hidden_board_shows_players_nothing_until_the_final_standings(web_server, organizer):
    contest = contest_with_questions(questions=2, leaderboard_visible=False)
    questions = played(contest)
    ada, bob = UserFactory(display_name="Ada"), UserFactory(display_name="Bob")

    async def scenario():
        async with player_on(web_server, ada) as a, player_on(web_server, bob) as b:
            joined = await a.join(contest)
            await b.join(contest)
            await db(contest_start)(contest_id=contest.pk)
            views = {}
            for i, question in enumerate(questions):
                if i:
                    await db(open_next)(contest)
                await a.event("question_broadcast")
                await a.answer(contest, question, "A")
                await b.answer(contest, question, "B")
                await db(question_skip)(contest_id=contest.pk)
                await a.event("question_change")
                await db(beat_flush)()
                if i == 0:
                    views["player"] = await db(rest_board)(contest, bob)
                    views["organizer"] = await db(rest_board)(contest, organizer)
                    views["state"] = (await b.request("resync", {"contestId": str(contest.pk)}))[
                        "data"
                    ]
            end = await a.event("contest_end")
            return joined, views, end, a.room_events("leaderboard_update")

    joined, views, end, updates = run(scenario)
    assert updates == []
    assert (joined["leaderboard"], joined["you"]) == (None, None)
    assert joined["rules"]["leaderboardVisible"] is False
    assert (views["state"]["leaderboard"], views["state"]["you"]) == (None, None)
    player = views["player"]
    assert (player["visible"], player["top"], player["you"]) == (False, [], None)
    assert player["total_participants"] == 2
    assert {e["display_name"]: e["score"] for e in views["organizer"]["top"]}["Bob"] == 0
    assert views["organizer"]["top"][0]["display_name"] == "Ada"
    assert [e["displayName"] for e in end["data"]["finalLeaderboard"]] == ["Ada", "Bob"]
    assert end["data"]["you"]["rank"] == 1
    # Once completed, the final standings are everyone's to see.
    assert [e["display_name"] for e in rest_board(contest, bob)["top"]] == ["Ada", "Bob"]


def test_answers_revealed_at_once_stop_moving_the_board_in_the_frozen_zone():
    contest = contest_with_questions(
        questions=2, answer_reveal="immediate", leaderboard_freeze_last=1
    )
    users = [UserFactory(display_name=n) for n in ("Ada", "Bob")]
    for user in users:
        participant_register(contest_id=contest.pk, user=user)

    def answer(index: int, user) -> int:
        question = contest.ordered_questions()[index - 1]
        outcome = submission_create(
            contest_id=contest.pk,
            question_id=question.pk,
            user=user,
            answer=str(question.choices.get(text="A").pk),
        )
        return outcome.total_score

    # Started "in 5 s": every answer is timed at 0 ms and gets its full 1000 points.
    open_question(contest, index=1, started_at=timezone.now() + timedelta(seconds=5))
    first = answer(1, users[0])
    moving = rest_board(contest, users[1])
    open_question(contest, index=2, started_at=timezone.now() + timedelta(seconds=5))
    second = answer(2, users[0])
    frozen = rest_board(contest, users[1])

    # Revealed at once: the reply has the real total, the board moved at once for Q1...
    assert (first, second) == (1000, 2000)
    assert (moving["frozen"], scores(moving)["Ada"]) == (False, 1000)
    # ...but not for the last question, in the frozen zone.
    assert (frozen["frozen"], scores(frozen)["Ada"]) == (True, 1000)
