"""Room fan-out through the per-process hub: delivery, per-recipient `you`, order and
repair of events the channel layer lost."""

from __future__ import annotations

import asyncio
import copy
import threading
import time

import pytest
from django.conf import settings
from django.test import override_settings

from contests.models import Contest
from contests.services import participant_register, submission_create
from core.redis import get_redis, redis_key
from leaderboard import live
from leaderboard.selectors import leaderboard_ranks, leaderboard_top
from realtime import db, session
from realtime.db import run_in_db_thread
from realtime.outbound import broadcast, hub, payloads, presence
from tests.factories import ContestFactory, UserFactory, contest_with_questions, open_question
from tests.realtime.conftest import TIMEOUT, connected, member_holding_events, nothing_more, run

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
            await nothing_more(contest.pk, one, two, three)
            await nothing_more(other.pk, elsewhere)
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
    """Three participants: one right, one wrong, one silent (graded at once, so the live
    board counts the open question)."""
    contest = open_question(
        contest_with_questions(questions=2, answer_reveal=Contest.AnswerReveal.IMMEDIATE),
        index=1,
    )
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
            contest.pk,
            top=board["top"],
            total_participants=board["totalParticipants"],
            frozen=False,
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
    build = session.contest_state

    def state_built_while_an_event_arrives(**kwargs):
        broadcast.send_to_contest(contest.pk, "question_change", {"n": "during"})
        member_holding_events(contest.pk)
        return build(**kwargs)

    monkeypatch.setattr(session, "contest_state", state_built_while_an_event_arrives)

    async def scenario():
        async with connected(participant) as client:
            state = await client.join(contest.pk)
            return state, await client.receive()

    state, event = run(scenario)
    assert (event["seq"], event["data"]) == (state["seq"] + 1, {"n": "during"})


def test_a_held_event_that_cannot_be_sent_does_not_leave_the_socket_holding(
    participant, monkeypatch
):
    contest = ContestFactory()
    build = session.contest_state

    def state_built_while_an_event_arrives(**kwargs):
        broadcast.send_to_contest(contest.pk, "question_change", {"n": "during"})
        member = member_holding_events(contest.pk)
        send = member.base_send

        async def fails_on_the_held_event(message):
            if '"during"' in message.get("text", ""):
                raise ConnectionError("the socket broke")
            await send(message)

        member.base_send = fails_on_the_held_event
        return build(**kwargs)

    monkeypatch.setattr(session, "contest_state", state_built_while_an_event_arrives)

    async def scenario():
        async with connected(participant) as client:
            await client.send("join_contest", {"contestId": str(contest.pk)})
            replies = [await client.receive() for _ in range(2)]
            await publish(contest.pk, 1)
            return replies, await client.receive()

    (state, error), event = run(scenario)
    assert (state["event"], error["data"]["code"]) == ("contest_state", "INTERNAL_ERROR")
    assert event["data"] == {"n": 1}


def test_a_lost_event_is_replayed_before_the_next_one(participant):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as client:
            await client.join(contest.pk)
            await publish(contest.pk, 1)
            await publish_lost(contest.pk, 2, 3)
            await publish(contest.pk, 4)
            events = [await client.receive() for _ in range(4)]
            await nothing_more(contest.pk, client)
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


def test_a_participant_stays_in_the_room_registry_until_their_last_socket_leaves(participant):
    contest = ContestFactory()

    def in_room() -> set[str]:
        return presence.joined_participants(contest_id=contest.pk)

    async def scenario():
        async with connected(participant) as one:
            await one.join(contest.pk)
            async with connected(participant) as two:
                await two.join(contest.pk)
                with_two = await asyncio.to_thread(in_room)
            with_one = await asyncio.to_thread(in_room)
        return with_two, with_one, await asyncio.to_thread(in_room)

    with_two, with_one, with_none = run(scenario)
    joined = {str(contest.participants.get(user=participant).pk)}
    assert (with_two, with_one, with_none) == (joined, joined, set())


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


