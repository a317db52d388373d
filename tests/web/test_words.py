"""The pages say every error code and close reason of docs/PROTOCOL.md in words: the
table in static/web/words.js must not fall behind the protocol."""

from __future__ import annotations

import re

from tests.servers import ROOT

PROTOCOL = (ROOT / "docs" / "PROTOCOL.md").read_text()
WORDS = (ROOT / "web" / "static" / "web" / "words.js").read_text()
# Announced by the fair-play and reliability work; the pages handle them already.
ANNOUNCED_CODES = {"PARTICIPANT_REMOVED", "SERVICE_UNAVAILABLE"}
ANNOUNCED_REASONS = {"removed from contest"}


def section(title: str) -> str:
    return PROTOCOL.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def table(name: str) -> str:
    """The body of `export const NAME = {...};` in words.js."""
    return WORDS.split(f"export const {name} = {{", 1)[1].split("\n};", 1)[0]


def test_every_error_code_of_the_protocol_has_words_for_players():
    codes = set(re.findall(r"^\| `([A-Z_]+)` \|", section("Errors"), re.MULTILINE))
    assert len(codes) >= 13
    socket_errors = table("SOCKET_ERRORS")
    for code in codes | ANNOUNCED_CODES:
        assert re.search(rf"^\s+{code}: ", socket_errors, re.MULTILINE), code


def test_every_close_reason_of_the_protocol_has_words_for_players():
    rows = re.findall(
        r"^\| \d{4} \| ([^|]+) \|", section("Connecting") + section("Close codes"), re.MULTILINE
    )
    reasons = {reason for cell in rows for reason in re.findall(r"`([^`]+)`", cell)}
    assert {"missing token", "token expired", "too many connections"} <= reasons
    close_reasons = table("CLOSE_REASONS")
    for reason in reasons | ANNOUNCED_REASONS:
        assert f'"{reason}":' in close_reasons, reason


def test_every_error_code_of_the_rest_api_has_words():
    api = (ROOT / "docs" / "API.md").read_text()
    codes = set(re.findall(r"^\| \d{3} \| `([A-Z_]+)` \|", api, re.MULTILINE))
    assert {"NO_ACTIVE_ACCOUNT", "CONTEST_FULL", "INVALID_TRANSITION"} <= codes
    api_errors = table("API_ERRORS")
    for code in codes:
        assert re.search(rf"^\s+{code}: ", api_errors, re.MULTILINE), code
