"""Bad input to the REST API (issue 13): every one gets its documented error (docs/API.md),
never a 500 and never a traceback in the log.

Bodies are sent as raw JSON text: a lone surrogate is the six characters `\\udfff` of a
JSON escape, which Python's JSON decoder turns into a str that no database can store.
"""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from core.api import StrictSerializer
from tests.conftest import client_for
from tests.factories import contest_document, contest_with_questions

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-passphrase-7"


def send(client, method: str, path: str, body: str | bytes):
    return getattr(client, method)(path, data=body, content_type="application/json")


def register_body(**fields: object) -> str:
    return json.dumps({"username": "sam", "password": PASSWORD, **fields})


# --- A lone surrogate anywhere in a body: 400 PARSE_ERROR ----------------------------------


def _surrogate_cases() -> list:
    document = json.dumps(contest_document(title="\udfff"))
    nested = contest_document()
    nested["questions"][0]["choices"][1]["text"] = "Ve\udfffnus"
    return [
        pytest.param(
            "anonymous", "post", "/api/auth/register/", register_body(display_name="\udfff"),
            id="register.display_name",
        ),
        pytest.param(
            "anonymous", "post", "/api/auth/register/", register_body(username="s\udfff"),
            id="register.username",
        ),
        pytest.param(
            "anonymous", "post", "/api/auth/register/", register_body(password="pass\ud800word-42"),
            id="register.password (high surrogate)",
        ),
        pytest.param(
            "anonymous", "post", "/api/auth/register/",
            register_body(**{"\udfff": 1}),
            id="register, a key",
        ),
        pytest.param(
            "anonymous", "post", "/api/auth/register/",
            register_body(display_name="\udc00\ud800"),
            id="register, a reversed pair",
        ),
        pytest.param(
            "anonymous", "post", "/api/auth/token/",
            json.dumps({"username": "\udfff", "password": PASSWORD}),
            id="token.username",
        ),
        pytest.param(
            "anonymous", "post", "/api/auth/token/refresh/", json.dumps({"refresh": "\udfff"}),
            id="token/refresh.refresh",
        ),
        pytest.param("organizer", "post", "/api/contests/", document, id="contests.title"),
        pytest.param(
            "organizer", "post", "/api/contests/", json.dumps(nested),
            id="contests.questions.0.choices.1.text",
        ),
        pytest.param(
            "organizer", "patch", "/api/contests/{contest}/",
            json.dumps({"description": "\udfff"}),
            id="contest.description (PATCH)",
        ),
        pytest.param(
            "organizer", "put", "/api/contests/{contest}/",
            json.dumps(contest_document(questions=[{"type": "text", "text": "?",
                                                    "accepted_answers": ["\udfff"]}])),
            id="contest.questions.0.accepted_answers.0 (PUT)",
        ),
        pytest.param(
            "participant", "post", "/api/contests/{contest}/register/",
            json.dumps({"display_name": "\udfff"}),
            id="contest register.display_name",
        ),
    ]  # fmt: skip


