"""The pages played end to end in Chromium against the real stack (uvicorn, Celery worker
and beat, PostgreSQL, Redis): a host screen and players in separate browser contexts,
a dropped socket, an expired token, and device clocks that disagree. Each page state is
screenshotted under test-artifacts/ and checked with axe-core."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, expect
from websockets.sync.client import connect

from contests.models import Contest
from contests.services import contest_start
from tests.conftest import access_token_for
from tests.factories import PASSWORD, UserFactory, contest_with_questions
from tests.web.browser import (
    BIG_SCREEN,
    PHONE,
    WAIT_MS,
    HostPage,
    PlayerPage,
    checkpoint,
    clock_ahead,
    jwt_expiry,
    wait_until_past,
)
from tests.web.conftest import Site

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIRST, SECOND, THIRD = "Question 1?", "Question 2?", "Question 3?"
# What a player sees after answering while grades wait for the close (answer_reveal on_close).
NO_GRADE_YET = "Answer received — results when time is up."
FROZEN = "Leaderboard frozen: the final standings will tell."


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Unlike the other tests, Redis is not flushed between these: the module's Celery
    worker keeps its queue there (the site fixture flushes it once). Each test plays a
    contest of its own."""
    yield


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def phone(browser: Browser, contexts: list[BrowserContext]) -> BrowserContext:
    context = browser.new_context(viewport=PHONE)
    contexts.append(context)
    return context


def quiz(*texts: str, seconds: int, intermission: int = 3, **rules: object) -> Contest:
    """A contest of single-choice questions with these texts (choice A is right)."""
    contest = contest_with_questions(
        questions=len(texts), intermission_seconds=intermission, **rules
    )
    contest.questions.update(time_limit_seconds=seconds)
    for question, text in zip(contest.ordered_questions(), texts, strict=True):
        question.text = text
        question.save(update_fields=["text"])
    return contest


def two_question_contest(*, seconds: int, intermission: int = 3) -> Contest:
    return quiz(FIRST, SECOND, seconds=seconds, intermission=intermission)


def signed_in_player(context: BrowserContext, site: Site, display_name: str) -> PlayerPage:
    user = UserFactory(display_name=display_name)
    player = PlayerPage(context, site.url, display_name).open()
    player.sign_in(user.username, PASSWORD)
    return player


def host_screen(
    browser: Browser, contexts: list[BrowserContext], site: Site, organizer, contest: Contest
) -> HostPage:
    context = browser.new_context(viewport=BIG_SCREEN)
    contexts.append(context)
    host = HostPage(context, site.url)
    host.sign_in_to_admin(organizer.username, PASSWORD)
    host.open_from_home(contest.title)
    return host


def players_in(
    browser: Browser, contexts: list[BrowserContext], site: Site, contest: Contest, *names: str
) -> list[PlayerPage]:
    players = [signed_in_player(phone(browser, contexts), site, name) for name in names]
    for player in players:
        player.join(contest.join_code)
    return players


