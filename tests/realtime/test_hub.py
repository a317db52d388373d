"""Room fan-out through the per-process hub: delivery, per-recipient `you`, order and
repair of events the channel layer lost."""

from __future__ import annotations

import asyncio
import copy
import time

import pytest
from django.conf import settings
from django.test import override_settings

from contests.models import Contest
from contests.services import participant_register, submission_create
from contestsite.redis import get_redis, redis_key
from leaderboard.selectors import leaderboard_ranks, leaderboard_top
from realtime import broadcast, consumers, hub, payloads
from realtime.db import run_in_db_thread
from tests.factories import ContestFactory, UserFactory, contest_with_questions, open_question
from tests.realtime.conftest import connected, run

pytestmark = pytest.mark.django_db(transaction=True)


def elsewhere_layer() -> dict:
    """The same channel layer under another prefix: what it publishes, the hub never hears,
    as if the channel layer had lost it; the event log still records it."""
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"].setdefault("CONFIG", {})["prefix"] = "lost-in-transit"
    return layers


async def publish(contest_id, *numbers: int) -> None:
    for n in numbers:
        await broadcast.asend_to_contest(contest_id, "question_change", {"n": n})


async def publish_lost(contest_id, *numbers: int) -> None:
    with override_settings(CHANNEL_LAYERS=elsewhere_layer()):
        await publish(contest_id, *numbers)


def test_every_socket_of_the_room_gets_each_event_once_and_no_one_else(participant, outsider):
    contest, other = ContestFactory(), ContestFactory()
    third = UserFactory()

    async def scenario():
        async with (
            connected(participant) as one,
            connected(outsider) as two,
            connected(participant) as three,
            connected(third) as elsewhere,
        ):
            for client in (one, two, three):
                await client.join(contest.pk)
            await elsewhere.join(other.pk)
            await publish(contest.pk, 1)
            events = [await client.receive() for client in (one, two, three)]
            for client in (one, two, three, elsewhere):
                await client.nothing_more()
            return events

    events = run(scenario)
    assert all(
        (e["event"], e["seq"], e["data"]) == ("question_change", 1, {"n": 1}) for e in events
    )