@pytest.mark.parametrize(("who", "method", "path", "body"), _surrogate_cases())
def test_a_lone_surrogate_anywhere_in_a_body_is_a_parse_error(
    who, method, path, body, organizer, participant, errors_logged
):
    assert "\\ud" in body and body.isascii(), "the surrogate travels as a JSON escape"
    contest = contest_with_questions(questions=1)
    client = {
        "anonymous": APIClient(),
        "organizer": client_for(organizer),
        "participant": client_for(participant),
    }[who]

    response = send(client, method, path.format(contest=contest.pk), body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "PARSE_ERROR"
    assert response.json()["detail"]
    assert errors_logged() == []


def test_text_that_is_not_utf_8_is_a_parse_error(api_client, errors_logged):
    # What a client that encodes a lone surrogate itself sends (CESU-8 style bytes).
    body = b'{"username": "sam", "password": "a-long-passphrase-7", "display_name": "\xed\xbf\xbf"}'

    response = send(api_client, "post", "/api/auth/register/", body)

    assert response.status_code == 400
    assert response.json()["code"] == "PARSE_ERROR"
    assert errors_logged() == []


def test_an_escaped_surrogate_pair_is_ordinary_text(api_client):
    body = register_body(display_name="Sam \U0001f600")
    assert "\\ud83d\\ude00" in body

    response = send(api_client, "post", "/api/auth/register/", body)

    assert response.status_code == 201, response.content
    assert response.json()["display_name"] == "Sam \U0001f600"


# --- Bodies too large or too deep ------------------------------------------------------------


def _body_of_size(size: int) -> str:
    head = f'{{"username": "big", "password": "{PASSWORD}", "display_name": "'
    body = head + "x" * (size - len(head) - 2) + '"}'
    assert len(body.encode()) == size
    return body


@pytest.mark.parametrize(
    ("who", "path"),
    [("anonymous", "/api/auth/register/"), ("organizer", "/api/contests/")],
)
def test_a_body_over_the_upload_limit_is_413_request_too_large(
    who, path, api_client, organizer, errors_logged
):
    client = client_for(organizer) if who == "organizer" else api_client

    response = send(client, "post", path, _body_of_size(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))

    assert response.status_code == 413, response.content[:300]
    body = response.json()
    assert body["code"] == "REQUEST_TOO_LARGE"
    assert isinstance(body["detail"], str) and body["detail"]
    assert errors_logged() == []


def test_a_body_of_exactly_the_upload_limit_is_read(api_client):
    response = send(
        api_client,
        "post",
        "/api/auth/register/",
        _body_of_size(settings.DATA_UPLOAD_MAX_MEMORY_SIZE),
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["display_name"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 50_000 + "]" * 50_000, id="arrays"),
        pytest.param('{"a": ' * 50_000 + "1" + "}" * 50_000, id="objects"),
        pytest.param(
            '{"username": "sam", "password": "x", "display_name": '
            + "[" * 50_000
            + "]" * 50_000
            + "}",
            id="in a field",
        ),
    ],
)
@pytest.mark.parametrize(
    ("who", "path"),
    [("anonymous", "/api/auth/register/"), ("organizer", "/api/contests/")],
)
def test_a_body_nested_50_000_deep_is_a_parse_error(
    who, path, body, api_client, organizer, errors_logged
):
    client = client_for(organizer) if who == "organizer" else api_client

    response = send(client, "post", path, body)

    assert response.status_code == 400
    assert response.json()["code"] == "PARSE_ERROR"
    assert errors_logged() == []


# --- A validly signed token whose user id is not a UUID ------------------------------------


def token_with_user_id(user_id: object) -> str:
    """An access token signed with SECRET_KEY, as simplejwt makes them (token_type, exp,
    iat, jti), carrying `user_id`."""
    token = AccessToken()
    token[jwt_settings.USER_ID_CLAIM] = user_id
    return str(token)


NOT_UUIDS = [
    pytest.param("not-a-uuid", id="text"),
    pytest.param("", id="empty"),
    pytest.param("0b7c6f0e-3c9a-4f7e-9d0b-6f1a2b3c4d5", id="one digit short"),
    pytest.param("\udfff", id="lone surrogate"),
    pytest.param("\x00", id="NUL"),
    pytest.param(1.5, id="float"),
    pytest.param(-1, id="negative int"),
    pytest.param(2**200, id="huge int"),
    pytest.param(["x"], id="list"),
    pytest.param({"id": 1}, id="object"),
]


@pytest.mark.parametrize("user_id", NOT_UUIDS)
def test_a_token_whose_user_id_is_not_a_uuid_is_401_token_not_valid(
    user_id, api_client, participant, errors_logged
):
    # The same token with a real user's id authenticates: only the id is wrong.
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_with_user_id(str(participant.pk))}")
    assert api_client.get("/api/contests/").status_code == 200

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_with_user_id(user_id)}")
    response = api_client.get("/api/contests/")

    assert response.status_code == 401, response.content
    assert response.json()["code"] == "TOKEN_NOT_VALID"
    assert errors_logged() == []