def test_two_players_play_a_contest_to_the_end_watched_by_the_host(
    browser, site, contexts, organizer
):
    contest = two_question_contest(seconds=8)
    host_context = browser.new_context(viewport=BIG_SCREEN)
    contexts.append(host_context)
    host = HostPage(host_context, site.url)
    host.sign_in_to_admin(organizer.username, PASSWORD)
    host.page.get_by_role("link", name="View site").click()
    checkpoint(host.page, "home")
    host.open_from_home(contest.title)
    checkpoint(host.page, "host-1-lobby")

    ada_context = phone(browser, contexts)
    ada = PlayerPage(ada_context, site.url, "Ada").open()
    checkpoint(ada.page, "play-1-sign-in")
    ada.sign_in(UserFactory(display_name="Ada").username, PASSWORD)
    checkpoint(ada.page, "play-2-join")
    ada.join(host.join_code())
    # Bo's phone clock runs 5 s ahead: the countdowns must still agree.
    bo_context = phone(browser, contexts)
    clock_ahead(bo_context, 5)
    bo = signed_in_player(bo_context, site, "Bo")
    bo.join(host.join_code())
    checkpoint(ada.page, "play-3-lobby")
    expect(host.player_names()).to_have_text(["Ada", "Bo"])

    host.control("Start")
    for player in (ada, bo):
        player.wait_for_question(FIRST)
    ada_seconds, bo_seconds = ada.seconds_left(), bo.seconds_left()
    assert 0 < ada_seconds <= 8
    assert abs(ada_seconds - bo_seconds) <= 1, (ada_seconds, bo_seconds)
    checkpoint(ada.page, "play-4-question")
    checkpoint(host.page, "host-2-question")

    ada.answer("A")
    bo.answer("B")
    expect(ada.answer_status()).to_contain_text("Answer received")
    expect(bo.answer_status()).to_contain_text("Answer received")
    checkpoint(ada.page, "play-5-answered")

    expect(ada.result_title()).to_have_text("Correct!", timeout=WAIT_MS)
    expect(bo.result_title()).to_have_text("Not this time")
    expect(host.stats()).to_have_text("1 of 2 answers right (50%)")
    expect(ada.board_names()).to_have_text(["Ada (you)", "Bo"])
    expect(ada.page.locator("#board [aria-current=true] .board-name")).to_have_text("Ada (you)")
    expect(bo.page.locator("#board [aria-current=true] .board-name")).to_have_text("Bo (you)")
    checkpoint(ada.page, "play-6-result")
    checkpoint(bo.page, "play-6-result-wrong")
    checkpoint(host.page, "host-3-stats")

    for player in (ada, bo):
        player.wait_for_question(SECOND)
    host.control("Pause")
    for player in (ada, bo):
        expect(player.page.locator(".question .paused")).to_be_visible()
    checkpoint(host.page, "host-4-paused")
    checkpoint(bo.page, "play-7-paused")
    host.control("Resume")
    expect(bo.page.locator(".question .paused")).to_have_count(0)
    ada.answer("A")
    # Bo plays with the keyboard alone: the question has the focus, its answers follow.
    bo.page.keyboard.press("Tab")
    bo.page.keyboard.press("Tab")
    expect(bo.page.get_by_role("button", name="B", exact=True)).to_be_focused()
    bo.page.keyboard.press("Enter")
    expect(bo.answer_status()).to_contain_text("Answer received")
    # Everyone has answered: the host closes the question without waiting.
    host.control("Skip question")

    expect(ada.final_names()).to_have_text(["Ada (you)", "Bo"], timeout=WAIT_MS)
    expect(bo.final_names()).to_have_text(["Ada", "Bo (you)"])
    expect(ada.page.get_by_text("You finished 1st of 2")).to_be_visible()
    expect(bo.page.get_by_text("You finished 2nd of 2")).to_be_visible()
    expect(host.podium()).to_have_text(["Ada", "Bo"])
    checkpoint(ada.page, "play-8-final")
    checkpoint(host.page, "host-5-podium")
    assert ada.errors == bo.errors == host.errors == []
    # The host watched as a viewer: never a player of its own contest.
    assert not contest.participants.filter(user=organizer).exists()


def test_a_player_whose_socket_drops_mid_question_comes_back_and_answers(browser, site, contexts):
    contest = two_question_contest(seconds=8, intermission=1)
    player = signed_in_player(phone(browser, contexts), site, "Cut")
    player.join(contest.join_code)
    contest_start(contest_id=contest.pk)
    player.wait_for_question(FIRST)

    player.cut_socket()

    expect(player.page.locator("#connection")).to_contain_text("Connection lost")
    checkpoint(player.page, "play-9-reconnecting")
    expect(player.page.locator("#connection")).to_be_empty(timeout=WAIT_MS)
    second = player.sockets.events_sent(1)
    assert second[0]["event"] == "resync", second
    assert second[0]["data"]["lastSeq"] >= 2 and second[0]["data"]["epoch"]
    player.answer("A")
    expect(player.answer_status()).to_contain_text("Answer received")
    expect(player.result_title()).to_have_text("Correct!", timeout=WAIT_MS)
    assert player.errors == []


def test_a_player_whose_token_expired_mid_contest_refreshes_it_and_goes_on(browser, site, contexts):
    contest = two_question_contest(seconds=20, intermission=1)
    player = signed_in_player(phone(browser, contexts), site, "Late")
    player.join(contest.join_code)
    contest_start(contest_id=contest.pk)
    player.wait_for_question(FIRST)
    expired_token = player.access_token()
    wait_until_past(jwt_expiry(expired_token))

    with player.page.expect_request("**/api/auth/token/refresh/") as refresh:
        player.cut_socket()
    assert refresh.value.response().status == 200

    player.answer("A")
    expect(player.answer_status()).to_contain_text("Answer received")
    assert player.access_token() != expired_token
    # The first socket after the cut was refused as expired; the next one resynced.
    assert [m["event"] for m in player.sockets.events_sent(2)][:1] == ["resync"]
    assert player.errors == []


