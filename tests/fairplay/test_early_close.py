"""A question closes as soon as everyone in its room answered: across web processes,
when the last one missing leaves, never for an empty room, once whoever triggers it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from contests.models import Contest
from contests.services import (
    contest_pause,
    contest_resume,
    contest_start,
    contest_tick,
    participant_register,
    question_close_if_all_answered,
    submission_create,
)
from core.redis import get_redis
from realtime.outbound import broadcast, presence
from tests.factories import UserFactory, contest_with_questions, open_question
from tests.fairplay.conftest import db, played, player_on
from tests.realtime.conftest import run
from tests.servers import WebServer, child_env

pytestmark = pytest.mark.django_db(transaction=True)


def early_contest(**kwargs) -> Contest:
    """Questions of 60 s: a close within the test's timeouts can only be the early one."""
    contest = contest_with_questions(questions=2, close_when_all_answered=True, **kwargs)
    contest.questions.update(time_limit_seconds=60)
    return contest


def question_changes(contest: Contest) -> list[str]:
    _, epoch = broadcast.event_log_position(contest.pk)
    texts = broadcast.event_log_since(contest.pk, epoch, 0) or []
    return [t for t in texts if t.startswith('{"event":"question_change"')]


def reload(contest: Contest) -> Contest:
    return Contest.objects.get(pk=contest.pk)


@pytest.mark.e2e
def test_a_question_closes_once_everyone_on_two_web_processes_answered(two_servers):
    contest = early_contest()
    q1 = played(contest)[0]
    ada, bob = UserFactory(), UserFactory()

    async def scenario():
        async with (
            player_on(two_servers[0], ada) as a,
            player_on(two_servers[1], bob) as b,
        ):
            await a.join(contest)
            await b.join(contest)
            await db(contest_start)(contest_id=contest.pk)
            opened = await a.event("question_broadcast")
            await b.event("question_broadcast")
            await a.answer(contest, q1, "A")
            # Messages of a socket are handled in order: once the pong is back, Ada's
            # answer and whatever it set off are done.
            await a.request("ping", {})
            still_open = (await db(reload)(contest)).question_open
            await b.answer(contest, q1, "B")
            closes = [await p.event("question_change") for p in (a, b)]
            return opened, still_open, closes

    opened, still_open, closes = run(scenario)
    assert still_open is True
    deadline = datetime.fromisoformat(opened["data"]["deadline"])
    for close in closes:
        assert close["data"]["closedQuestionId"] == str(q1.pk)
        assert datetime.fromisoformat(close["timestamp"]) < deadline - timedelta(seconds=30)
    assert closes[0]["seq"] == closes[1]["seq"]
    assert len(question_changes(contest)) == 1
    contest = reload(contest)
    assert (contest.question_open, contest.current_question_index) == (False, 1)
    # The intermission counts from the early close, not from the deadline.
    assert contest.next_question_at < deadline


@pytest.mark.e2e
def test_the_last_one_missing_leaving_the_room_lets_the_question_close(web_server):
    contest = early_contest()
    q1 = played(contest)[0]
    ada, bob = UserFactory(), UserFactory()

    async def scenario():
        async with player_on(web_server, ada) as a:
            async with player_on(web_server, bob) as b:
                await a.join(contest)
                await b.join(contest)
                await db(contest_start)(contest_id=contest.pk)
                await a.event("question_broadcast")
                await a.answer(contest, q1, "A")
                await a.request("ping", {})
                still_open = (await db(reload)(contest)).question_open
            # Bob, who never answered, has left.
            close = await a.event("question_change")
            return still_open, close

    still_open, close = run(scenario)
    assert still_open is True
    assert close["data"]["yourResult"]["answered"] is True
    assert len(question_changes(contest)) == 1


@pytest.fixture
def two_watchful_servers(transactional_db) -> Iterator[tuple[WebServer, WebServer]]:
    """Two web processes that compare what they delivered with the event log 5 times a
    second, so they notice quickly that Redis lost its data."""
    servers = [WebServer(child_env(WS_CATCH_UP_INTERVAL_SECONDS="0.2")).start() for _ in range(2)]
    try:
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()


@pytest.mark.e2e
def test_after_redis_loses_its_data_one_answer_does_not_close_for_the_whole_room(
    two_watchful_servers,
):
    contest = early_contest()
    q1 = played(contest)[0]
    ada, bob = UserFactory(), UserFactory()
    ada_server, bob_server = two_watchful_servers

    async def scenario():
        async with player_on(ada_server, ada) as a:
            async with player_on(bob_server, bob) as b:
                await a.join(contest)
                await b.join(contest)
                await db(contest_start)(contest_id=contest.pk)
                await a.event("question_broadcast")
                get_redis().flushdb()
                # Each hub refills the room's registry before it tells its sockets.
                await a.event("resync_required")
                await b.event("resync_required")
            # Bob comes back on a new socket, the only one to rejoin, and answers.
            async with player_on(bob_server, bob) as b:
                await b.join(contest)
                assert (await b.answer(contest, q1, "B"))["event"] == "submission_result"
                await b.request("ping", {})
                still_open = (await db(reload)(contest)).question_open
                # The registry is whole, not just cautious: Ada's answer closes it.
                await a.answer(contest, q1, "A")
                close = await b.event("question_change")
        return still_open, close

    still_open, close = run(scenario)
    assert still_open is True
    assert close["data"]["closedQuestionId"] == str(q1.pk)


