"""POST /api/auth/register/, /api/auth/token/, /api/auth/token/refresh/"""

import pytest

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "violet-lantern-47"


def test_register_creates_an_account_and_answers_201(api_client):
    response = api_client.post(
        "/api/auth/register/",
        {"username": "alice", "password": GOOD_PASSWORD, "display_name": "Alice"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "username": "alice", "display_name": "Alice"}
    assert User.objects.get(pk=body["id"]).check_password(GOOD_PASSWORD)


def test_register_answers_a_weak_password_with_a_field_error(api_client):
    response = api_client.post(
        "/api/auth/register/", {"username": "alice", "password": "123"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert list(body["errors"]) == ["password"]
    assert len(body["errors"]["password"]) >= 2


def test_register_answers_a_taken_username_with_a_field_error(api_client):
    UserFactory(username="alice")

    response = api_client.post(
        "/api/auth/register/", {"username": "alice", "password": GOOD_PASSWORD}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"username": ["A user with that username already exists."]}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"username", "password"}),
        ({"username": ["x"], "password": {"a": 1}}, {"username", "password"}),
        (
            {"username": "bob", "password": GOOD_PASSWORD, "display_name": "x" * 51},
            {"display_name"},
        ),
        ({"username": "b" * 151, "password": GOOD_PASSWORD}, {"username"}),
    ],
)
def test_register_answers_missing_or_mistyped_fields_with_400(api_client, body, fields):
    response = api_client.post("/api/auth/register/", body, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == fields
    assert not User.objects.exists()


def test_register_ignores_a_bad_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")

    response = api_client.post(
        "/api/auth/register/", {"username": "alice", "password": GOOD_PASSWORD}, format="json"
    )

    assert response.status_code == 201


def test_token_gives_an_access_and_refresh_pair_that_authenticates(api_client, participant):
    response = api_client.post(
        "/api/auth/token/", {"username": "player", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    tokens = response.json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get("/api/contests/").status_code == 200


def test_token_answers_wrong_credentials_with_401(api_client, participant):
    response = api_client.post(
        "/api/auth/token/", {"username": "player", "password": "wrong"}, format="json"
    )

    assert response.status_code == 401
    assert response.json() == {
        "code": "NO_ACTIVE_ACCOUNT",
        "detail": "No active account found with the given credentials",
    }


def test_token_refuses_an_inactive_user(api_client):
    UserFactory(username="gone", is_active=False)

    response = api_client.post(
        "/api/auth/token/", {"username": "gone", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 401


def test_token_answers_missing_fields_with_400(api_client):
    response = api_client.post("/api/auth/token/", {"username": "player"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["password"]


def test_refresh_gives_a_new_access_token(api_client, participant):
    tokens = api_client.post(
        "/api/auth/token/", {"username": "player", "password": PASSWORD}, format="json"
    ).json()

    response = api_client.post(
        "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["access"]


def test_refresh_answers_a_bad_token_with_401(api_client):
    response = api_client.post("/api/auth/token/refresh/", {"refresh": "nope"}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_NOT_VALID"


def test_refresh_refuses_an_access_token(api_client, participant):
    access = api_client.post(
        "/api/auth/token/", {"username": "player", "password": PASSWORD}, format="json"
    ).json()["access"]

    response = api_client.post("/api/auth/token/refresh/", {"refresh": access}, format="json")

    assert response.status_code == 401
