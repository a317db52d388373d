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
