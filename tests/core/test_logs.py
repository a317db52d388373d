"""core.logs: text or JSON lines, with the ids of what they concern and never a credential;
and a real web server's whole output under LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import pytest

from core import logs
from tests.conftest import access_token_for
from tests.realtime.conftest import run
from tests.realtime.daphne_client import open_socket
from tests.servers import WebServer, child_env

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoiNDIifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


def record(message: str, *args: object, exc: BaseException | None = None, **extra: object):
    made = logging.LogRecord("contests.test", logging.WARNING, __file__, 1, message, args, None)
    if exc is not None:
        made.exc_info = (type(exc), exc, exc.__traceback__)
    for key, value in extra.items():
        setattr(made, key, value)
    logs.ContextFilter().filter(made)
    return made


def failure_with(text: str) -> BaseException:
    try:
        raise ValueError(text)
    except ValueError as exc:
        return exc


FORMATTERS = {
    "text": logs.TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"),
    "json": logs.JsonFormatter(),
}


def test_a_json_line_has_level_logger_message_and_the_ids_bound_where_it_was_made():
    with logs.bound(request_id="r-1", user_id="u-7", contest_id="c-3"):
        made = record("Closed question %d", 4)

    line = json.loads(FORMATTERS["json"].format(made))

    assert line["level"] == "WARNING"
    assert line["logger"] == "contests.test"
    assert line["message"] == "Closed question 4"
    assert (line["request_id"], line["user_id"], line["contest_id"]) == ("r-1", "u-7", "c-3")
    assert "time" in line


def test_ids_that_are_not_known_are_left_out():
    line = json.loads(FORMATTERS["json"].format(record("Nothing bound")))

    assert not {"request_id", "user_id", "contest_id"} & set(line)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_tokens_and_passwords_never_appear_in_a_line(log_format):
    formatter = FORMATTERS[log_format]
    made = record(
        "GET /ws/contest?token=%s with password=%s",
        JWT,
        "hunter2-secret",
        exc=failure_with(f'{{"refresh": "{JWT}", "password": "hunter2-secret"}}'),
        url=f"/api/x?access={JWT}",
    )
    logs.RedactCredentials().filter(made)

    line = formatter.format(made)

    assert JWT not in line and "hunter2-secret" not in line
    assert logs.REDACTED in line
    if log_format == "json":
        parsed = json.loads(line)
        assert "ValueError" in parsed["exc_info"]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_web_server_under_log_format_json_writes_only_json_lines_without_tokens(participant):
    server = WebServer(child_env(LOG_FORMAT="json")).start()
    token = access_token_for(participant)
    try:
        for url, host in [
            ("/api/nowhere/", None),
            (f"/ws/contest?token={token}", None),
            ("/api/health/", "contest.example.org"),
            ("/api/contests/", None),
        ]:
            request = urllib.request.Request(f"{server.http_url}{url}")
            if host:
                request.add_header("Host", host)
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(request, timeout=10)
        authorized = urllib.request.Request(f"{server.http_url}/api/contests/")
        authorized.add_header("Authorization", f"Bearer {token}")
        urllib.request.urlopen(authorized, timeout=10).close()

        async def refused_and_accepted_sockets():
            await (await open_socket(server, token + "x")).close_frame()
            socket = await open_socket(server, token)
            await socket.request("ping")
            await socket.close()

        run(refused_and_accepted_sockets)
        output = server.output()
    finally:
        server.stop()

    lines = [json.loads(line) for line in output.splitlines()]
    assert token not in output
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    requests = [line for line in lines if line["logger"] == "core.requests"]
    assert [line["message"].split()[:3] for line in requests] == [
        ["GET", "/api/nowhere/", "404"],
        ["GET", "/ws/contest", "404"],
        ["GET", "/api/contests/", "401"],
        ["GET", "/api/contests/", "200"],
    ]
    assert requests[-1]["user_id"] == str(participant.pk)
    assert all(len(line["request_id"]) == 32 for line in requests)
    (host,) = [line for line in lines if "HTTP_HOST" in line["message"]]
    assert host["level"] == "WARNING" and "exc_info" not in host