@pytest.mark.e2e
def test_a_join_that_finds_the_room_registry_gone_fills_it_again(transactional_db):
    """Before the hub's own check notices (never, here) that Redis lost its data."""
    server = WebServer(child_env(WS_CATCH_UP_INTERVAL_SECONDS="600")).start()
    contest = early_contest()
    q1 = played(contest)[0]
    ada, bob, cy = UserFactory(), UserFactory(), UserFactory()

    async def scenario():
        async with player_on(server, ada) as a, player_on(server, bob) as b:
            await a.join(contest)
            await b.join(contest)
            await db(contest_start)(contest_id=contest.pk)
            await a.event("question_broadcast")
            get_redis().flushdb()
            async with player_on(server, cy) as c:
                await c.join(contest)
                assert (await c.answer(contest, q1, "A"))["event"] == "submission_result"
                await c.request("ping", {})
                return (await db(reload)(contest)).question_open, await db(joined)(contest)

    try:
        still_open, in_room = run(scenario)
    finally:
        server.stop()
    assert still_open is True
    assert in_room == {participant_of(contest, user) for user in (ada, bob, cy)}


def joined(contest: Contest) -> set[str]:
    return presence.joined_participants(contest_id=contest.pk)


def participant_of(contest: Contest, user) -> str:
    return str(contest.participants.get(user=user).pk)


def join_room(contest: Contest, *users) -> list[str]:
    """Participants in the contest's room as a web process's hub records them."""
    ids = [str(participant_register(contest_id=contest.pk, user=u)[0].pk) for u in users]

    async def enter():
        for pid in ids:
            await presence.ajoin(str(contest.pk), pid, "test-hub")

    run(enter)
    return ids


def answer(contest: Contest, user, text: str = "A"):
    question = contest.ordered_questions()[contest.current_question_index - 1]
    choice = str(question.choices.get(text=text).pk)
    return submission_create(
        contest_id=contest.pk, question_id=question.pk, user=user, answer=choice
    )


def test_an_answer_in_an_empty_room_closes_nothing():
    contest = open_question(early_contest(), index=1)
    user = UserFactory()
    participant_register(contest_id=contest.pk, user=user)

    outcome = answer(contest, user)

    assert outcome.all_answered is False
    assert question_close_if_all_answered(contest_id=contest.pk) is False
    assert reload(contest).question_open is True
    assert presence.joined_participants(contest_id=contest.pk) == set()


def test_it_waits_for_everyone_in_the_room_and_not_for_those_outside():
    contest = open_question(early_contest(), index=1)
    inside = [UserFactory(), UserFactory()]
    outside = UserFactory()
    join_room(contest, *inside)
    participant_register(contest_id=contest.pk, user=outside)

    first = answer(contest, inside[0])
    assert first.all_answered is False
    assert question_close_if_all_answered(contest_id=contest.pk) is False
    last = answer(contest, inside[1])

    assert last.all_answered is True
    assert question_close_if_all_answered(
        contest_id=contest.pk, question_id=last.submission.question_id
    )
    assert reload(contest).question_open is False


def test_early_closes_and_the_clock_racing_close_the_question_once():
    contest = open_question(early_contest(), index=1)
    users = [UserFactory(), UserFactory()]
    join_room(contest, *users)
    for user in users:
        answer(contest, user)
    # And its deadline has passed too: the tick would close it as well.
    open_question(contest, index=1, started_at=timezone.now() - timedelta(seconds=61))
    start = threading.Barrier(5)

    def close_early():
        try:
            start.wait()
            question_close_if_all_answered(contest_id=contest.pk)
        finally:
            connection.close()

    def tick():
        try:
            start.wait()
            contest_tick()
        finally:
            connection.close()

    threads = [threading.Thread(target=close_early) for _ in range(3)]
    threads += [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(question_changes(contest)) == 1
    assert reload(contest).question_open is False


def test_no_early_close_while_paused_the_resume_closes_it():
    contest = open_question(early_contest(), index=1)
    users = [UserFactory(), UserFactory()]
    join_room(contest, *users)
    contest_pause(contest_id=contest.pk)
    outcomes = [answer(contest, user) for user in users]

    assert [o.all_answered for o in outcomes] == [False, False]
    assert question_close_if_all_answered(contest_id=contest.pk) is False
    assert reload(contest).question_open is True

    contest_resume(contest_id=contest.pk)

    assert reload(contest).question_open is False
    assert len(question_changes(contest)) == 1


def test_a_contest_without_the_rule_waits_for_its_deadline():
    contest = open_question(
        contest_with_questions(questions=2, close_when_all_answered=False), index=1
    )
    user = UserFactory()
    join_room(contest, user)

    assert answer(contest, user).all_answered is False
    assert question_close_if_all_answered(contest_id=contest.pk) is False
    assert reload(contest).question_open is True