@pytest.mark.parametrize("failing", ["group_add", "aevent_log_position"])
def test_a_room_whose_first_join_failed_is_built_whole_by_the_next(
    participant, outsider, monkeypatch, failing
):
    contest = ContestFactory()

    async def scenario():
        running = hub.get_hub()
        target = running.layer._get_layer() if failing == "group_add" else broadcast
        real, calls = getattr(target, failing), []

        async def fails_the_first_time(*args):
            calls.append(args)
            if len(calls) > 1:
                return await real(*args)
            if failing == "aevent_log_position":
                # Already subscribed: an event reaches the joining socket, which holds it.
                await publish(contest.pk, 0)
                while not any(m.held for m in running.rooms[str(contest.pk)]):
                    await asyncio.sleep(0.01)
            raise ConnectionError("Redis went away")

        monkeypatch.setattr(target, failing, fails_the_first_time)
        async with connected(participant) as first, connected(outsider) as second:
            await first.send("join_contest", {"contestId": str(contest.pk)}, requestId="j")
            failed = await first.receive()
            after_failure = (str(contest.pk) in running.rooms, subscribers(contest.pk))
            # The failed socket gets no room event of the contest it could not join.
            await first.send("ping")
            assert (await first.receive())["event"] == "pong"
            await second.join(contest.pk)
            # Delivered, and a lost event is noticed and replayed.
            await publish(contest.pk, 1)
            await publish_lost(contest.pk, 2)
            await publish(contest.pk, 3)
            events = [await second.receive() for _ in range(3)]
            await nothing_more(contest.pk, second)
            return failed, after_failure, events, len(running.rooms[str(contest.pk)])

    failed, after_failure, events, members = run(scenario)
    assert (failed["event"], failed["data"]["code"]) == ("error", "INTERNAL_ERROR")
    assert after_failure == (False, 0)
    assert [e["data"]["n"] for e in events] == [1, 2, 3]
    assert members == 1


def subscribers(contest_id) -> int:
    """How many connections listen to the contest's group in Redis."""
    shard = hub.get_hub().layer._get_layer()._shards[0]
    group = shard.channel_layer._get_group_channel_name(broadcast.group_name(contest_id))
    return get_redis().pubsub_numsub(group)[0][1]


@pytest.mark.parametrize("reply", ["contest_state", "resync_complete"])
def test_a_socket_that_joins_while_the_hub_is_behind_gets_no_event_its_reply_covers(
    participant, outsider, reply
):
    contest = ContestFactory()

    async def scenario():
        async with connected(participant) as first, connected(outsider) as second:
            state = await first.join(contest.pk)
            # The hub has not heard of 1 and 2 yet: it replays them when 3 arrives.
            await publish_lost(contest.pk, 1, 2)
            if reply == "contest_state":
                covered = (await second.join(contest.pk))["seq"]
            else:
                data = {"contestId": str(contest.pk), "epoch": state["epoch"], "lastSeq": 0}
                await second.send("resync", data)
                replayed = [(await second.receive())["seq"] for _ in range(2)]
                assert replayed == [1, 2]
                covered = (await second.receive_event("resync_complete"))["data"]["seq"]
            await publish(contest.pk, 3)
            seen_by_first = [(await first.receive())["seq"] for _ in range(3)]
            next_of_second = (await second.receive())["seq"]
            await nothing_more(contest.pk, first, second)
            return covered, seen_by_first, next_of_second

    covered, seen_by_first, next_of_second = run(scenario)
    assert covered == 2
    assert seen_by_first == [1, 2, 3]
    assert next_of_second == 3


def test_leaderboard_updates_do_not_wait_for_a_database_thread():
    """Submissions can keep every database thread busy: the hub reads live ranks from
    Redis alone."""
    contest, users = scored_contest()
    board = leaderboard_top(contest_id=contest.pk, limit=10)
    data = payloads.leaderboard_update_payload(
        contest.pk, top=board["top"], total_participants=board["totalParticipants"], frozen=False
    )
    ids = [str(contest.participants.get(user=user).pk) for user in users[:2]]
    expected = leaderboard_ranks(contest_id=contest.pk, participant_ids=ids)

    async def scenario():
        async with connected(users[0]) as one, connected(users[1]) as two:
            for client in (one, two):
                await client.join(contest.pk)
            gate = threading.Event()
            busy = [
                asyncio.ensure_future(run_in_db_thread(gate.wait)(2 * TIMEOUT))
                for _ in range(db.MAX_THREADS)
            ]
            try:
                await broadcast.asend_to_contest(contest.pk, "leaderboard_update", data)
                events = [await c.receive_event("leaderboard_update") for c in (one, two)]
            finally:
                gate.set()
                await asyncio.gather(*busy)
            return events

    events = run(scenario)
    assert [e["data"]["you"] for e in events] == [expected[pid] for pid in ids]


