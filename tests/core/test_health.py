"""GET /api/health/"""

import json
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from core import redis as redis_clients
from tests.servers import WebServer, child_env

URL = "/api/health/"


@pytest.mark.django_db
def test_it_reports_both_services_ok_without_authentication(api_client):
    response = api_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_it_ignores_a_bad_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")

    assert api_client.get(URL).status_code == 200


@pytest.mark.django_db
def test_it_answers_503_when_redis_is_unreachable(api_client, monkeypatch):
    # A real client to a port where nothing listens.
    monkeypatch.setattr(settings, "REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(redis_clients, "_sync_client", None)

    response = api_client.get(URL)

    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "error"}


@pytest.mark.django_db
def test_it_reports_redis_disabled_as_healthy_in_embedded_mode(api_client, monkeypatch):
    monkeypatch.setattr(settings, "REDIS_URL", "")

    response = api_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "disabled"}


@pytest.mark.e2e
def test_it_answers_503_from_a_server_whose_database_is_unreachable(tmp_path):
    env = child_env(DATABASE_URL=f"sqlite:///{tmp_path}/missing/db.sqlite3", REDIS_URL=None)
    server = WebServer(env).start()
    try:
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(server.http_url + URL, timeout=30)
        assert raised.value.code == 503
        assert json.load(raised.value) == {"database": "error", "redis": "disabled"}
    finally:
        server.stop()
