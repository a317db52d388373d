"""Regenerate docs/screenshots/pages.png: the host screen and a player's phone, side by side,
during the demo contest.

Against a fresh `make run` (seed_demo's accounts, the demo contest still upcoming; it is
played, so run `manage.py seed_demo --reset` afterwards):

    .venv/bin/python scripts/readme_screenshots.py [http://127.0.0.1:8000]
"""

from __future__ import annotations

import base64
import shutil
import sys
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "screenshots" / "pages.png"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


def player(page: Page, base: str, username: str, code: str) -> None:
    page.goto(f"{base}/play/")
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill("play-the-quiz-42")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Join code").fill(code)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("heading", name="You're in!")).to_be_visible()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def main(base: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        expect.set_options(timeout=TIMEOUT_MS)
        host = browser.new_context(viewport={"width": 1600, "height": 900}).new_page()
        host.goto(f"{base}/admin/login/?next=/")
        host.get_by_label("Username").fill("organizer")
        host.get_by_label("Password").fill("run-the-show-42")
        host.get_by_role("button", name="Log in").click()
        host.get_by_role("link", name="Demo quiz").click()
        expect(host.locator("#connection")).to_have_text("Live")
        code = host.locator("#join-code").inner_text()
        phones = []
        for username in ("alice", "bob", "carol"):
            page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            player(page, base, username, code)
            phones.append(page)
        host.get_by_role("button", name="Start").click()
        for page, choice in zip(phones, ["Mars", "Venus", "Mars"], strict=True):
            page.get_by_role("button", name=choice, exact=True).click()
        host.get_by_role("button", name="Skip question").click()
        expect(phones[0].locator(".result-title")).to_have_text("Correct!")
        expect(host.locator(".host-board .board-row")).to_have_count(3)
        expect(phones[0].locator("#board .board-row")).to_have_count(3)
        expect(host.locator("#player-names li")).to_have_count(3)
        shots = [host.screenshot(), phones[0].screenshot()]

        sheet = browser.new_context(viewport={"width": 2120, "height": 960}).new_page()
        sheet.set_content(
            "<body style='margin:0;background:#e9e8f3;display:flex;gap:30px;padding:30px;"
            "align-items:flex-start'>"
            f"<img src='{data_uri(shots[0])}' style='width:1600px;border-radius:8px'>"
            f"<img src='{data_uri(shots[1])}' style='width:390px;border-radius:24px;"
            "border:10px solid #1b1f2a'></body>"
        )
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        sheet.screenshot(path=str(OUTPUT))
        browser.close()
    print(f"Wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