def test_timer_updates_are_delivered_without_seq_or_epoch(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            await broadcast.asend_ephemeral(contest.pk, "timer_update", {"remainingSeconds": 3})
            return await client.receive()

    event = run(scenario)
    assert event["event"] == "timer_update"
    assert "seq" not in event and "epoch" not in event


def scored_contest() -> tuple[Contest, list]:
    """Three participants: one right, one wrong, one silent."""
    contest = open_question(contest_with_questions(questions=2), index=1)
    users = [UserFactory() for _ in range(3)]
    question = contest.ordered_questions()[0]
    for user in users:
        participant_register(contest_id=contest.pk, user=user)
    for user, text in zip(users, ("B", "A"), strict=False):
        answer = str(question.choices.get(text=text).id)
        submission_create(contest_id=contest.pk, question_id=question.pk, user=user, answer=answer)
    return contest, users


@pytest.mark.parametrize("event", ["leaderboard_update", "contest_end"])
def test_each_recipient_gets_its_own_rank(event):
    contest, users = scored_contest()
    board = leaderboard_top(contest_id=contest.pk, limit=10)
    if event == "leaderboard_update":
        data = payloads.leaderboard_update_payload(
            contest.pk, top=board["top"], total_participants=board["totalParticipants"]
        )
    else:
        data = payloads.contest_end_payload(
            contest, final_leaderboard=board["top"], total_participants=3
        )

    async def scenario():
        async with (
            connected(users[0]) as one,
            connected(users[1]) as two,
            connected(users[2]) as three,
        ):
            clients = (one, two, three)
            states = [await client.join(contest.pk) for client in clients]
            await broadcast.asend_to_contest(contest.pk, event, data)
            return states, [await client.receive_event(event) for client in clients]

    states, events = run(scenario)
    ids = [
        str(p) for p in contest.participants.order_by("registered_at").values_list("pk", flat=True)
    ]
    expected = leaderboard_ranks(contest_id=contest.pk, participant_ids=ids)
    yous = [e["data"]["you"] for e in events]
    assert yous == [expected[pid] for pid in ids]
    assert yous[1] == {"rank": 1, "score": yous[1]["score"]} and yous[1]["score"] > 0
    assert sorted(y["rank"] for y in yous) == [1, 2, 3]
    assert [s["you"] for s in states] == yous
    # Everything but `you` is the same for all.
    assert all({**e["data"], "you": None} == data for e in events)


def test_events_that_arrive_while_the_state_is_built_follow_it(participant, monkeypatch):
    """The hub holds room events for a joining socket until its contest_state is sent."""
    contest = ContestFactory()
    build = consumers.contest_state

    def state_built_while_an_event_arrives(**kwargs):
        broadcast.send_to_contest(contest.pk, "question_change", {"n": "during"})
        deadline = time.monotonic() + 10
        while not any(
            member.held
            for running in list(hub._hubs.values())
            for member in running.rooms.get(str(contest.pk), ())
        ):
            assert time.monotonic() < deadline, "the hub never received the event"
            time.sleep(0.01)
        return build(**kwargs)

    monkeypatch.setattr(consumers, "contest_state", state_built_while_an_event_arrives)

    async def scenario():
        async with connected(participant) as client:
            state = await client.join(contest.pk)
            return state, await client.receive()

    state, event = run(scenario)
    assert (event["seq"], event["data"]) == (state["seq"] + 1, {"n": "during"})


def test_a_lost_event_is_replayed_before_the_next_one(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            await publish(contest.pk, 1)
            await publish_lost(contest.pk, 2, 3)
            await publish(contest.pk, 4)
            events = [await client.receive() for _ in range(4)]
            await client.nothing_more()
            return events

    events = run(scenario)
    assert [(e["seq"], e["data"]["n"]) for e in events] == [(1, 1), (2, 2), (3, 3), (4, 4)]


@override_settings(WS_CATCH_UP_INTERVAL_SECONDS=0.2)
def test_a_lost_last_event_is_delivered_by_the_periodic_check(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            await publish_lost(contest.pk, 1)
            return await client.receive()

    event = run(scenario)
    assert (event["seq"], event["data"]) == (1, {"n": 1})


def test_a_new_epoch_is_announced_with_resync_required(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            state = await client.join(contest.pk)
            await publish(contest.pk, 1)
            await client.receive()
            # Redis lost the event log (a restart, a flush): the next event starts anew.
            await run_in_db_thread(
                lambda: get_redis().delete(redis_key("log", contest.pk, "epoch"))
            )()
            await publish(contest.pk, 2)
            return state, await client.receive(), await client.receive()

    state, notice, event = run(scenario)
    assert notice["event"] == "resync_required"
    assert notice["data"] == {"contestId": str(contest.pk), "reason": "epoch_changed"}
    assert "seq" not in notice
    assert event["seq"] == 1 and event["epoch"] != state["epoch"]


@override_settings(EVENT_LOG_SIZE=2)
def test_lost_events_no_longer_in_the_log_are_announced_with_resync_required(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            await publish_lost(contest.pk, 1, 2, 3)
            await publish(contest.pk, 4)
            notice = await client.receive()
            resync = await client.request("resync", {"contestId": str(contest.pk)})
            return notice, resync

    notice, resync = run(scenario)
    assert notice["data"] == {"contestId": str(contest.pk), "reason": "events_lost"}
    assert (resync["event"], resync["data"]["seq"]) == ("contest_state", 4)


def test_the_hub_leaves_a_contest_group_with_its_last_socket(participant, outsider):
    contest = ContestFactory()

    async def scenario():
        running = hub.get_hub()
        async with connected(participant) as one:
            await one.join(contest.pk)
            async with connected(outsider) as two:
                await two.join(contest.pk)
                assert len(running.rooms[str(contest.pk)]) == 2
            assert len(running.rooms[str(contest.pk)]) == 1
        return str(contest.pk) in running.rooms

    assert run(scenario) is False


@override_settings(WS_CATCH_UP_INTERVAL_SECONDS=0.5)
def test_the_hub_recovers_when_redis_drops_its_pubsub_connection(participant):
    """Kill the hub's pub/sub connection in Redis (as a restart or a network cut would):
    the layer reconnects and every event still arrives, once, in order."""
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            await publish(contest.pk, 1)
            await client.receive()
            shard = hub.get_hub().layer._get_layer()._shards[0]
            host, port = shard._pubsub.connection._writer.get_extra_info("sockname")[:2]
            redis = get_redis()
            victim = next(c for c in redis.client_list() if c["addr"] == f"{host}:{port}")
            assert redis.client_kill_filter(_id=victim["id"]) == 1
            # Published while the hub's connection is down or coming back: maybe lost.
            await publish(contest.pk, 2, 3)
            events = [await client.receive() for _ in range(2)]
            # And the hub is subscribed to the contest's group again.
            group = shard.channel_layer._get_group_channel_name(broadcast.group_name(contest.pk))
            deadline = time.monotonic() + 10
            while redis.pubsub_numsub(group)[0][1] != 1:
                assert time.monotonic() < deadline, "the hub never subscribed again"
                await asyncio.sleep(0.05)
            return events

    events = run(scenario)
    assert [(e["seq"], e["data"]["n"]) for e in events] == [(2, 2), (3, 3)]
