"""The outbox relay: a room event goes out if and only if its change committed, in the
order of the changes, once, and late rather than never when Redis is away."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection, transaction

from core import redis as redis_clients
from realtime.models import OutboxEvent
from realtime.outbound import broadcast, relay
from tests.factories import ContestFactory
from tests.reliability.harness import PrivateRedis, TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)


def logged(contest_id) -> list[dict]:
    _, epoch = broadcast.event_log_position(contest_id)
    return [json.loads(t) for t in broadcast.event_log_since(contest_id, epoch, 0) or []]


def wait_until(check, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_event_of_a_change_that_rolls_back_is_never_sent():
    contest = ContestFactory()

    with pytest.raises(RuntimeError), transaction.atomic():
        relay.record(contest.pk, "question_change", {"n": 1})
        raise RuntimeError("the change fails after its event was recorded")

    assert not OutboxEvent.objects.exists()
    assert logged(contest.pk) == []


def test_the_events_of_a_committed_change_go_out_in_order_and_are_marked_published():
    contest = ContestFactory()

    with transaction.atomic():
        for n in range(3):
            relay.record(contest.pk, "question_change", {"n": n})

    assert [(e["event"], e["data"]["n"], e["seq"]) for e in logged(contest.pk)] == [
        ("question_change", 0, 1),
        ("question_change", 1, 2),
        ("question_change", 2, 3),
    ]
    assert not OutboxEvent.objects.filter(published_at=None).exists()


def test_the_sweep_publishes_what_a_process_committed_and_could_not_publish():
    contest = ContestFactory()
    # Committed by a process that died before its publish: only the row is there.
    OutboxEvent.objects.create(contest_id=contest.pk, event="contest_end", data='{"n":9}')

    relay.sweep()

    assert [e["data"] for e in logged(contest.pk)] == [{"n": 9}]
    assert not OutboxEvent.objects.filter(published_at=None).exists()


def test_relays_racing_each_other_publish_every_event_once_in_order():
    contest = ContestFactory()
    OutboxEvent.objects.bulk_create(
        OutboxEvent(contest_id=contest.pk, event="question_change", data=json.dumps({"n": n}))
        for n in range(40)
    )
    start = threading.Barrier(3)

    def publish() -> None:
        try:
            start.wait()
            relay.publish_pending(contest_id=contest.pk)
        finally:
            connection.close()

    racers = [threading.Thread(target=publish) for _ in range(3)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(30)

    assert [e["data"]["n"] for e in logged(contest.pk)] == list(range(40))


@pytest.fixture
def redis_behind_a_proxy(settings):
    """This process's Redis clients reach a Redis of the test's own through a proxy that
    can cut the network while Redis keeps its data."""
    server = PrivateRedis().start()
    proxy = TcpProxy(server.port)
    settings.REDIS_URL = proxy.url
    redis_clients._sync_client = None
    redis_clients._async_clients.clear()
    try:
        yield proxy
    finally:
        proxy.close()
        server.close()
        redis_clients._sync_client = None
        redis_clients._async_clients.clear()


def test_an_event_redis_refuses_goes_out_when_the_network_is_back(redis_behind_a_proxy):
    contest = ContestFactory()
    redis_behind_a_proxy.cut()

    with transaction.atomic():
        relay.record(contest.pk, "contest_end", {"status": "completed"})

    # Committed, not lost: pending, and retried by the relay's own thread.
    assert OutboxEvent.objects.filter(published_at=None).count() == 1
    redis_behind_a_proxy.mend()
    wait_until(lambda: not OutboxEvent.objects.filter(published_at=None).exists())
    assert [e["event"] for e in logged(contest.pk)] == ["contest_end"]