def test_refusals_are_said_in_words_a_player_understands(browser, site, contexts):
    contest = contest_with_questions(questions=1)
    user = UserFactory(display_name="Busy")
    player = PlayerPage(phone(browser, contexts), site.url, "Busy").open()
    player.page.get_by_role("textbox", name="Username").fill(user.username)
    player.page.get_by_role("textbox", name="Password").fill("not-the-password")
    player.page.get_by_role("button", name="Sign in").click()
    expect(player.page.get_by_role("alert")).to_have_text("Wrong username or password.")
    player.sign_in(user.username, PASSWORD)
    player.page.get_by_label("Join code").fill("NOPE42")
    player.page.get_by_role("button", name="Join").click()
    expect(player.page.locator("#join-error")).to_have_text(
        "No contest has the join code NOPE42. Check it on the big screen."
    )
    checkpoint(player.page, "play-10-join-refused")

    # The user's other tabs and devices hold every connection slot the server allows.
    token = access_token_for(user)
    with ExitStack() as others:
        for _ in range(settings.WS_MAX_CONNECTIONS_PER_USER):
            others.enter_context(connect(f"{site.server.ws_url}?token={token}"))
        player.page.get_by_label("Join code").fill(contest.join_code)
        player.page.get_by_role("button", name="Join").click()
        expect(player.page.locator("#game-alert")).to_contain_text(
            "You are connected from too many tabs or devices. Close one of them, then try again."
        )
        checkpoint(player.page, "play-11-too-many-connections")
    player.page.get_by_role("button", name="Try again").click()
    expect(player.page.get_by_role("heading", name="You're in!")).to_be_visible()
    assert player.errors == []


def test_a_gap_in_the_room_events_makes_the_page_resync(browser, site, contexts):
    contest = contest_with_questions(questions=1)
    player = signed_in_player(phone(browser, contexts), site, "Gap")
    player.join(contest.join_code)
    epoch, last_seq = player.page.evaluate(
        "() => [window.quiz.connection.epoch, window.quiz.connection.lastSeq]"
    )

    # A room event from the future, as if those before it had been lost on the way.
    player.page.evaluate(
        """([epoch, seq]) => {
            const connection = window.quiz.connection;
            const event = {event: "leaderboard_update", data: {top: [], totalParticipants: 9},
                           seq, epoch};
            connection.received(connection.socket, {data: JSON.stringify(event)});
        }""",
        [epoch, last_seq + 3],
    )

    # The server's reply (resync_complete) settles it; the event that did not fit was
    # not applied.
    player.page.wait_for_function("() => !window.quiz.connection.resyncPending")
    resyncs = [m for m in player.sockets.events_sent(0) if m["event"] == "resync"]
    assert [m["data"] for m in resyncs] == [
        {"contestId": str(contest.pk), "epoch": epoch, "lastSeq": last_seq}
    ]
    expect(player.page.locator(".facts dd").first).to_have_text("1")


