"""The event log behind room events: seq, epoch, replay, in Redis and in process memory."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.test import override_settings
from redis.exceptions import LockError

from core.redis import get_redis, redis_key
from realtime.outbound import broadcast, envelope, personalize
from tests.realtime.conftest import run


def contest_id() -> str:
    return str(uuid.uuid4())


def test_room_events_are_numbered_and_replayable_from_any_point():
    contest = contest_id()

    async def scenario():
        seq, epoch = await broadcast.aevent_log_position(contest)
        assert seq == 0
        sent = [
            await broadcast.asend_to_contest(contest, "question_change", {"n": n}) for n in range(3)
        ]
        since = {last: await broadcast.aevent_log_since(contest, epoch, last) for last in range(4)}
        return epoch, sent, since, await broadcast.aevent_log_position(contest)

    epoch, sent, since, position = run(scenario)
    assert [(e.seq, e.epoch) for e in sent] == [(1, epoch), (2, epoch), (3, epoch)]
    assert position == (3, epoch)
    assert since[0] == [e.text for e in sent]
    assert since[2] == [sent[2].text]
    assert since[3] == []
    body = json.loads(sent[1].text)
    assert (body["event"], body["data"], body["seq"], body["epoch"]) == (
        "question_change",
        {"n": 1},
        2,
        epoch,
    )
    assert envelope.log_position(sent[1].text) == (2, epoch)
    assert envelope.event_of(sent[1].text) == "question_change"


def test_the_log_refuses_a_replay_it_cannot_give_whole():
    contest = contest_id()

    async def scenario():
        with override_settings(EVENT_LOG_SIZE=2):
            for n in range(4):
                await broadcast.asend_to_contest(contest, "question_change", {"n": n})
        _, epoch = await broadcast.aevent_log_position(contest)
        return (
            await broadcast.aevent_log_since(contest, epoch, 1),
            await broadcast.aevent_log_since(contest, epoch, 2),
            await broadcast.aevent_log_since(contest, epoch, 9),
            await broadcast.aevent_log_since(contest, "another", 3),
        )

    trimmed, kept, future, other_epoch = run(scenario)
    assert trimmed is None
    assert [json.loads(t)["seq"] for t in kept] == [3, 4]
    assert future is None and other_epoch is None


@override_settings(REDIS_URL="")
def test_without_redis_the_log_lives_in_process_memory():
    contest = contest_id()

    async def scenario():
        first = await broadcast.asend_to_contest(contest, "question_change", {"n": 1})
        second = await broadcast.asend_to_contest(contest, "question_change", {"n": 2})
        return first, second, await broadcast.aevent_log_since(contest, first.epoch, 1)

    first, second, since = run(scenario)
    assert (first.seq, second.seq) == (1, 2)
    assert since == [second.text]


def test_ephemeral_events_have_no_position():
    assert envelope.log_position(envelope.envelope("timer_update", {"seq": 1})) is None


@pytest.mark.parametrize(
    ("you", "text"),
    [(None, "null"), ({"rank": 3, "score": 120}, '{"rank":3,"score":120}')],
)
def test_you_json(you, text):
    assert personalize.you_json(you) == text


def test_a_room_event_that_cannot_take_the_log_lock_at_first_is_sent_once_it_can(monkeypatch):
    # Another process holds the contest's log lock for a while (say a slow Redis): the
    # event is neither lost nor sent twice.
    monkeypatch.setattr(broadcast, "LOCK_WAIT_SECONDS", 0.1)
    contest = contest_id()
    lock_key = redis_key("log", contest, "lock")
    client = get_redis()
    client.set(lock_key, "held-elsewhere", px=5000)
    threading.Timer(0.15, client.delete, [lock_key]).start()

    sent = broadcast.send_to_contest(contest, "question_change", {"n": 1})

    assert sent.seq == 1
    assert broadcast.event_log_since(contest, sent.epoch, 0) == [sent.text]


def test_a_room_event_that_can_never_be_logged_fails_loudly(monkeypatch):
    monkeypatch.setattr(broadcast, "LOCK_WAIT_SECONDS", 0.05)
    contest = contest_id()
    get_redis().set(redis_key("log", contest, "lock"), "held-elsewhere", px=5000)

    with pytest.raises(LockError):
        broadcast.send_to_contest(contest, "question_change", {"n": 1})
