"""question_change's `yourResult`, filled per recipient by the hub like `you`: one lookup
per event per web process whatever the number of sockets, replayed events filled too,
and the intermission's contest_state carrying it; the presence registry it relies on for
early closes."""

from __future__ import annotations

import asyncio

import pytest

from contests import selectors
from contests.models import Contest
from contests.services import participant_register, question_skip, submission_create
from realtime.outbound import personalize, presence
from tests.factories import UserFactory, contest_with_questions, open_question
from tests.fairplay.conftest import db
from tests.realtime.conftest import connected, run

pytestmark = pytest.mark.django_db(transaction=True)


def answered_contest() -> tuple[Contest, list]:
    """Question 1 open: Ada right, Bob wrong, Cy silent."""
    contest = open_question(contest_with_questions(questions=2), index=1)
    users = [UserFactory(display_name=n) for n in ("Ada", "Bob", "Cy")]
    question = contest.ordered_questions()[0]
    for user in users:
        participant_register(contest_id=contest.pk, user=user)
    for user, text in zip(users, "AB", strict=False):
        submission_create(
            contest_id=contest.pk,
            question_id=question.pk,
            user=user,
            answer=str(question.choices.get(text=text).pk),
        )
    return contest, users


def test_each_socket_gets_its_own_result_from_one_lookup(monkeypatch):
    contest, users = answered_contest()
    lookups = []
    real = selectors.question_results

    def counted(**kwargs):
        lookups.append(sorted(kwargs["participant_ids"]))
        return real(**kwargs)

    monkeypatch.setattr(personalize, "question_results", counted)

    async def scenario():
        async with (
            connected(users[0]) as ada,
            connected(users[0]) as ada_again,
            connected(users[1]) as bob,
            connected(users[2]) as cy,
        ):
            clients = (ada, ada_again, bob, cy)
            for client in clients:
                await client.join(contest.pk)
            await db(question_skip)(contest_id=contest.pk)
            return [(await c.receive_event("question_change"))["data"] for c in clients]

    ada, ada_again, bob, cy = run(scenario)
    assert len(lookups) == 1 and len(lookups[0]) == 3
    assert ada["yourResult"] == ada_again["yourResult"]
    assert (ada["yourResult"]["isCorrect"], ada["yourResult"]["streak"]) == (True, 1)
    assert ada["yourResult"]["pointsAwarded"] == ada["yourResult"]["totalScore"] > 0
    assert bob["yourResult"] == {
        "answered": True,
        "isCorrect": False,
        "pointsAwarded": 0,
        "totalScore": 0,
        "streak": 0,
    }
    assert cy["yourResult"] == {
        "answered": False,
        "isCorrect": None,
        "pointsAwarded": 0,
        "totalScore": 0,
        "streak": 0,
    }
    assert {**ada, "yourResult": None} == {**bob, "yourResult": None}


def test_a_replayed_question_change_carries_your_result_and_so_does_the_intermission():
    contest, users = answered_contest()

    async def scenario():
        async with connected(users[1]) as bob:
            state = await bob.join(contest.pk)
        await db(question_skip)(contest_id=contest.pk)
        async with connected(users[1]) as bob:
            cursor = {
                "contestId": str(contest.pk),
                "epoch": state["epoch"],
                "lastSeq": state["seq"],
            }
            await bob.send("resync", cursor)
            # The close also moves the live board, so a leaderboard_update may be replayed
            # around the question_change; the replay ends with resync_complete.
            events = []
            while not events or events[-1]["event"] != "resync_complete":
                events.append(await bob.receive())
            (replayed,) = [e for e in events if e["event"] == "question_change"]
            fresh = await bob.request("resync", {"contestId": str(contest.pk)})
            return replayed, fresh["data"]

    replayed, fresh = run(scenario)
    assert replayed["data"]["yourResult"]["isCorrect"] is False
    assert fresh["phase"] == "intermission"
    assert fresh["lastQuestionChange"]["yourResult"] == replayed["data"]["yourResult"]
    assert fresh["yourSubmission"]["isCorrect"] is False  # closed: graded now