def test_a_player_whose_sign_in_is_no_longer_valid_is_asked_to_sign_in_again(
    browser, site, contexts
):
    contest = contest_with_questions(questions=1)
    player = signed_in_player(phone(browser, contexts), site, "Gone")
    player.join(contest.join_code)
    player.page.evaluate(
        """() => {
            const stored = JSON.parse(sessionStorage.getItem("quiz.session"));
            stored.access = stored.refresh = "not-a-token";
            sessionStorage.setItem("quiz.session", JSON.stringify(stored));
        }"""
    )

    player.page.reload()

    expect(player.page.locator("#auth-notice")).to_have_text(
        "Your sign-in is no longer valid. Please sign in again."
    )
    expect(player.page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert player.sockets.closes, "the refused socket closed"
    assert player.errors == []


def test_the_host_removes_a_player_mid_question_who_is_told_so_and_stays_out(
    browser, site, contexts, organizer
):
    contest = two_question_contest(seconds=20)
    host = host_screen(browser, contexts, site, organizer, contest)
    ada, bo = players_in(browser, contexts, site, contest, "Ada", "Bo")
    expect(host.player_names()).to_have_text(["Ada", "Bo"])
    expect(host.page.get_by_role("button", name="Remove Bo")).to_be_visible()
    checkpoint(host.page, "host-6-players")
    host.control("Start")
    for player in (ada, bo):
        player.wait_for_question(FIRST)
    ada.answer("A")
    expect(ada.answer_status()).to_have_text(NO_GRADE_YET)

    question = host.remove_player("Bo")

    assert question.startswith("Remove Bo from the contest?"), question
    expect(bo.page.locator("#game-alert p")).to_have_text(
        "An organizer removed you from this contest, so you cannot join it again."
    )
    expect(bo.page.get_by_role("button", name="Join another contest")).to_be_visible()
    expect(bo.page.locator("#stage .question")).to_have_count(0)
    # Stopped for good, with no reconnection pending: the one socket it ever opened.
    assert bo.page.evaluate("() => window.quiz.connection.stopped") is True
    assert len(bo.sockets.sockets) == 1
    expect(host.player_names()).to_have_text(["Ada"])
    expect(host.page.locator("#player-count")).to_have_text("1")
    expect(host.page.get_by_role("button", name="Remove Ada")).to_be_focused()
    checkpoint(bo.page, "play-12-removed")
    checkpoint(host.page, "host-7-player-removed")

    host.accept_next_confirmation()
    host.control("End contest")
    expect(host.podium()).to_have_text(["Ada"], timeout=WAIT_MS)
    expect(ada.page.get_by_text("You finished 1st of 1")).to_be_visible()
    expect(ada.final_names()).to_have_text(["Ada (you)"])
    assert ada.errors == bo.errors == host.errors == []


def test_players_learn_their_grades_when_the_question_closes_and_see_the_board_freeze(
    browser, site, contexts, organizer
):
    contest = quiz(
        FIRST,
        SECOND,
        THIRD,
        seconds=20,
        intermission=2,
        close_when_all_answered=True,
        leaderboard_freeze_last=2,
    )
    host = host_screen(browser, contexts, site, organizer, contest)
    ada, bo = players_in(browser, contexts, site, contest, "Ada", "Bo")
    contest_start(contest_id=contest.pk)

    ada.wait_for_question(FIRST)
    bo.wait_for_question(FIRST)
    bo.answer("A")
    # Right, but not told so while Ada has still to answer: the question is open.
    expect(bo.answer_status()).to_have_text(NO_GRADE_YET)
    expect(bo.result_title()).to_have_count(0)
    checkpoint(bo.page, "play-13-answer-received")
    ada.answer("B")
    # Everyone answered: the question closes, and the grades come with its close.
    expect(bo.result_title()).to_have_text("Correct!")
    expect(ada.result_title()).to_have_text("Not this time")
    expect(ada.board_names()).to_have_text(["Bo", "Ada (you)"])

    # The last two questions freeze the board: Ada overtakes Bo, but nobody sees it yet.
    for question in (SECOND, THIRD):
        ada.wait_for_question(question)
        bo.wait_for_question(question)
        if question == SECOND:
            expect(host.page.locator("#board-note")).to_have_text("Leaderboard frozen")
            checkpoint(host.page, "host-8-frozen")
        ada.answer("A")
        bo.answer("B")
        if question == SECOND:
            expect(ada.result_title()).to_have_text("Correct!")
            expect(ada.page.locator("#board-note")).to_have_text(FROZEN)
            expect(ada.board_names()).to_have_text(["Bo", "Ada (you)"])
            # Her own total is hers to know; her place on the frozen board would mislead.
            expect(ada.page.locator("#you-line")).not_to_contain_text(" of ")
            checkpoint(ada.page, "play-14-frozen")

    expect(ada.final_names()).to_have_text(["Ada (you)", "Bo"], timeout=WAIT_MS)
    expect(bo.page.get_by_text("You finished 2nd of 2")).to_be_visible()
    expect(host.podium()).to_have_text(["Ada", "Bo"])
    assert ada.errors == bo.errors == host.errors == []


def test_a_hidden_leaderboard_shows_players_only_the_final_standings(browser, site, contexts):
    contest = quiz(
        FIRST,
        SECOND,
        seconds=20,
        intermission=2,
        close_when_all_answered=True,
        leaderboard_visible=False,
    )
    (solo,) = players_in(browser, contexts, site, contest, "Solo")
    expect(solo.page.get_by_text("The leaderboard stays hidden until the end.")).to_be_visible()
    contest_start(contest_id=contest.pk)

    solo.wait_for_question(FIRST)
    solo.answer("A")
    expect(solo.result_title()).to_have_text("Correct!")
    expect(solo.page.locator("#board-section")).to_be_hidden()
    expect(solo.page.locator("#you-line")).to_have_text(re.compile(r"^[\d,]+ points$"))
    checkpoint(solo.page, "play-15-hidden-board")
    solo.wait_for_question(SECOND)
    solo.answer("A")

    expect(solo.final_names()).to_have_text(["Solo (you)"], timeout=WAIT_MS)
    expect(solo.page.get_by_text("You finished 1st of 1")).to_be_visible()
    assert solo.errors == []
