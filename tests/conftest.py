"""Shared users, clients and service fixtures. Every test runs against the real
PostgreSQL and Redis named by DATABASE_URL and REDIS_URL (see Makefile)."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis database (the tests' own, REDIS_URL's db)."""
    from contestsite.redis import get_redis

    client = get_redis()
    if client is not None:
        client.flushdb()
    yield


@pytest.fixture
def organizer(db) -> User:
    return UserFactory(username="organizer", display_name="Orga", is_staff=True)


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
    from realtime import broadcast

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
