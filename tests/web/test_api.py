"""POST /api/auth/session-token/: the host screen's socket token from the admin's session."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.middleware.csrf import CSRF_SECRET_LENGTH
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import access_token_for
from tests.factories import staff_user

pytestmark = pytest.mark.django_db

URL = "/api/auth/session-token/"


def session_client(user) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_token(client: APIClient) -> str:
    """The CSRF cookie a page of this site would have set, and its value for the header."""
    secret = "k" * CSRF_SECRET_LENGTH
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    return secret


def test_a_signed_in_organizer_gets_a_short_lived_access_token_for_themselves(organizer):
    client = session_client(organizer)

    response = client.post(URL, HTTP_X_CSRFTOKEN=csrf_token(client))

    assert response.status_code == 200
    body = response.json()
    token = AccessToken(body["access"])
    assert token["user_id"] == str(organizer.pk)
    assert body["expires_in"] == 300
    assert token["exp"] - token["iat"] == 300


def test_the_token_endpoint_needs_the_csrf_token(organizer):
    response = session_client(organizer).post(URL)

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    assert "CSRF" in response.json()["detail"]


def test_the_token_endpoint_refuses_players(participant):
    client = session_client(participant)

    response = client.post(URL, HTTP_X_CSRFTOKEN=csrf_token(client))

    assert response.status_code == 403


def test_the_token_endpoint_refuses_anonymous_visitors():
    response = APIClient(enforce_csrf_checks=True).post(URL)

    assert response.status_code == 403
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_a_jwt_cannot_mint_session_tokens(organizer):
    # Only the admin's session: a token must not renew itself here forever.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(organizer)}")

    assert client.post(URL).status_code == 403


def test_staff_get_a_token_like_organizers():
    helper = staff_user()
    client = session_client(helper)

    response = client.post(URL, HTTP_X_CSRFTOKEN=csrf_token(client))

    assert AccessToken(response.json()["access"])["user_id"] == str(helper.pk)


def test_the_schema_describes_the_session_token_endpoint(api_client):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]

    assert {"200", "403"} <= set(paths[URL]["post"]["responses"])
