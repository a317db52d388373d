"""core.middleware: the Host check and the request's log line and id."""

from __future__ import annotations

import logging

import pytest

from tests.factories import ContestFactory

pytestmark = pytest.mark.django_db


def test_a_host_not_served_gets_a_json_400_and_one_warning_line(client, caplog):
    with caplog.at_level(logging.INFO):
        response = client.get("/api/health/", HTTP_HOST="contest.example.org")

    assert response.status_code == 400
    assert response.json()["code"] == "DISALLOWED_HOST"
    assert [(r.name, r.levelname, r.exc_info) for r in caplog.records] == [
        ("django.security.DisallowedHost", "WARNING", None)
    ]


def test_a_404_is_logged_once(client, caplog):
    with caplog.at_level(logging.INFO):
        response = client.get("/api/nowhere/")

    assert response.status_code == 404
    assert [(r.name, r.levelname, r.getMessage().split()[:3]) for r in caplog.records] == [
        ("core.requests", "WARNING", ["GET", "/api/nowhere/", "404"])
    ]


def test_each_request_gets_an_id_that_its_lines_carry_and_its_response_echoes(client, caplog):
    with caplog.at_level(logging.INFO):
        response = client.get("/api/contests/")

    (line,) = [r for r in caplog.records if r.name == "core.requests"]
    assert len(response["X-Request-ID"]) == 32
    assert line.request_id == response["X-Request-ID"]


def test_a_request_id_sent_by_a_proxy_is_kept_and_a_malformed_one_replaced(client):
    kept = client.get("/api/health/", HTTP_X_REQUEST_ID="lb-1234.abc")
    replaced = client.get("/api/health/", HTTP_X_REQUEST_ID="no spaces <allowed>")

    assert kept["X-Request-ID"] == "lb-1234.abc"
    assert replaced["X-Request-ID"] != "no spaces <allowed>"


def test_the_line_of_a_signed_in_request_names_the_user_and_the_contest(
    organizer_client, organizer, caplog
):
    contest = ContestFactory()
    with caplog.at_level(logging.INFO):
        organizer_client.get(f"/api/contests/{contest.pk}/")

    (line,) = [r for r in caplog.records if r.name == "core.requests"]
    assert line.user_id == str(organizer.pk)
    assert line.contest_id == str(contest.pk)


def test_the_line_never_has_the_query_string(client, caplog):
    with caplog.at_level(logging.INFO):
        client.get("/api/health/?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")

    assert "token" not in caplog.text
