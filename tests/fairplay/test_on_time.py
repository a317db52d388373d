"""Transitions on time: each transition queues the next one for its instant (a Celery
task with an ETA; a timer on the server's loop in the embedded mode), and that task runs
the same locked-row step as the tick. The figures are bench/transitions.py's
(docs/PERFORMANCE.md); these tests show that the scheduled task, not the tick, makes the
transition, and that duplicates and early runs are harmless."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from contests.models import Contest
from contests.services import contest_advance, contest_start
from contests.services.lifecycle import ADVANCE_TASK
from core import periodic
from core.redis import get_redis
from tests.factories import UserFactory, contest_with_questions, open_question
from tests.fairplay.conftest import db, player_on
from tests.realtime.conftest import run
from tests.servers import celery_worker, child_env

pytestmark = pytest.mark.django_db(transaction=True)

GRACE = timedelta(milliseconds=500)


def queue_key() -> str:
    """The Celery broker's default queue in the tests' Redis database, under the key
    prefix every Celery key carries (settings.CELERY_BROKER_TRANSPORT_OPTIONS)."""
    return settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] + "celery"


def queued_tasks() -> list[tuple[str, dict, datetime]]:
    """(task name, kwargs, eta) of every message waiting in the Celery broker's queue."""
    found = []
    for raw in get_redis().lrange(queue_key(), 0, -1):
        message = json.loads(raw)
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        headers = message["headers"]
        found.append((headers["task"], kwargs, datetime.fromisoformat(headers["eta"])))
    return found


def reload(contest: Contest) -> Contest:
    return Contest.objects.get(pk=contest.pk)


def test_opening_a_question_queues_its_close_at_deadline_plus_grace():
    contest = contest_with_questions(questions=2)

    contest_start(contest_id=contest.pk)

    contest = reload(contest)
    (queued,) = queued_tasks()
    name, kwargs, eta = queued
    assert (name, kwargs["contest_id"], kwargs["attempt"]) == (ADVANCE_TASK, str(contest.pk), 0)
    due = contest.question_deadline + GRACE
    assert timedelta(0) < eta - due < timedelta(milliseconds=10)


def test_a_duplicate_or_early_run_changes_nothing_and_an_early_one_asks_again():
    contest = open_question(contest_with_questions(questions=2), index=1)
    # Due to close in 2 s: an early run (a worker whose clock is ahead) finds nothing due.
    open_question(contest, index=1, started_at=timezone.now() - timedelta(seconds=8))
    get_redis().delete(queue_key())

    contest_advance(contest_id=contest.pk)

    assert reload(contest).question_open is True
    ((name, kwargs, eta),) = queued_tasks()
    assert (name, kwargs["attempt"]) == (ADVANCE_TASK, 1)
    assert abs(eta - (reload(contest).question_deadline + GRACE)) < timedelta(milliseconds=10)
    # The last retry does not ask again: the tick is the safety net.
    get_redis().delete(queue_key())
    contest_advance(contest_id=contest.pk, attempt=3)
    assert queued_tasks() == []

    # Once due, the first run closes it; a duplicate finds nothing to do.
    open_question(contest, index=1, started_at=timezone.now() - timedelta(seconds=11))
    contest_advance(contest_id=contest.pk)
    closed = reload(contest)
    contest_advance(contest_id=contest.pk)
    assert reload(contest).next_question_at == closed.next_question_at
    assert closed.question_open is False and closed.current_question_index == 1


@pytest.mark.e2e
def test_without_beat_a_worker_closes_and_opens_questions_at_their_instants(web_server):
    """No Celery beat, so no tick: only the scheduled tasks move the contest."""
    contest = contest_with_questions(questions=2, close_when_all_answered=False)
    contest.questions.update(time_limit_seconds=5)
    user = UserFactory()
    worker = celery_worker(child_env()).start()

    async def scenario():
        await asyncio.to_thread(worker.wait_for_output, " ready.", 60)
        async with player_on(web_server, user) as p:
            await p.join(contest)
            await db(contest_start)(contest_id=contest.pk)
            first = await p.event("question_broadcast")
            change = await p.event("question_change", timeout=30)
            second = await p.event("question_broadcast", timeout=30)
            return first, change, second

    try:
        first, change, second = run(scenario)
    finally:
        worker.stop()

    def at(value: str) -> datetime:
        return datetime.fromisoformat(value)

    closed_late = at(change["timestamp"]) - (at(first["data"]["deadline"]) + GRACE)
    opened_late = at(second["timestamp"]) - at(change["data"]["nextStartsAt"])
    # Not the benchmark (the machine is shared): far inside the 1 s a tick would take.
    assert timedelta(0) < closed_late < timedelta(milliseconds=900)
    assert timedelta(0) < opened_late < timedelta(milliseconds=900)


def record(**kwargs: str) -> None:
    """A task for the embedded runner to call (by its dotted path)."""
    RECORDED.append((timezone.now(), kwargs))
    RAN.set()


RECORDED: list[tuple[datetime, dict]] = []
RAN = threading.Event()


def test_the_embedded_server_runs_a_task_at_its_instant(settings, monkeypatch):
    """Without REDIS_URL, a timer on the server's loop (core/periodic.py)."""
    settings.REDIS_URL = ""
    RECORDED.clear()
    RAN.clear()

    async def scenario():
        monkeypatch.setattr(periodic, "_loop", asyncio.get_running_loop())
        when = timezone.now() + timedelta(milliseconds=300)
        # From another thread, as a transition's on_commit hook would.
        await asyncio.to_thread(
            periodic.run_task_at, "tests.fairplay.test_on_time.record", when, contest_id="c"
        )
        assert await asyncio.to_thread(RAN.wait, 10)
        return when

    when = run(scenario)
    ((ran_at, kwargs),) = RECORDED
    assert kwargs == {"contest_id": "c"}
    assert timedelta(0) <= ran_at - when < timedelta(milliseconds=500)
