"""Reveal on close (the default) against immediate reveal: what each player learns, and
when, on real sockets served by uvicorn; and that nothing a player can get while a
question is open gives away a grade or a score of that question."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contests.models import Contest
from contests.services import contest_start, question_skip
from tests.conftest import client_for
from tests.factories import UserFactory, contest_with_questions
from tests.fairplay.conftest import beat_flush, db, played, player_on
from tests.realtime.conftest import run

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def rest_views(contest: Contest, user) -> dict[str, Any]:
    """Every REST response about the contest a player can get."""
    client = client_for(user)
    return {
        "leaderboard": client.get(f"/api/contests/{contest.pk}/leaderboard/").json(),
        "detail": client.get(f"/api/contests/{contest.pk}/").json(),
        "list": client.get("/api/contests/").json(),
    }


@pytest.mark.parametrize("reveal", ["on_close", "immediate"])
def test_two_players_learn_their_grades_as_the_mode_says(web_server, reveal):
    contest = contest_with_questions(questions=2, answer_reveal=reveal)
    q1 = played(contest)[0]
    ada, bob = UserFactory(display_name="Ada"), UserFactory(display_name="Bob")

    async def scenario():
        async with player_on(web_server, ada) as a, player_on(web_server, bob) as b:
            await a.join(contest)
            await b.join(contest)
            await db(contest_start)(contest_id=contest.pk)
            await a.event("question_broadcast")
            await b.event("question_broadcast")
            right = await a.answer(contest, q1, "A")
            wrong = await b.answer(contest, q1, "B")
            await db(beat_flush)()
            open_board = await b.event("leaderboard_update")
            state = (await b.request("resync", {"contestId": str(contest.pk)}))["data"]
            rest = await db(rest_views)(contest, bob)
            await db(question_skip)(contest_id=contest.pk)
            changes = [await p.event("question_change") for p in (a, b)]
            if reveal == "on_close":
                # The close brings the answers to the board; the next flush sends it.
                await db(beat_flush)()
                closed_board = await a.event("leaderboard_update")
            else:
                # The board moved as the answers came; the close changed nothing.
                closed_board = a.room_events("leaderboard_update")[-1]
            return right, wrong, open_board, state, rest, changes, closed_board

    right, wrong, open_board, state, rest, changes, closed_board = run(scenario)
    points = right["data"]["pointsAwarded"] if reveal == "immediate" else None
    if reveal == "on_close":
        for reply in (right, wrong):
            assert reply["event"] == "submission_result"
            assert reply["data"]["accepted"] is True
            assert reply["data"]["responseTimeMs"] >= 0
            assert (
                reply["data"]["isCorrect"],
                reply["data"]["pointsAwarded"],
                reply["data"]["totalScore"],
            ) == (None, None, None)
        # While the question is open the board has not moved: everyone has 0.
        assert [e["score"] for e in open_board["data"]["top"]] == [0, 0]
        assert state["yourSubmission"]["isCorrect"] is None
        assert state["yourSubmission"]["pointsAwarded"] is None
        assert [e["score"] for e in state["leaderboard"]["top"]] == [0, 0]
        assert [e["score"] for e in rest["leaderboard"]["top"]] == [0, 0]
    else:
        assert (right["data"]["isCorrect"], wrong["data"]["isCorrect"]) == (True, False)
        assert right["data"]["totalScore"] == points > 0
        assert wrong["data"]["pointsAwarded"] == 0
        assert open_board["data"]["top"][0] == {**open_board["data"]["top"][0], "score": points}
        assert state["yourSubmission"]["isCorrect"] is False
    assert state["rules"]["answerReveal"] == reveal
    # The correct answer itself is never out before the close, in either mode.
    detail_q1 = rest["detail"]["questions"][0]
    assert "correct_answer" not in detail_q1
    assert all("is_correct" not in c for c in detail_q1["choices"])

    # At the close, each player gets their own result, in both modes.
    mine, theirs = (c["data"]["yourResult"] for c in changes)
    awarded = mine["pointsAwarded"]
    assert awarded > 0 and (points is None or awarded == points)
    assert mine == {
        "answered": True,
        "isCorrect": True,
        "pointsAwarded": awarded,
        "totalScore": awarded,
        "streak": 1,
    }
    assert theirs == {
        "answered": True,
        "isCorrect": False,
        "pointsAwarded": 0,
        "totalScore": 0,
        "streak": 0,
    }
    assert {**changes[0]["data"], "yourResult": None} == {**changes[1]["data"], "yourResult": None}
    assert [(e["displayName"], e["score"]) for e in closed_board["data"]["top"]] == [
        ("Ada", awarded),
        ("Bob", 0),
    ]
    assert closed_board["data"]["you"] == {"rank": 1, "score": awarded}


def graded_somewhere(frame: dict[str, Any]) -> list[str]:
    """What in a frame gives away a grade or a score, for a question that opened with
    everyone at 0 (so any score above 0 can only come from it)."""
    event, data = frame["event"], frame.get("data") or {}
    found = []
    if event == "submission_result":
        for field in ("isCorrect", "pointsAwarded", "totalScore"):
            if data[field] is not None:
                found.append(f"submission_result.{field}")
    if event == "leaderboard_update":
        boards = [data]
    elif event == "contest_state":
        boards = [data["leaderboard"]] if data["leaderboard"] else []
        mine = data["yourSubmission"]
        if mine and (mine["isCorrect"] is not None or mine["pointsAwarded"] is not None):
            found.append("contest_state.yourSubmission")
    else:
        boards = []
    for board in boards:
        found += [f"{event}.top" for e in board["top"] if e["score"]]
    if event in ("leaderboard_update", "contest_state") and (data.get("you") or {}).get("score"):
        found.append(f"{event}.you")
    if "yourResult" in str(data) and event != "question_change":
        found.append(f"{event}.yourResult")
    return found


PLAYERS = 3
# A step: a player answers (right or wrong), or someone looks at everything they can see.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("answer"), st.integers(0, PLAYERS - 1), st.sampled_from("AB")),
        st.tuples(st.just("flush"), st.just(0), st.just("")),
        st.tuples(st.just("resync"), st.integers(0, PLAYERS - 1), st.just("")),
        st.tuples(st.just("rest"), st.integers(0, PLAYERS - 1), st.just("")),
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_no_frame_before_the_close_reveals_a_grade(web_server, plan):
    """Over random orders of answers (the defaults: reveal on close, early close when
    everyone answered), no frame a player gets before its question_change, and no REST
    response before the close, shows a grade or score of the open question."""
    contest = contest_with_questions(questions=2, close_when_all_answered=True)
    q1 = played(contest)[0]
    users = [UserFactory() for _ in range(PLAYERS)]
    answered: set[int] = set()
    rest_seen: list[dict[str, Any]] = []

    async def scenario():
        async with (
            player_on(web_server, users[0]) as p0,
            player_on(web_server, users[1]) as p1,
            player_on(web_server, users[2]) as p2,
        ):
            players = [p0, p1, p2]
            for p in players:
                await p.join(contest)
            await db(contest_start)(contest_id=contest.pk)
            for p in players:
                await p.event("question_broadcast")
            for action, who, pick in plan:
                if len(answered) == PLAYERS:
                    break  # everyone answered: the question is closing
                if action == "answer" and who not in answered:
                    answered.add(who)
                    reply = await players[who].answer(contest, q1, pick)
                    assert reply["event"] == "submission_result", reply
                elif action == "flush":
                    await db(beat_flush)()
                elif action == "resync":
                    await players[who].request("resync", {"contestId": str(contest.pk)})
                elif action == "rest":
                    rest_seen.append(await db(rest_views)(contest, users[who]))
            if len(answered) < PLAYERS:
                await db(question_skip)(contest_id=contest.pk)
            for p in players:
                await p.event("question_change")
            return [list(p.frames) for p in players]

    frames_of = run(scenario)
    for frames in frames_of:
        close = next(i for i, f in enumerate(frames) if f["event"] == "question_change")
        leaks = [(f["event"], graded_somewhere(f)) for f in frames[:close] if graded_somewhere(f)]
        assert leaks == [], frames[:close]
    for views in rest_seen:
        board = views["leaderboard"]
        assert [e["score"] for e in board["top"]] == [0] * PLAYERS
        assert (board["you"] or {}).get("score", 0) == 0
        assert "correct_answer" not in views["detail"]["questions"][0]


def test_the_early_close_sends_question_change_after_the_last_answers_reply(web_server):
    """The last answer's acknowledgement comes first, then the close it caused."""
    contest = contest_with_questions(questions=2, close_when_all_answered=True)
    q1 = played(contest)[0]
    user = UserFactory()

    async def scenario():
        async with player_on(web_server, user) as p:
            await p.join(contest)
            await db(contest_start)(contest_id=contest.pk)
            await p.event("question_broadcast")
            await p.answer(contest, q1, "A")
            await p.event("question_change")
            return [f["event"] for f in p.frames if f["event"] != "timer_update"]

    events = run(scenario)
    assert events[-2:] == ["submission_result", "question_change"]
