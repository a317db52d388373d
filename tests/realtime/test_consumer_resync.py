"""resync: an exact replay of the missed room events, or a full contest_state."""

from __future__ import annotations

import pytest
from django.test import override_settings

from contests.services import participant_register
from leaderboard.selectors import leaderboard_top
from realtime import session
from realtime.outbound import broadcast, payloads
from tests.factories import ContestFactory, contest_with_questions, open_question
from tests.realtime.conftest import connected, member_holding_events, nothing_more, run

pytestmark = pytest.mark.django_db(transaction=True)


async def publish(contest_id, *numbers: int) -> None:
    for n in numbers:
        await broadcast.asend_to_contest(contest_id, "question_change", {"n": n})


def test_a_new_socket_gets_exactly_the_missed_events_then_live_ones(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as first:
            state = await first.join(contest.pk)
            await publish(contest.pk, 1, 2)
            seen = [await first.receive() for _ in range(2)]
        await publish(contest.pk, 3, 4, 5)
        async with connected(participant) as second:
            resync = {"contestId": str(contest.pk), "epoch": state["epoch"], "lastSeq": 2}
            await second.send("resync", resync, requestId="again")
            replayed = [await second.receive() for _ in range(3)]
            complete = await second.receive_event("resync_complete")
            await publish(contest.pk, 6)
            live = await second.receive()
            await nothing_more(contest.pk, second)
        return state, seen, replayed, complete, live

    state, seen, replayed, complete, live = run(scenario)
    assert [e["seq"] for e in seen] == [1, 2]
    assert [(e["event"], e["seq"], e["data"]["n"]) for e in replayed] == [
        ("question_change", 3, 3),
        ("question_change", 4, 4),
        ("question_change", 5, 5),
    ]
    assert all(e["epoch"] == state["epoch"] and "requestId" not in e for e in replayed)
    assert complete["requestId"] == "again"
    assert complete["data"] == {
        "contestId": str(contest.pk),
        "replayed": 3,
        "seq": 5,
        "epoch": state["epoch"],
    }
    assert (live["seq"], live["data"]) == (6, {"n": 6})


def test_replayed_events_are_the_very_events_sent(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            state = await client.join(contest.pk)
            await publish(contest.pk, 1)
            original = await client.ws.receive_from()
            await client.send(
                "resync", {"contestId": str(contest.pk), "epoch": state["epoch"], "lastSeq": 0}
            )
            return original, await client.ws.receive_from()

    original, replayed = run(scenario)
    assert replayed == original


def test_nothing_missed_is_an_empty_replay(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            state = await client.join(contest.pk)
            data = {"contestId": str(contest.pk), "epoch": state["epoch"], "lastSeq": 0}
            return await client.request("resync", data)

    reply = run(scenario)
    assert reply["event"] == "resync_complete"
    assert (reply["data"]["replayed"], reply["data"]["seq"]) == (0, 0)


@pytest.mark.parametrize(
    "cursor",
    [
        lambda state: {},
        lambda state: {"epoch": "another", "lastSeq": 1},
        lambda state: {"epoch": state["epoch"], "lastSeq": 99},
    ],
    ids=["no cursor", "another epoch", "a seq from the future"],
)
def test_without_a_usable_cursor_the_reply_is_a_full_state(participant, cursor):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            state = await client.join(contest.pk)
            await publish(contest.pk, 1, 2)
            await client.receive()
            await client.receive()
            return await client.request("resync", {"contestId": str(contest.pk), **cursor(state)})

    reply = run(scenario)
    assert reply["event"] == "contest_state"
    assert reply["data"]["seq"] == 2


@override_settings(EVENT_LOG_SIZE=3)
def test_events_gone_from_the_log_give_a_full_state_never_a_partial_replay(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as first:
            state = await first.join(contest.pk)
        await publish(contest.pk, 1, 2, 3, 4, 5)
        async with connected(participant) as second:
            data = {"contestId": str(contest.pk), "epoch": state["epoch"], "lastSeq": 1}
            reply = await second.request("resync", data)
            await nothing_more(contest.pk, second)
            return reply

    reply = run(scenario)
    assert reply["event"] == "contest_state"
    assert reply["data"]["seq"] == 5


def test_resync_on_a_new_socket_follows_the_join_rules(participant, outsider):
    contest = contest_with_questions(questions=1, requires_registration=True)
    participant_register(contest_id=contest.pk, user=participant)

    async def scenario():
        async with connected(outsider) as stranger, connected(participant) as player:
            refused = await stranger.request("resync", {"contestId": str(contest.pk)})
            joined = await player.request("resync", {"contestId": str(contest.pk)})
            await publish(contest.pk, 1)
            return refused, joined, await player.receive()

    refused, joined, event = run(scenario)
    assert refused["data"]["code"] == "NOT_REGISTERED"
    assert joined["event"] == "contest_state"
    assert event["seq"] == 1


def test_a_replayed_leaderboard_update_carries_your_current_rank(participant):
    contest = contest_with_questions(questions=1)

    async def scenario():
        async with connected(participant) as client:
            state = await client.join(contest.pk)
        await send_leaderboard(contest.pk)
        async with connected(participant) as client:
            data = {"contestId": str(contest.pk), "epoch": state["epoch"], "lastSeq": 0}
            await client.send("resync", data)
            return await client.receive_event("leaderboard_update")

    event = run(scenario)
    assert event["data"]["you"] == {"rank": 1, "score": 0}


async def send_leaderboard(contest_id) -> None:
    from realtime.db import run_in_db_thread

    board = await run_in_db_thread(leaderboard_top)(contest_id=contest_id, limit=10)
    await broadcast.asend_to_contest(
        contest_id,
        "leaderboard_update",
        payloads.leaderboard_update_payload(
            contest_id,
            top=board["top"],
            total_participants=board["totalParticipants"],
            frozen=False,
        ),
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"epoch": "ab12"}, "data.lastSeq"),
        ({"lastSeq": 3}, "data.epoch"),
        ({"epoch": "ab12", "lastSeq": -1}, "data.lastSeq"),
    ],
)
def test_resync_names_a_bad_cursor(participant, data, field):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            return await client.request("resync", {"contestId": str(contest.pk), **data})

    reply = run(scenario)
    assert (reply["data"]["code"], reply["data"]["field"]) == ("INVALID_PAYLOAD", field)


@pytest.mark.parametrize("event", ["resync", "join_contest"])
def test_a_failed_resync_of_the_joined_contest_keeps_the_socket_in_it(
    participant, monkeypatch, event
):
    contest = open_question(contest_with_questions(questions=1), index=1)
    question = contest.ordered_questions()[0]
    answer = {
        "contestId": str(contest.pk),
        "questionId": str(question.pk),
        "answer": str(question.choices.get(text="A").id),
    }

    def fails_while_an_event_arrives(**kwargs):
        broadcast.send_to_contest(contest.pk, "question_change", {"n": "during"})
        member_holding_events(contest.pk)
        raise ConnectionError("the database went away")

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            with monkeypatch.context() as patch:
                patch.setattr(session, "contest_state", fails_while_an_event_arrives)
                await client.send(event, {"contestId": str(contest.pk)}, requestId="r")
                # The event held while the reply was built is not lost.
                held = await client.receive()
                failed = await client.receive()
            await nothing_more(contest.pk, client)
            return failed, held, await client.request("submit_answer", answer)

    failed, held, result = run(scenario)
    assert (failed["event"], failed["data"]["code"]) == ("error", "INTERNAL_ERROR")
    assert held["data"] == {"n": "during"}
    assert result["event"] == "submission_result"


def test_a_resync_of_the_joined_contest_does_not_join_it_again(participant, monkeypatch):
    contest = ContestFactory()
    join, joined = session.participant_join, []

    def counted_join(**kwargs):
        joined.append(kwargs["contest_id"])
        return join(**kwargs)

    monkeypatch.setattr(session, "participant_join", counted_join)

    async def scenario():
        async with connected(participant) as client:
            state = await client.join(contest.pk)
            cursor = {"contestId": str(contest.pk), "epoch": state["epoch"], "lastSeq": 0}
            return [
                await client.request("resync", cursor),
                await client.request("resync", {"contestId": str(contest.pk)}),
            ]

    replies = run(scenario)
    assert [r["event"] for r in replies] == ["resync_complete", "contest_state"]
    assert joined == [str(contest.pk)]