LIVE_SET_KEYS = ("ranking", "member", "version", "name", "built")


def test_without_the_live_set_leaderboard_updates_get_ranks_from_the_database():
    contest, users = scored_contest()
    ids = [str(contest.participants.get(user=user).pk) for user in users]
    expected = leaderboard_ranks(contest_id=contest.pk, participant_ids=ids)
    data = payloads.leaderboard_update_payload(
        contest.pk, top=[], total_participants=3, frozen=False
    )

    async def scenario():
        async with connected(users[0]) as one, connected(users[1]) as two:
            for client in (one, two):
                await client.join(contest.pk)
            # Redis lost the sorted set: the live ranks cannot answer.
            get_redis().delete(*(live.key(contest.pk, k) for k in LIVE_SET_KEYS))
            await broadcast.asend_to_contest(contest.pk, "leaderboard_update", data)
            return [await c.receive_event("leaderboard_update") for c in (one, two)]

    events = run(scenario)
    assert [e["data"]["you"] for e in events] == [expected[pid] for pid in ids[:2]]


def test_a_slow_first_join_of_one_contest_does_not_delay_joins_of_another(
    participant, outsider, monkeypatch
):
    slow, other = ContestFactory(), ContestFactory()
    position = broadcast.aevent_log_position

    async def scenario():
        running = hub.get_hub()
        gate, stuck = asyncio.Event(), asyncio.Event()

        async def slow_position(contest_id):
            if str(contest_id) == str(slow.pk) and not gate.is_set():
                stuck.set()
                await gate.wait()
            return await position(contest_id)

        monkeypatch.setattr(broadcast, "aevent_log_position", slow_position)
        async with connected(participant) as first, connected(outsider) as second:
            await first.send("join_contest", {"contestId": str(slow.pk)}, requestId="slow")
            await asyncio.wait_for(stuck.wait(), TIMEOUT)
            try:
                state = await second.join(other.pk)
            finally:
                gate.set()
            slow_state = await first.receive_event("contest_state")
        return state, slow_state, running._locks

    state, slow_state, locks = run(scenario)
    assert (state["contestId"], slow_state["data"]["contestId"]) == (str(other.pk), str(slow.pk))
    assert locks == {}


class Listener:
    """A hub member that keeps what it is sent."""

    def __init__(self) -> None:
        self.participant_id = None
        self.held = None
        self.floor = None
        self.texts: list[str] = []

    async def base_send(self, message: dict) -> None:
        self.texts.append(message["text"])

    async def close(self, code: int, reason: str) -> None:
        pass


def test_two_contests_joined_at_once_start_one_hub():
    """The first joins of a process, for two contests at the same moment: one channel and
    one set of tasks (with two, an event repaired from the log went out twice)."""
    contests = [str(ContestFactory().pk), str(ContestFactory().pk)]

    async def scenario():
        fresh = hub.Hub()
        members = [Listener(), Listener()]
        await asyncio.gather(*(fresh.join(c, m) for c, m in zip(contests, members, strict=True)))
        tasks = len(fresh._tasks)
        deliverers = [t for t in asyncio.all_tasks() if t.get_coro().__name__ == "_deliver_forever"]
        await publish(contests[0], 1)
        await publish(contests[1], 2)
        deadline = time.monotonic() + TIMEOUT
        while not all(m.texts for m in members) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for task in fresh._tasks:
            task.cancel()
        return tasks, len(deliverers), [m.texts for m in members]

    tasks, deliverers, texts = run(scenario)
    assert (tasks, deliverers) == (4, 1)
    assert [[t.split(',"timestamp"')[0] for t in got] for got in texts] == [
        ['{"event":"question_change","data":{"n":1}'],
        ['{"event":"question_change","data":{"n":2}'],
    ]
