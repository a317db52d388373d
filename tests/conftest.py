"""Shared users, clients and service fixtures. Every test runs against the real
PostgreSQL and Redis named by DATABASE_URL and REDIS_URL (see Makefile)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis database (the tests' own, REDIS_URL's db)."""
    from core.redis import get_redis

    client = get_redis()
    if client is not None:
        client.flushdb()
    yield


@pytest.fixture
def organizer(db) -> User:
    """Like seed_demo's organizer: a superuser, so every contest permission."""
    return UserFactory(username="organizer", display_name="Orga", is_staff=True, is_superuser=True)


@pytest.fixture
def participant(db) -> User:
    return UserFactory(username="player", display_name="Player One")


@pytest.fixture
def outsider(db) -> User:
    return UserFactory(username="outsider", display_name="Outsider")


class Broadcasts(list):
    """What went out through realtime.broadcast, as (contest_id, event, data) tuples."""

    def events(self, contest_id: object | None = None) -> list[str]:
        return [e for c, e, _ in self if contest_id is None or c == str(contest_id)]

    def data(self, event: str) -> list[dict]:
        return [d for _, e, d in self if e == event]


@pytest.fixture
def broadcasts(monkeypatch) -> Broadcasts:
    """Records every push through realtime.broadcast; the pushes still go out (to the
    tests' Redis event log and channel layer)."""
    from realtime.outbound import broadcast

    sent = Broadcasts()
    send_to_contest, send_ephemeral = broadcast.send_to_contest, broadcast.send_ephemeral

    def recording_send_to_contest(contest_id, event, data, **kwargs):
        logged = send_to_contest(contest_id, event, data, **kwargs)
        sent.append((str(contest_id), event, data))
        return logged

    def recording_send_ephemeral(contest_id, event, data):
        send_ephemeral(contest_id, event, data)
        sent.append((str(contest_id), event, data))

    monkeypatch.setattr(broadcast, "send_to_contest", recording_send_to_contest)
    monkeypatch.setattr(broadcast, "send_ephemeral", recording_send_ephemeral)
    return sent


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Call a service and then run what it queued for after its commit (the broadcasts),
    inside the test's transaction."""

    def run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return run


def backend_pid() -> int:
    """The PostgreSQL backend of this thread's connection (each thread has its own)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def wait_until_blocked(pid: int, *, table: str | None = None, timeout: float = 10) -> None:
    """Return once backend `pid` waits for a lock held by this thread's connection (for a
    row of `table`, if given); fail after `timeout`. Tests running beside this one on
    the same server cannot satisfy it."""
    query = "SELECT pg_backend_pid() = ANY(pg_blocking_pids(%s))"
    params: list[object] = [pid]
    if table is not None:
        # A backend waiting for a row holds (or waits for) that row's tuple lock.
        query += (
            " AND EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND locktype = 'tuple'"
            " AND relation = %s::regclass)"
        )
        params += [pid, table]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)
    raise AssertionError(f"Backend {pid} never waited for this test's lock.")


class DatabaseThread(threading.Thread):
    """Runs `work()` in a thread, so on a database connection of its own; `result` or
    `error` is what it returned or raised."""

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__()
        self.work = work
        self.result: object = None
        self.error: BaseException | None = None
        self._pid: int | None = None
        self._pid_known = threading.Event()

    def run(self) -> None:
        try:
            self._pid = backend_pid()
            self._pid_known.set()
            self.result = self.work()
        except BaseException as exc:  # the test checks it
            self.error = exc
        finally:
            connection.close()

    def start_until_blocked(self, *, table: str | None = None) -> None:
        """Start, and return once the thread waits for a lock this test's connection
        holds (see wait_until_blocked)."""
        self.start()
        assert self._pid_known.wait(10), "The thread did not reach the database."
        wait_until_blocked(self._pid, table=table)

    def outcome(self) -> object:
        """Wait for the thread; what `work()` returned, or its exception re-raised."""
        self.join(30)
        assert not self.is_alive(), "The thread did not finish."
        if self.error is not None:
            raise self.error
        return self.result


def access_token_for(user: User) -> str:
    return str(AccessToken.for_user(user))


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return client


@pytest.fixture
def organizer_client(organizer) -> APIClient:
    return client_for(organizer)


@pytest.fixture
def participant_client(participant) -> APIClient:
    return client_for(participant)


@pytest.fixture
def outsider_client(outsider) -> APIClient:
    return client_for(outsider)


def pytest_report_header(config):
    return f"database: {settings.DATABASES['default']['NAME']}  redis: {settings.REDIS_URL}"


pytest_plugins = ["tests.servers"]
