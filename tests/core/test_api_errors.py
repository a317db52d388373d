"""The error format shared by every endpoint, the schema and the docs page."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.http import Http404

from contests.errors import ContestFull
from core.api import errors_by_path, exception_handler

pytestmark = pytest.mark.django_db


def test_an_unknown_api_path_gets_a_json_404(participant_client):
    response = participant_client.get("/api/nothing-here/")

    assert response.status_code == 404
    assert response.json() == {
        "code": "NOT_FOUND",
        "detail": "No API endpoint at /api/nothing-here/.",
    }


def test_a_path_without_its_trailing_slash_gets_a_hint(participant_client):
    response = participant_client.post("/api/contests", {}, format="json")

    assert response.status_code == 404
    assert "end with a slash" in response.json()["detail"]


def test_the_schema_describes_every_endpoint(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/auth/register/",
        "/api/auth/token/",
        "/api/auth/token/refresh/",
        "/api/contests/",
        "/api/contests/{contest_id}/",
        "/api/contests/{contest_id}/register/",
        "/api/contests/{contest_id}/start/",
        "/api/contests/{contest_id}/end/",
        "/api/contests/{contest_id}/cancel/",
        "/api/contests/{contest_id}/pause/",
        "/api/contests/{contest_id}/resume/",
        "/api/contests/{contest_id}/skip/",
        "/api/health/",
    ]:
        assert path in paths, path
    create = paths["/api/contests/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ContestInputRequest"
    )
    assert {"201", "400", "401", "403"} <= set(create["responses"])


def test_the_docs_page_loads_its_assets_from_this_server(api_client):
    page = api_client.get("/api/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    asset = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert asset in html
    assert "cdn" not in html.lower()
    static = api_client.get(asset)
    assert static.status_code == 200
    assert b"".join(static.streaming_content)


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (
            RuntimeError("boom"),
            500,
            {"code": "INTERNAL_ERROR", "detail": "An unexpected error occurred."},
        ),
        (Http404(), 404, {"code": "NOT_FOUND", "detail": "Not found."}),
        (
            PermissionDenied(),
            403,
            {
                "code": "PERMISSION_DENIED",
                "detail": "You do not have permission to perform this action.",
            },
        ),
        (
            ValidationError("Not like this."),
            400,
            {
                "code": "VALIDATION_ERROR",
                "detail": "The input is not valid.",
                "errors": {"non_field_errors": ["Not like this."]},
            },
        ),
        (ContestFull(), 409, {"code": "CONTEST_FULL", "detail": ContestFull.default_message}),
    ],
)
def test_the_exception_handler_turns_every_error_into_json(exc, status, body):
    response = exception_handler(exc, {"view": None})

    assert (response.status_code, response.data) == (status, body)


def test_nested_serializer_errors_are_keyed_by_dotted_path():
    detail = {
        "title": ["Required."],
        "questions": [{}, {"choices": [{}, {"text": ["Blank."]}], "non_field_errors": ["Odd."]}],
        "accepted_answers": {0: ["Too long."]},
    }

    assert errors_by_path(detail) == {
        "title": ["Required."],
        "questions.1.choices.1.text": ["Blank."],
        "questions.1": ["Odd."],
        "accepted_answers.0": ["Too long."],
    }


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    # --fail-on-warn turns drf-spectacular's warnings (an undescribed view, a guessed
    # type) into a failure, so the schema stays complete as endpoints are added.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")