def test_the_room_registry_counts_a_participant_once_and_forgets_a_dead_process(monkeypatch):
    contest = contest_with_questions(questions=1)
    cid = str(contest.pk)

    async def scenario():
        await presence.ajoin(cid, "p1", "hub-a")
        await presence.ajoin(cid, "p1", "hub-b")  # the same player on another process
        await presence.ajoin(cid, "p2", "hub-a")
        both = await asyncio.to_thread(presence.joined_participants, contest_id=cid)
        await presence.aleave(cid, "p1", "hub-a")
        still = await asyncio.to_thread(presence.joined_participants, contest_id=cid)
        return both, still

    both, still = run(scenario)
    assert both == {"p1", "p2"}
    assert still == {"p1", "p2"}  # still there through hub-b

    # A process that stopped refreshing its entries: they expire.
    monkeypatch.setattr(presence, "TTL_SECONDS", 0.2)

    async def crashed():
        await presence.ajoin(cid, "p3", "hub-dead")
        await asyncio.sleep(0.4)
        return await asyncio.to_thread(presence.joined_participants, contest_id=cid)

    assert "p3" not in run(crashed)


def test_everyone_answered_needs_someone_in_the_room(settings):
    contest = contest_with_questions(questions=1)
    cid = str(contest.pk)
    for redis_url in (settings.REDIS_URL, ""):  # Redis, then the embedded mode's memory
        settings.REDIS_URL = redis_url
        assert (
            presence.all_joined_answered(contest_id=cid, question_id="q", answered_by="p1") is False
        )

        async def enter():
            await presence.ajoin(cid, "p1", "hub")
            await presence.ajoin(cid, "p2", "hub")

        run(enter)
        assert presence.all_joined_answered(contest_id=cid, question_id="q") is False
        assert presence.all_joined_answered(contest_id=cid, question_id="q", answered_by="p2")
        presence.question_opened(contest_id=cid, question_id="q")

        async def leaving():
            await presence.aleave(cid, "p2", "hub")
            return await presence.aall_joined_answered(cid)

        assert run(leaving) is True  # p1 answered, p2 left
        presence.question_opened(contest_id=cid, question_id=None)

        async def after_close():
            return await presence.aall_joined_answered(cid)

        assert run(after_close) is False


def test_one_idle_player_holds_the_question_until_they_leave():
    """The room check remembers who has not answered (so a spectator who never answers
    costs one lookup per answer, not a scan of the room) and looks again once they left."""
    contest = contest_with_questions(questions=1)
    cid = str(contest.pk)
    players = [f"p{i:02}" for i in range(20)]

    async def enter():
        for pid in [*players, "zz-idle"]:
            await presence.ajoin(cid, pid, "hub")

    run(enter)
    results = [
        presence.all_joined_answered(contest_id=cid, question_id="q", answered_by=pid)
        for pid in players
    ]
    assert results == [False] * 20

    async def idle_leaves():
        await presence.aleave(cid, "zz-idle", "hub")

    run(idle_leaves)
    assert presence.all_joined_answered(contest_id=cid, question_id="q") is True


def test_a_join_that_finds_the_registry_gone_and_cannot_fill_it_leaves_it_empty(monkeypatch):
    """The joiner is not added alone: with only them in the registry, their answer would
    close the question for the whole room."""
    contest = contest_with_questions(questions=1)
    cid = str(contest.pk)

    async def redis_fails(*args, **kwargs):
        raise ConnectionError("Redis went away between the two calls")

    monkeypatch.setattr(presence, "arefresh", redis_fails)

    async def scenario():
        with pytest.raises(ConnectionError):
            await presence.ajoin(cid, "p1", "hub", others=["p2", "p3"])
        return await asyncio.to_thread(presence.joined_participants, contest_id=cid)

    assert run(scenario) == set()
    assert presence.all_joined_answered(contest_id=cid, question_id="q", answered_by="p1") is False


def test_a_join_that_finds_the_registry_gone_adds_the_others_with_the_joiner():
    contest = contest_with_questions(questions=1)
    cid = str(contest.pk)

    async def scenario():
        lost = await presence.ajoin(cid, "p1", "hub", others=["p2", "p3"])
        again = await presence.ajoin(cid, "p4", "hub", others=["never-read"])
        joined = await asyncio.to_thread(presence.joined_participants, contest_id=cid)
        return lost, again, joined

    assert run(scenario) == (True, False, {"p1", "p2", "p3", "p4"})
