"""Driving the pages in Debian's Chromium: the site under test, page objects for a player
and the host, the accessibility check and screenshots."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Dialog, Locator, Page, WebSocket, expect

from tests.servers import ROOT

INSTALL_HINT = (
    "The browser tests need Debian's Chromium: apt-get install -y chromium "
    "(no downloaded browser builds)."
)
# Headless, and nothing that calls home: this machine's closed network refuses it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}
BIG_SCREEN = {"width": 1920, "height": 1080}
# Long enough for a question to open on a busy 2-core machine, short enough to fail fast.
WAIT_MS = 20_000
BLOCKING_IMPACTS = {"serious", "critical"}

_axe = Axe()


def checkpoint(page: Page, name: str) -> None:
    """Screenshot the page under test-artifacts/ and check it with axe-core: no serious or
    critical violation."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    results = _axe.run(page)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{name}: accessibility violations\n" + "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"])
        for v in blocking
    )


@dataclass
class SocketLog:
    """Every WebSocket a page opened, with the JSON messages it sent and how it closed."""

    sockets: list[WebSocket] = field(default_factory=list)
    sent: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)

    def watch(self, page: Page) -> SocketLog:
        page.on("websocket", self._opened)
        return self

    def _opened(self, socket: WebSocket) -> None:
        index = len(self.sockets)
        self.sockets.append(socket)
        socket.on("framesent", lambda payload: self._sent(index, payload))
        socket.on("close", lambda _: self.closes.append(index))

    def _sent(self, index: int, payload: str | bytes) -> None:
        if isinstance(payload, str):
            self.sent.append((index, json.loads(payload)))

    def events_sent(self, socket_index: int) -> list[dict[str, Any]]:
        return [message for index, message in self.sent if index == socket_index]


def jwt_expiry(token: str) -> float:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]


def wait_until_past(instant: float) -> None:
    """Wait for a known instant of the wall clock (a token's expiry), not for an event."""
    time.sleep(max(0.0, instant - time.time()) + 0.25)


class PlayerPage:
    """/play/ in a phone-sized browser context, driven as a person would."""

    def __init__(self, context: BrowserContext, base_url: str, name: str) -> None:
        self.context = context
        self.page = context.new_page()
        self.base_url = base_url
        self.name = name
        self.sockets = SocketLog().watch(self.page)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self) -> PlayerPage:
        self.page.goto(f"{self.base_url}/play/")
        expect(self.page.get_by_role("heading", name="Sign in")).to_be_visible()
        return self

    def sign_in(self, username: str, password: str) -> None:
        self.page.get_by_role("textbox", name="Username").fill(username)
        self.page.get_by_role("textbox", name="Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_label("Join code")).to_be_visible()

    def join(self, code: str) -> None:
        self.page.get_by_label("Join code").fill(code)
        self.page.get_by_role("button", name="Join").click()
        expect(self.page.get_by_role("heading", name="You're in!")).to_be_visible(timeout=WAIT_MS)

    def question(self) -> Locator:
        return self.page.locator(".question .question-text")

    def wait_for_question(self, text: str) -> None:
        expect(self.question()).to_have_text(text, timeout=WAIT_MS)

    def seconds_left(self) -> int:
        value = self.page.locator(".question .countdown-value").inner_text()
        return int(value)

    def answer(self, choice: str) -> None:
        self.page.get_by_role("button", name=choice, exact=True).click()

    def answer_status(self) -> Locator:
        return self.page.locator("#answer-status")

    def result_title(self) -> Locator:
        return self.page.locator(".result .result-title")

    def board_names(self) -> Locator:
        return self.page.locator("#board .board-name")

    def final_names(self) -> Locator:
        return self.page.locator(".final .board-name")

    def access_token(self) -> str:
        stored = self.page.evaluate("() => sessionStorage.getItem('quiz.session')")
        return json.loads(stored)["access"]

    def cut_socket(self) -> None:
        """Close the page's socket from the page, as a network drop would: the client did
        not ask for it, so it must come back by itself."""
        self.page.evaluate("() => window.quiz.connection.socket.close(4000, 'cut by the test')")


class HostPage:
    """/host/<id>/ on a big screen, after signing in through the admin's login form."""

    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.page = context.new_page()
        self.base_url = base_url
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def sign_in_to_admin(self, username: str, password: str) -> None:
        self.page.goto(f"{self.base_url}/admin/login/?next=/admin/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        expect(self.page.get_by_role("link", name="View site")).to_be_visible()

    def open_from_home(self, title: str) -> None:
        """The way an organizer finds it: the home page lists host screens for staff."""
        self.page.goto(f"{self.base_url}/")
        self.page.get_by_role("link", name=title, exact=True).click()
        expect(self.page.locator("#connection")).to_have_text("Live", timeout=WAIT_MS)

    def join_code(self) -> str:
        return self.page.locator("#join-code").inner_text()

    def control(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def accept_next_confirmation(self) -> list[str]:
        """Say OK to the page's next confirm(); the list gets its question. (Playwright
        dismisses dialogs nobody handles, which would cancel the action.)"""
        asked: list[str] = []

        def accept(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept()

        self.page.once("dialog", accept)
        return asked

    def remove_player(self, name: str) -> str:
        """Press "Remove <name>" and confirm; returns the question the page asked."""
        asked = self.accept_next_confirmation()
        self.page.get_by_role("button", name=f"Remove {name}", exact=True).click()
        assert asked, "the removal was not confirmed first"
        return asked[0]

    def player_names(self) -> Locator:
        return self.page.locator("#player-names .player-name")

    def board_names(self) -> Locator:
        return self.page.locator("#board .board-name")

    def stats(self) -> Locator:
        return self.page.locator(".stats-panel .stats")

    def podium(self) -> Locator:
        return self.page.locator(".podium .podium-name")


def clock_ahead(context: BrowserContext, seconds: float) -> None:
    """This context's device clock runs `seconds` ahead of the real one."""
    shift_ms = seconds * 1000
    context.add_init_script(
        f"(() => {{ const real = Date.now.bind(Date); Date.now = () => real() + {shift_ms}; }})()"
    )
