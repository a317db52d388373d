"""The contest page in a real browser at 1,280 px: it fits, and each question shows the
fields of its type only (contests/static/contests/admin/question_types.js)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse

from contests import services
from tests.browser import CHROMIUM, Page, chromium_page
from tests.factories import UserFactory, contest_of_every_type
from tests.realtime.conftest import run
from tests.servers import WebServer, child_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian package chromium)"),
]

WINDOW = 1280
# Whether the parts of question block i are shown.
SHOWN = """
(() => {
  const block = document.getElementById("questions-%d");
  const visible = (selector) => {
    const node = block.querySelector(selector);
    return node !== null && node.offsetParent !== null;
  };
  return {
    numeric: visible(".field-numeric_answer, .field-numeric_answer_shown"),
    text: visible(".field-accepted_answers"),
    choices: visible('[id$="choices-group"]'),
  };
})()
"""
WIDTH = "document.documentElement.scrollWidth"


@pytest.fixture
def server() -> Iterator[WebServer]:
    server = WebServer(child_env()).start()
    try:
        yield server
    finally:
        server.stop()


def signed_in_organizer() -> dict[str, str]:
    user = UserFactory(username="olga", is_staff=True, is_superuser=True)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return {"sessionid": session.session_key}


def browse(server: WebServer, path: str, scenario) -> object:
    cookies = signed_in_organizer()

    async def visit() -> object:
        async with chromium_page(width=WINDOW, cookies=cookies, host="127.0.0.1") as page:
            await page.open(f"{server.http_url}{path}")
            return await scenario(page)

    return run(visit)


def test_a_new_contest_page_fits_and_switches_fields_with_the_type(server):
    async def scenario(page: Page) -> dict:
        seen = {"width": await page.evaluate(WIDTH), "new": await page.evaluate(SHOWN % 0)}
        for question_type in ("numeric", "text", "multiple_choice"):
            await page.evaluate(
                "(() => { const s = document.getElementById('id_questions-0-type');"
                f" s.value = '{question_type}';"
                " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
            )
            seen[question_type] = await page.evaluate(SHOWN % 0)
        return seen

    seen = browse(server, reverse("admin:contests_contest_add"), scenario)

    assert seen["width"] <= WINDOW
    assert seen["new"] == {"numeric": False, "text": False, "choices": True}
    assert seen["numeric"] == {"numeric": True, "text": False, "choices": False}
    assert seen["text"] == {"numeric": False, "text": True, "choices": False}
    assert seen["multiple_choice"] == {"numeric": False, "text": False, "choices": True}


@pytest.mark.parametrize("started", [False, True])
def test_a_contest_of_every_type_fits_and_each_question_shows_its_own_fields(server, started):
    contest = contest_of_every_type()
    if started:
        services.contest_start(contest_id=contest.pk)

    async def scenario(page: Page) -> dict:
        return {
            "width": await page.evaluate(WIDTH),
            "blocks": [await page.evaluate(SHOWN % i) for i in range(4)],
        }

    seen = browse(server, reverse("admin:contests_contest_change", args=[contest.pk]), scenario)

    assert seen["width"] <= WINDOW
    assert seen["blocks"] == [
        {"numeric": False, "text": False, "choices": True},
        {"numeric": False, "text": False, "choices": True},
        {"numeric": True, "text": False, "choices": False},
        {"numeric": False, "text": True, "choices": False},
    ]