# --- Registering without a display name -----------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [pytest.param({}, id="omitted"), pytest.param({"display_name": ""}, id="blank")],
)
def test_registering_without_a_display_name_uses_the_username(extra, api_client):
    response = api_client.post(
        "/api/auth/register/", {"username": "quiet_sam", "password": PASSWORD, **extra}, "json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["display_name"] == "quiet_sam"


# --- Unknown fields: the schema forbids them and the server refuses them ------------------


def _strict_serializers() -> list[type[StrictSerializer]]:
    found, todo = [], [StrictSerializer]
    while todo:
        for subclass in todo.pop().__subclasses__():
            found.append(subclass)
            todo.append(subclass)
    return found


def test_every_request_schema_of_a_strict_serializer_forbids_unknown_fields(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    components = response.json()["components"]["schemas"]

    strict = {cls.__name__.removesuffix("Serializer") for cls in _strict_serializers()}
    assert {"ContestInput", "QuestionInput", "ChoiceInput", "ParticipantRegisterInput"} <= strict
    requests = {
        name: base
        for name in components
        if (match := re.fullmatch(r"(?:Patched)?(\w+?)Request", name))
        and (base := match.group(1)) in strict
    }
    assert set(requests.values()) == strict, "every strict serializer has a request schema"
    assert {name: components[name].get("additionalProperties") for name in requests} == {
        name: False for name in requests
    }


def _unknown_field_cases() -> list:
    question = contest_document()["questions"][0]
    return [
        pytest.param(
            "post", "/api/contests/", contest_document(colour="red"), "colour",
            id="ContestInputRequest",
        ),
        pytest.param(
            "post", "/api/contests/",
            contest_document(questions=[{**question, "colour": "red"}]),
            "questions.0.colour",
            id="QuestionInputRequest",
        ),
        pytest.param(
            "post", "/api/contests/",
            contest_document(
                questions=[{**question, "choices": [*question["choices"], {"text": "Io", "x": 1}]}]
            ),
            "questions.0.choices.2.x",
            id="ChoiceInputRequest",
        ),
        pytest.param(
            "put", "/api/contests/{contest}/", contest_document(colour="red"), "colour",
            id="ContestInputRequest (PUT)",
        ),
        pytest.param(
            "patch", "/api/contests/{contest}/", {"title": "New", "colour": "red"}, "colour",
            id="PatchedContestInputRequest",
        ),
        pytest.param(
            "post", "/api/contests/{contest}/register/", {"display_name": "Sam", "colour": "red"},
            "colour",
            id="ParticipantRegisterInputRequest",
        ),
    ]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "field"), _unknown_field_cases())
def test_the_server_refuses_an_unknown_field_with_400_naming_it(
    method, path, body, field, organizer, errors_logged
):
    contest = contest_with_questions(questions=1)
    client = client_for(organizer)

    response = send(client, method, path.format(contest=contest.pk), json.dumps(body))

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["errors"][field] == ["Unknown field."]
    assert errors_logged() == []


# --- What the schema forbids, the server refuses (found by tests/reliability/test_schemathesis)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("status=", "status", id="status empty"),
        pytest.param("status=open", "status", id="status outside the enum"),
        pytest.param("join_code=", "join_code", id="join_code empty"),
        pytest.param("page_size=AAA", "page_size", id="page_size text"),
        pytest.param("page_size=0.5", "page_size", id="page_size fraction"),
        pytest.param("page_size=true", "page_size", id="page_size true"),
        pytest.param("page_size=", "page_size", id="page_size empty"),
    ],
)
def test_a_query_value_the_schema_forbids_is_a_400_naming_it(query, field, participant_client):
    # docs/API.md: "?status= ... anything else is a 400"; the schema: join_code has at least
    # one character, page_size is an integer.
    response = participant_client.get(f"/api/contests/?{query}")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert field in response.json()["errors"]


def _not_a_string_cases() -> list:
    question = contest_document()["questions"][3]  # text
    return [
        pytest.param(
            "post", "/api/contests/{contest}/register/", {"display_name": 0}, "display_name",
            id="register for a contest: display_name 0",
        ),
        pytest.param(
            "post", "/api/auth/register/", {"username": "sam", "password": PASSWORD,
                                            "display_name": 7},
            "display_name",
            id="register: display_name 7",
        ),
        pytest.param(
            "post", "/api/contests/", contest_document(title=42), "title",
            id="create: title 42",
        ),
        pytest.param(
            "post", "/api/contests/",
            contest_document(questions=[{**question, "accepted_answers": [3.5]}]),
            "questions.0.accepted_answers.0",
            id="create: an accepted answer 3.5",
        ),
    ]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "field"), _not_a_string_cases())
def test_a_number_where_the_schema_asks_for_a_string_is_a_400_naming_it(
    method, path, body, field, organizer
):
    contest = contest_with_questions(questions=1)

    response = send(
        client_for(organizer), method, path.format(contest=contest.pk), json.dumps(body)
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert field in response.json()["errors"]
